package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestLoadtestAgainstServe runs a very short load test against a serve in
// this process: it prepares its organisation, key and contacts, runs two
// tiny steps, writes the report and the summary, and removes its data.
func TestLoadtestAgainstServe(t *testing.T) {
	t.Parallel()
	dir := dataDir(t)
	env := map[string]string{"GROUNDWORK_DATA_DIR": dir, "PORT": "0",
		"GROUNDWORK_RATE_API_KEY": "off", "GROUNDWORK_RATE_SEARCH": "off", "GROUNDWORK_RATE_SEARCH_ORG": "off"}
	s := startServe(t, env)
	waitReady(t, s.url)

	// What the load test reads besides the pool: lock waits and active sessions.
	_, metrics := get(t, s.url+"/metrics")
	require.Contains(t, metrics, "\ngroundwork_db_lock_waiting 0\n")
	require.Regexp(t, `\ngroundwork_db_active \d+\n`, metrics)

	summaryPath := filepath.Join(dir, "elsewhere", "summary.json")
	ltEnv := map[string]string{"GROUNDWORK_DATA_DIR": dir, "GROUNDWORK_LOADTEST_SUMMARY": summaryPath}
	out, stderr, err := runCmd(t, ltEnv, "loadtest", "-base-url", s.url, "-start", "2", "-step", "2", "-max", "4",
		"-step-duration", "1s", "-seed", "5", "-slo", "10s", "-current-peak-rps", "0.5")
	require.NoError(t, err, "stderr:\n%s", stderr)
	require.Contains(t, out, "break point: above 4 req/s")
	require.Contains(t, out, "fine to at least 8× current traffic")

	require.FileExists(t, filepath.Join(dir, "loadtest", "report.html"))
	b, err := os.ReadFile(summaryPath)
	require.NoError(t, err)
	var sum struct {
		FinishedAt  string  `json:"finished_at"`
		BaseURL     string  `json:"base_url"`
		BreakPoint  float64 `json:"break_point_rps"`
		HeadroomX   float64 `json:"headroom_x"`
		P95SLOMs    float64 `json:"p95_slo_ms"`
		ErrorBudget float64 `json:"error_budget"`
		CleanedUp   bool    `json:"cleaned_up"`
		Steps       []struct {
			Requests int `json:"requests"`
			Failures int `json:"failures"`
			Usage    *struct {
				PoolAcquires float64 `json:"pool_acquires"`
			} `json:"usage"`
		} `json:"steps"`
	}
	require.NoError(t, json.Unmarshal(b, &sum), "%s", b)
	require.NotEmpty(t, sum.FinishedAt)
	require.Equal(t, s.url, sum.BaseURL)
	require.Equal(t, 4.0, sum.BreakPoint)
	require.Equal(t, 8.0, sum.HeadroomX)
	require.Equal(t, 10000.0, sum.P95SLOMs)
	require.Equal(t, 0.01, sum.ErrorBudget)
	require.True(t, sum.CleanedUp)
	require.Len(t, sum.Steps, 2)
	for _, st := range sum.Steps {
		require.Positive(t, st.Requests)
		require.Zero(t, st.Failures, "%s", b)
		require.NotNil(t, st.Usage, "the target's metrics were read")
		require.Positive(t, st.Usage.PoolAcquires)
	}

	// The test organisation and user are gone.
	orgs, _, err := runCmd(t, env, "org", "list")
	require.NoError(t, err)
	require.NotContains(t, orgs, "load-test")
	users, _, err := runCmd(t, env, "user", "list")
	require.NoError(t, err)
	require.NotContains(t, users, "loadtest-")

	// A target off this machine is refused before anything is sent.
	_, _, err = runCmd(t, ltEnv, "loadtest", "-base-url", "http://192.0.2.1:1", "-step-duration", "1s")
	require.ErrorContains(t, err, "192.0.2.1:1 is not on this machine")
}
