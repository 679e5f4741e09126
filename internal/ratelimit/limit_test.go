package ratelimit

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestParseLimit(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		in   string
		want Limit
		str  string
	}{
		{"20/min", Limit{20, time.Minute}, "20/min"},
		{"5/h", Limit{5, time.Hour}, "5/h"},
		{"1000/s", Limit{1000, time.Second}, "1000/s"},
		{" 3 / hour ", Limit{3, time.Hour}, "3/h"},
		{"7/DAY", Limit{7, 24 * time.Hour}, "7/day"},
		{"10/15m", Limit{10, 15 * time.Minute}, "10/15m0s"},
		{"1/m", Limit{1, time.Minute}, "1/min"},
		{"off", Limit{}, "off"},
		{"0", Limit{}, "off"},
	} {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			got, err := ParseLimit(tt.in)
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
			require.Equal(t, tt.str, got.String())
			again, err := ParseLimit(got.String())
			require.NoError(t, err)
			require.Equal(t, got, again, "String reads back")
		})
	}
}

func TestParseLimitRejects(t *testing.T) {
	t.Parallel()
	for _, in := range []string{"", "20", "20/", "/min", "x/min", "-1/min", "0/min", "20/fortnight",
		"20/500ms", "20/-1m", "2000000/s", "1.5/min", "20/min/s"} {
		t.Run(in, func(t *testing.T) {
			t.Parallel()
			_, err := ParseLimit(in)
			require.Error(t, err)
		})
	}
}

func TestPolicyEnvVar(t *testing.T) {
	t.Parallel()
	require.Equal(t, "GROUNDWORK_RATE_LOGIN_IP", LoginIP.EnvVar())
	require.Equal(t, "GROUNDWORK_RATE_API_KEY", APIKey.EnvVar())
	defaults := DefaultPolicies()
	for _, p := range AllPolicies {
		require.False(t, defaults[p].Unlimited(), "%s has a default limit", p)
	}
	require.Len(t, defaults, len(AllPolicies))
}
