package exports

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestNextRun(t *testing.T) {
	t.Parallel()
	paris, err := time.LoadLocation("Europe/Paris")
	require.NoError(t, err)
	utc := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339, s)
		require.NoError(t, err)
		return v
	}
	for _, tc := range []struct {
		name      string
		from      string
		frequency string
		weekday   time.Weekday
		hour      int
		loc       *time.Location
		want      string
	}{
		{"daily, later today", "2026-12-05T08:00:00Z", FrequencyDaily, 0, 9, time.UTC, "2026-12-05T09:00:00Z"},
		{"daily, at the hour: tomorrow", "2026-12-05T09:00:00Z", FrequencyDaily, 0, 9, time.UTC, "2026-12-06T09:00:00Z"},
		{"daily, past the hour", "2026-12-05T23:30:00Z", FrequencyDaily, 0, 0, time.UTC, "2026-12-06T00:00:00Z"},
		{"weekly Tuesday from a Saturday", "2026-12-05T09:00:00Z", FrequencyWeekly, time.Tuesday, 6, time.UTC, "2026-12-08T06:00:00Z"},
		{"weekly Tuesday, on Tuesday after the hour", "2026-12-08T07:00:00Z", FrequencyWeekly, time.Tuesday, 6, time.UTC, "2026-12-15T06:00:00Z"},
		{"weekly in Paris, winter (UTC+1)", "2026-12-05T09:00:00Z", FrequencyWeekly, time.Tuesday, 6, paris, "2026-12-08T05:00:00Z"},
		{"daily in Paris, summer (UTC+2)", "2026-07-01T12:00:00Z", FrequencyDaily, 0, 6, paris, "2026-07-02T04:00:00Z"},
		{"daily in Paris across the March change", "2026-03-28T06:00:00Z", FrequencyDaily, 0, 6, paris, "2026-03-29T04:00:00Z"},
	} {
		got := nextRun(utc(tc.from), tc.frequency, tc.weekday, tc.hour, tc.loc)
		require.Equal(t, utc(tc.want), got, tc.name)
	}
}
