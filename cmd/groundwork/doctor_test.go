package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestDoctorReadsItsFiles: govulncheck's JSON stream (only findings whose
// trace starts in a function count as called), the load-test summary at
// GROUNDWORK_LOADTEST_SUMMARY (missing: none, malformed: an error), the
// sentry-test record, and the pending-migration lists.
func TestDoctorReadsItsFiles(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	require.Nil(t, readVulns(dir), "no result yet")
	stream := `{"config":{"protocol_version":"v1.0.0"}}
{"osv":{"id":"GO-2026-0001"}}
{"finding":{"osv":"GO-2026-0001","trace":[{"module":"m","package":"m/p","function":"Parse"}]}}
{"finding":{"osv":"GO-2026-0001","trace":[{"module":"m","package":"m/p","function":"Parse"}]}}
{"finding":{"osv":"GO-2026-0002","trace":[{"module":"m","package":"m/q"}]}}
`
	require.NoError(t, os.WriteFile(filepath.Join(dir, govulncheckFile), []byte(stream), 0o600))
	v := readVulns(dir)
	require.NotNil(t, v)
	require.Equal(t, []string{"GO-2026-0001"}, v.Called, "imported but not called is not listed")

	env := map[string]string{}
	getenv := func(k string) string { return env[k] }
	require.Equal(t, filepath.Join("var", "loadtest", "summary.json"), loadTestSummaryPath(getenv))
	env["GROUNDWORK_LOADTEST_SUMMARY"] = filepath.Join(dir, "summary.json")
	lt, errText := readLoadTest(getenv)
	require.Nil(t, lt)
	require.Empty(t, errText, "no summary is no load test, not an error")
	require.NoError(t, os.WriteFile(env["GROUNDWORK_LOADTEST_SUMMARY"], []byte(`{"finished_at":"2026-12-01T10:00:00Z",
		"base_url":"https://staging.example.com","break_point_rps":420.5,"headroom_x":2.5,"p95_slo_ms":300,"error_budget":0.001}`), 0o600))
	lt, errText = readLoadTest(getenv)
	require.Empty(t, errText)
	require.Equal(t, 420.5, lt.BreakPointRPS)
	require.Equal(t, 2.5, lt.HeadroomX)
	require.NoError(t, os.WriteFile(env["GROUNDWORK_LOADTEST_SUMMARY"], []byte(`{`), 0o600))
	_, errText = readLoadTest(getenv)
	require.NotEmpty(t, errText)

	require.Nil(t, readSentryTest(dir))
	require.NoError(t, writeSentryTest(dir))
	require.NotNil(t, readSentryTest(dir))
	fresh := filepath.Join(dir, "fresh", "var")
	require.NoError(t, writeSentryTest(fresh))
	st, err := os.Stat(fresh)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o755), st.Mode().Perm(), "a data dir it makes stays reachable by the cluster's user")

	pending, unsafe := pendingMigrations(29)
	require.Contains(t, pending, "00030_operators.sql")
	require.Empty(t, unsafe, "both are marked backward-compatible")
	pending, unsafe = pendingMigrations(0)
	require.Greater(t, len(pending), 25)
	require.NotEmpty(t, unsafe, "some early migrations carry no marker")
}
