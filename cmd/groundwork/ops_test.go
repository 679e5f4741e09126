//go:build e2e

package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/pquerna/otp/totp"
	"github.com/stretchr/testify/require"

	"github.com/groundwork-dev/groundwork/internal/doctor"
	"github.com/groundwork-dev/groundwork/internal/gwtest"
	"github.com/groundwork-dev/groundwork/internal/mailtest"
)

// TestE2EOpsConsoleOnAFreshInstall runs serve on a fresh development install
// and, from the command line, creates a user, grants it operator rights
// and runs "groundwork doctor" (text and -json; it fails, as a fresh
// install has no backup) — then, with a load-test summary written where
// "groundwork loadtest" writes it, runs it again. In headless Chromium the
// operator is refused the console until two-factor is on, then walks /ops
// (every window), /ops/readiness and the River UI at /ops/jobs/, saving a
// screenshot of each under artifacts/screenshots/ops-*.png.
func TestE2EOpsConsoleOnAFreshInstall(t *testing.T) {
	t.Parallel()
	gwtest.RequireTool(t, chromiumPath, "run scripts/install-deps.sh (apt-get install chromium) to run the browser tests")
	ctx, cancel := context.WithTimeout(t.Context(), 170*time.Second)
	defer cancel()

	port := freePort(t)
	base := "http://localhost:" + port
	mails := mailtest.Start(t)
	summary := filepath.Join(t.TempDir(), "summary.json")
	env := map[string]string{"GROUNDWORK_DATA_DIR": dataDir(t), "PORT": port, "GROUNDWORK_BASE_URL": base,
		"SMTP_URL": mails.URL(), "GROUNDWORK_LOADTEST_SUMMARY": summary}
	s := startServe(t, env)
	waitReady(t, s.url)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("server logs:\n%s", s.logs)
		}
	})

	const email, password = "ops@example.com", "a long enough password"
	_, _, err := runCmdIn(t, env, password+"\n", "user", "create", "-email", email)
	require.NoError(t, err)
	out, _, err := runCmd(t, env, "operator", "grant", email, "-by", "test")
	require.NoError(t, err)
	require.Contains(t, out, "ops@example.com is an operator")
	require.Contains(t, out, "no two-factor authentication yet")
	out, _, err = runCmd(t, env, "operator", "list")
	require.NoError(t, err)
	require.Regexp(t, `ops@example.com\s+no\s+`, out)

	// Doctor on the fresh development install: no backup, so it fails.
	out, _, err = runCmd(t, env, "doctor")
	require.ErrorContains(t, err, "check(s) failed")
	t.Logf("groundwork doctor on a fresh development install:\n%s", out)
	require.Contains(t, out, "FAIL")
	require.Contains(t, out, "backups.recent")
	require.Contains(t, out, "no load test in the last 30 days")
	out, _, err = runCmd(t, env, "doctor", "-json")
	require.Error(t, err)
	var rep doctor.Report
	require.NoError(t, json.Unmarshal([]byte(out), &rep))
	require.Len(t, rep.Results, len(doctor.Checks()))
	require.Equal(t, doctor.Fail, rep.Results[0].Status, "failures first")
	byID := map[string]doctor.Result{}
	for _, r := range rep.Results {
		byID[r.ID] = r
	}
	require.Equal(t, doctor.Fail, byID["backups.recent"].Status)
	require.Equal(t, doctor.Warn, byID["perf.loadtest"].Status)
	require.Equal(t, doctor.Pass, byID["migrations"].Status, byID["migrations"].Evidence)
	require.Equal(t, doctor.Pass, byID["security.ratelimits"].Status)
	require.Equal(t, doctor.Pass, byID["mail.smtp"].Status)

	// The load test's summary, as "groundwork loadtest" writes it.
	lt, err := json.Marshal(map[string]any{"finished_at": time.Now().Add(-time.Hour).UTC().Format(time.RFC3339),
		"base_url": base, "break_point_rps": 850.0, "headroom_x": 3.2, "p95_slo_ms": 300, "error_budget": 0.001})
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(summary, lt, 0o600))
	out, _, _ = runCmd(t, env, "doctor", "-json")
	require.NoError(t, json.Unmarshal([]byte(out), &rep))
	for _, r := range rep.Results {
		if r.ID == "perf.loadtest" {
			require.Equal(t, doctor.Pass, r.Status, r.Evidence)
			require.Contains(t, r.Evidence, "headroom 3.2x")
		}
	}

	browser := startChromium(t, ctx)
	shots := screenshotDir(t)
	b := newTab(t, browser, "operator", base, shots)
	b.open(base + "/login")
	b.submit(`form[action="/login"]`, map[string]string{"email": email, "password": password})
	b.open(base + "/ops")
	b.expectH1("Two-factor authentication") // sent to set it up first
	b.expectText("The operator console requires two-factor authentication")
	secret := b.text("#totp-secret")
	code, err := totp.GenerateCode(secret, time.Now())
	require.NoError(t, err)
	b.submit(`form[action="/account/two-factor"]`, map[string]string{"code": code})
	b.expectText("Two-factor authentication is on")

	for _, w := range []string{"5m", "1h", "24h"} {
		require.Equal(t, 200, b.open(base+"/ops?window="+w))
		b.expectH1("Operations")
		b.expectText("This instance only")
		b.expectText("Requests, last " + w)
		b.screenshot("ops-console-" + w)
	}
	b.expectText("GET /ops") // its own requests, per route
	b.expectText("Slow SQL") // the section, with pg_stat_statements or why not
	b.expectText("Deployments")
	html := b.html()
	require.Contains(t, html, "<svg")
	require.NotContains(t, html, "pg_stat_statements is not installed", "the embedded cluster has pg_stat_statements")

	require.Equal(t, 200, b.open(base+"/ops/readiness"))
	b.expectH1("Readiness")
	b.expectText("backups.recent")
	b.expectText("headroom 3.2x")
	b.screenshot("ops-readiness")

	require.Equal(t, 200, b.open(base+"/ops/jobs/"))
	// Its first child under #root may be a hidden element: wait for what a
	// person sees, the job-state list.
	step(b, "wait for the River UI", chromedp.Poll[bool](`(document.querySelector("#root")?.innerText || "").includes("Job State")`))
	time.Sleep(time.Second) // let its first API calls render; only for the picture
	b.screenshot("ops-jobs")
	title := step(b, "read the title", chromedp.Title())
	require.True(t, strings.Contains(title, "River") || strings.Contains(title, "Jobs"), "River UI title %q", title)

	// Every page view was audited in the operator's account chain.
	out, _, err = runCmd(t, env, "audit", "verify")
	require.NoError(t, err, out)
}
