package main

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/groundwork-dev/groundwork/internal/errtrack/errtracktest"
)

func TestSentryTestAccepted(t *testing.T) {
	t.Parallel()
	in := errtracktest.New(t)
	dir := t.TempDir() // where the success is recorded (not the package's var/)
	stdout, _, err := runCmd(t, map[string]string{"SENTRY_DSN": in.DSN(), "GROUNDWORK_ENV": "development",
		"GROUNDWORK_DATA_DIR": dir}, "sentry-test")
	require.NoError(t, err)
	require.Contains(t, stdout, "Sentry accepted the test event (environment development, release "+version+")")
	require.NotNil(t, readSentryTest(dir), "the success is recorded for doctor")

	evs := in.WaitEvents(t, 1)
	require.Len(t, evs, 1, "exactly one test event")
	require.Contains(t, evs[0].Message, "sentry-test")
	require.Equal(t, version, evs[0].Release)
	require.Equal(t, "development", evs[0].Environment)
}

func TestSentryTestRefused(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		status int
		want   string
	}{
		{http.StatusTooManyRequests, "HTTP 429 Too Many Requests"},
		{http.StatusInternalServerError, "HTTP 500 Internal Server Error"},
		{http.StatusUnauthorized, "HTTP 401 Unauthorized"},
	} {
		t.Run(http.StatusText(tt.status), func(t *testing.T) {
			t.Parallel()
			in := errtracktest.New(t)
			in.SetStatus(tt.status)
			stdout, _, err := runCmd(t, map[string]string{"SENTRY_DSN": in.DSN()}, "sentry-test")
			require.Error(t, err)
			require.Empty(t, stdout)
			msg := err.Error()
			require.True(t, strings.HasPrefix(msg, "sentry-test: the Sentry ingest at 127.0.0.1:"), msg)
			require.Contains(t, msg, "refused the test event: "+tt.want)
			require.NotContains(t, msg, "\n")
			require.Len(t, in.Raw(), 1, "one attempt, no retries")
		})
	}
}

func TestSentryTestUnreachable(t *testing.T) {
	t.Parallel()
	in := errtracktest.New(t)
	dsn := in.DSN()
	in.Close()
	_, _, err := runCmd(t, map[string]string{"SENTRY_DSN": dsn}, "sentry-test")
	require.ErrorContains(t, err, "sentry-test: send test event to 127.0.0.1:")
	require.ErrorContains(t, err, "connection refused")
	require.NotContains(t, err.Error(), "\n")
}

func TestSentryTestWithoutDSN(t *testing.T) {
	t.Parallel()
	_, _, err := runCmd(t, map[string]string{}, "sentry-test")
	require.EqualError(t, err, "sentry-test: SENTRY_DSN is not set, so error tracking is off; set it to your Sentry project's DSN")
}

func TestSentryTestInvalidDSN(t *testing.T) {
	t.Parallel()
	_, _, err := runCmd(t, map[string]string{"SENTRY_DSN": "https://pub:s3cr3t@/1"}, "sentry-test")
	require.ErrorContains(t, err, "SENTRY_DSN: not a Sentry DSN")
	require.NotContains(t, err.Error(), "s3cr3t")
}
