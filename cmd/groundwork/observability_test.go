package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// observabilityDir holds the shipped Prometheus, Alertmanager, Grafana and
// blackbox-exporter files.
const observabilityDir = "../../deploy/observability"

// observabilityTool returns the path of a Prometheus tool (Debian's
// prometheus, prometheus-alertmanager, prometheus-blackbox-exporter
// packages, installed by scripts/install-deps.sh). Missing, it skips the
// test, except under CI=true where it fails it.
func observabilityTool(t *testing.T, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is missing: run scripts/install-deps.sh", name)
		}
		t.Skipf("%s is missing (run scripts/install-deps.sh)", name)
	}
	return path
}

// runTool runs a tool in dir and fails the test with its output on error.
func runTool(t *testing.T, dir, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, observabilityTool(t, name), args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s %s:\n%s", name, strings.Join(args, " "), out)
	return string(out)
}

// TestObservabilityConfigsCheck validates the shipped files with their own
// tools and runs the alert rules' unit tests (alerts_test.yml).
func TestObservabilityConfigsCheck(t *testing.T) {
	t.Parallel()
	out := runTool(t, observabilityDir, "promtool", "test", "rules", "alerts_test.yml")
	require.Contains(t, out, "SUCCESS")
	runTool(t, observabilityDir, "promtool", "check", "rules", "alerts.yml")
	runTool(t, observabilityDir, "promtool", "check", "config", "prometheus.yml")
	runTool(t, observabilityDir, "amtool", "check-config", "alertmanager.yml")
	runTool(t, observabilityDir, "prometheus-blackbox-exporter", "--config.check", "--config.file=blackbox.yml")

	// Every alert has a unit test that expects it to fire.
	rules, err := os.ReadFile(filepath.Join(observabilityDir, "alerts.yml"))
	require.NoError(t, err)
	tests, err := os.ReadFile(filepath.Join(observabilityDir, "alerts_test.yml"))
	require.NoError(t, err)
	alerts := regexp.MustCompile(`(?m)^\s+- alert: (\w+)`).FindAllStringSubmatch(string(rules), -1)
	require.NotEmpty(t, alerts)
	for _, a := range alerts {
		fires := regexp.MustCompile(`alertname: ` + a[1] + `\n\s+exp_alerts:\n\s+- exp_labels`)
		require.Regexp(t, fires, string(tests), "alerts_test.yml never shows %s firing", a[1])
	}
}

// startDaemon starts a long-running tool, stopped when the test ends.
func startDaemon(t *testing.T, dir, name string, args ...string) *syncBuffer {
	t.Helper()
	logs := &syncBuffer{}
	cmd := exec.Command(observabilityTool(t, name), args...)
	cmd.Dir, cmd.Stdout, cmd.Stderr = dir, logs, logs
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	return logs
}

// promQuery is the answer of Prometheus' /api/v1/query.
type promQuery struct {
	Status string `json:"status"`
	Error  string `json:"error"`
	Data   struct {
		Result []json.RawMessage `json:"result"`
	} `json:"data"`
}

func queryProm(t *testing.T, base, expr string) promQuery {
	t.Helper()
	resp, err := http.Get(base + "/api/v1/query?query=" + url.QueryEscape(expr))
	require.NoError(t, err)
	defer resp.Body.Close()
	var q promQuery
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(body, &q), "%s", body)
	return q
}

// dashboardQueries returns every PromQL expression of the Grafana
// dashboard, by panel title.
func dashboardQueries(t *testing.T) map[string][]string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(observabilityDir, "grafana-dashboard.json"))
	require.NoError(t, err)
	var d struct {
		Panels []struct {
			Title   string `json:"title"`
			Type    string `json:"type"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	require.NoError(t, json.Unmarshal(b, &d))
	out := map[string][]string{}
	for _, p := range d.Panels {
		if p.Type == "row" {
			continue
		}
		require.NotEmpty(t, p.Targets, "panel %q has no query", p.Title)
		for _, tg := range p.Targets {
			require.NotEmpty(t, tg.Expr, "panel %q", p.Title)
			out[p.Title] = append(out[p.Title], tg.Expr)
		}
	}
	return out
}

// conditionalMetrics are exported only in some deployments, so a fresh
// development serve lacks them; each must still be a metric the code
// registers (checked against the source).
var conditionalMetrics = map[string]string{
	"groundwork_replica_lag_seconds":                             "only with GROUNDWORK_REPLICA_URL",
	"groundwork_replica_up":                                      "only with GROUNDWORK_REPLICA_URL",
	"groundwork_billing_oldest_unprocessed_event_age_seconds":    "only with Stripe configured",
	"groundwork_backup_last_success_timestamp_seconds":           "only once a backup completed",
	"groundwork_backup_rehearsal_last_success_timestamp_seconds": "only once a rehearsal passed",
	"groundwork_jobs_oldest_available_age_seconds":               "only while a job waits",
	"groundwork_billing_events_scrape_errors_total":              "only with Stripe configured",
}

// dataPanels must show data on a development serve that answered a few
// requests.
var dataPanels = []string{
	"Latency p50 / p95 / p99", "Request rate", "Error rate (5xx)", "Slowest routes (p95)",
	"Requests in flight and connections", "Instance uptime (deploys and restarts)",
	"Connection pool", "Database sessions", "Rate-limit rejections",
}

// TestObservabilityAgainstRunningServe starts serve, a real Prometheus
// scraping it with alerts.yml loaded, and blackbox-exporter with
// blackbox.yml. Every dashboard query must run without error (the basic
// ones must return data), every metric named by the rules and the dashboard
// must be exported, every alert rule must evaluate without error, and the
// uptime probes must succeed (and fail with a wrong canary key).
func TestObservabilityAgainstRunningServe(t *testing.T) {
	t.Parallel()
	observabilityTool(t, "prometheus")
	observabilityTool(t, "prometheus-blackbox-exporter")
	env := map[string]string{"GROUNDWORK_DATA_DIR": dataDir(t), "PORT": "0"}
	s := startServe(t, env)
	waitReady(t, s.url)
	for _, p := range []string{"/", "/login", "/no-such-page", "/readyz"} {
		get(t, s.url+p)
	}

	// The canary: an organisation with a viewer API key.
	_, _, err := runCmdIn(t, env, "a long enough password\n", "user", "create", "-email", "canary@example.com")
	require.NoError(t, err)
	out, _, err := runCmd(t, env, "org", "create", "-name", "Canary", "-owner", "canary@example.com")
	require.NoError(t, err)
	out, _, err = runCmd(t, env, "apikey", "create", "-org", strings.TrimSpace(out), "-role", "viewer", "-name", "canary")
	require.NoError(t, err)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	key := lines[len(lines)-1]

	// Every metric the rules and the dashboard name is one the app exports
	// (River's counts appear once the heartbeat job, inserted at start, exists).
	var metrics string
	require.Eventually(t, func() bool {
		resp, err := http.Get(s.url + "/metrics")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		metrics = string(b)
		return strings.Contains(metrics, "# TYPE groundwork_jobs gauge")
	}, 30*time.Second, 100*time.Millisecond, "groundwork_jobs never exported")
	rules, err := os.ReadFile(filepath.Join(observabilityDir, "alerts.yml"))
	require.NoError(t, err)
	dash, err := os.ReadFile(filepath.Join(observabilityDir, "grafana-dashboard.json"))
	require.NoError(t, err)
	names := regexp.MustCompile(`\b(?:groundwork|pgxpool|process)_[a-z_]+[a-z]\b`).FindAllString(string(rules)+string(dash), -1)
	require.NotEmpty(t, names)
	for _, n := range names {
		n = strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(n, "_bucket"), "_count"), "_sum")
		if why, ok := conditionalMetrics[n]; ok {
			require.True(t, sourceMentions(t, `"`+n+`"`), "%s (%s) is not registered anywhere in internal/", n, why)
			continue
		}
		require.True(t, strings.Contains(metrics, "# TYPE "+n+" "), "%s is not exported by serve", n)
	}

	// Prometheus scraping serve every second, with the alert rules.
	dir := t.TempDir()
	abs, err := filepath.Abs(filepath.Join(observabilityDir, "alerts.yml"))
	require.NoError(t, err)
	target := strings.TrimPrefix(s.url, "http://")
	cfg := fmt.Sprintf(`global: {scrape_interval: 1s, evaluation_interval: 1s}
rule_files: [%q]
scrape_configs:
  - job_name: groundwork
    static_configs: [{targets: [%q]}]
`, abs, target)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(cfg), 0o600))
	promURL := "http://127.0.0.1:" + freePort(t)
	promLogs := startDaemon(t, dir, "prometheus", "--config.file=prometheus.yml", "--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+strings.TrimPrefix(promURL, "http://"))
	// Enough scrapes for rate() over the requests above and a few more.
	require.Eventually(t, func() bool {
		for _, p := range []string{"/login", "/"} {
			if resp, err := http.Get(s.url + p); err == nil {
				resp.Body.Close()
			}
		}
		resp, err := http.Get(promURL + "/api/v1/query?query=" + url.QueryEscape(`count_over_time(up{job="groundwork"}[5m]) >= 5 and up == 1`))
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		var q promQuery
		return json.NewDecoder(resp.Body).Decode(&q) == nil && len(q.Data.Result) == 1
	}, 60*time.Second, 500*time.Millisecond, "prometheus did not scrape serve; logs:\n%s", promLogs)

	queries := dashboardQueries(t)
	for _, title := range dataPanels {
		require.Contains(t, queries, title)
	}
	for title, exprs := range queries {
		for _, expr := range exprs {
			q := queryProm(t, promURL, expr)
			require.Equal(t, "success", q.Status, "panel %q: %s: %s", title, expr, q.Error)
			for _, want := range dataPanels {
				if want == title {
					require.NotEmpty(t, q.Data.Result, "panel %q returns no data: %s", title, expr)
				}
			}
		}
	}

	// Every rule evaluates without error against the real series.
	var ruleErr string
	require.Eventually(t, func() bool {
		resp, err := http.Get(promURL + "/api/v1/rules")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		var r struct {
			Data struct {
				Groups []struct {
					Rules []struct {
						Name, Health, LastError string
					} `json:"rules"`
				} `json:"groups"`
			} `json:"data"`
		}
		if json.NewDecoder(resp.Body).Decode(&r) != nil {
			return false
		}
		n := 0
		for _, g := range r.Data.Groups {
			for _, rule := range g.Rules {
				if rule.Health == "err" {
					ruleErr = "rule " + rule.Name + ": " + rule.LastError
					return true
				}
				if rule.Health == "ok" {
					n++
				}
			}
		}
		return n > 0 && n == strings.Count(string(rules), "- alert:")+strings.Count(string(rules), "- record:")
	}, 30*time.Second, 500*time.Millisecond)
	require.Empty(t, ruleErr)
	// A healthy fresh serve fires no alert.
	q := queryProm(t, promURL, `ALERTS{alertstate="firing"}`)
	require.Equal(t, "success", q.Status)
	require.Empty(t, q.Data.Result, "alerts fire on a healthy serve")

	// blackbox-exporter with the shipped modules and the canary key.
	bdir := t.TempDir()
	bb, err := os.ReadFile(filepath.Join(observabilityDir, "blackbox.yml"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(bdir, "blackbox.yml"), bb, 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(bdir, "canary-api-key"), []byte(key+"\n"), 0o600))
	bbURL := "http://127.0.0.1:" + freePort(t)
	bbLogs := startDaemon(t, bdir, "prometheus-blackbox-exporter", "--config.file=blackbox.yml",
		"--web.listen-address="+strings.TrimPrefix(bbURL, "http://"))
	probe := func(module, target string) string {
		var body string
		require.Eventually(t, func() bool {
			resp, err := http.Get(bbURL + "/probe?module=" + module + "&target=" + url.QueryEscape(target))
			if err != nil {
				return false
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			body = string(b)
			return resp.StatusCode == http.StatusOK
		}, 30*time.Second, 200*time.Millisecond, "blackbox-exporter logs:\n%s", bbLogs)
		return body
	}
	success := regexp.MustCompile(`(?m)^probe_success 1$`)
	require.Regexp(t, success, probe("groundwork_ready", s.url+"/readyz"))
	require.Regexp(t, success, probe("groundwork_login", s.url+"/login"))
	require.Regexp(t, success, probe("groundwork_api_read", s.url+"/api/v1/contacts?limit=1"))
	// The probes can fail: a page that is not the log-in page, a wrong key.
	require.Regexp(t, `(?m)^probe_success 0$`, probe("groundwork_login", s.url+"/healthz"))
	require.NoError(t, os.WriteFile(filepath.Join(bdir, "canary-api-key"), []byte("gw_not_a_key\n"), 0o600))
	require.Regexp(t, `(?m)^probe_success 0$`, probe("groundwork_api_read", s.url+"/api/v1/contacts?limit=1"))
}

// sourceMentions reports whether a Go file under internal/ contains s.
func sourceMentions(t *testing.T, s string) bool {
	t.Helper()
	found := false
	err := filepath.WalkDir("../../internal", func(path string, d os.DirEntry, err error) error {
		if err != nil || found || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return err
		}
		b, err := os.ReadFile(path)
		if err == nil && strings.Contains(string(b), s) {
			found = true
		}
		return err
	})
	require.NoError(t, err)
	return found
}
