package doctor

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/groundwork-dev/groundwork/internal/maintenance"
	"github.com/groundwork-dev/groundwork/internal/ops"
)

var now = time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)

func ago(d time.Duration) *time.Time { t := now.Add(-d); return &t }

// healthy are the inputs of a well-kept production deployment: every
// check passes.
func healthy() Inputs {
	return Inputs{
		Now: now, Production: true, Version: "v1.4.0", Commit: "abc123",
		DB: ops.Snapshot{
			Rehearsal:     &ops.Rehearsal{BackupID: "b1", StartedAt: now.Add(-2 * time.Hour), Duration: 90 * time.Second, OK: true},
			Archiver:      ops.Archiver{Mode: "on", LastArchived: now.Add(-time.Minute)},
			Ledger:        ops.Ledger{Present: true, APIVersions: map[string]int64{"2026-01-28.clover": 12}},
			Queues:        []ops.QueueCounts{{Queue: "default", Available: 1, OldestAvailable: time.Second}},
			SchemaVersion: 31,
			Deployments:   []maintenance.Deployment{{Role: "serve", Host: "a", StartedAt: now.Add(-time.Hour)}},
		},
		LastBackup: ago(5 * time.Hour), BackupKeysetFromEnv: true,
		SentryDSN: true, SentryTestAt: ago(24 * time.Hour), AlertWebhook: true,
		EncryptionKeysFromEnv: true, SMTP: true, BaseURL: "https://app.example.com", HSTS: true,
		TrustedProxies: []string{"10.0.0.0/8"}, Billing: true, StripeAPIVersion: "2026-01-28.clover",
		LoadTest: &LoadTest{FinishedAt: now.Add(-72 * time.Hour), BaseURL: "https://staging.example.com", BreakPointRPS: 900, BreakPointReached: true, HeadroomX: 4.5, P95SLOMs: 300},
		Vulns:    &Vulns{CheckedAt: now.Add(-24 * time.Hour)},
	}
}

// TestEveryCheckBothWays: the healthy inputs pass every check, and for
// every check a change of the inputs makes it warn or fail, with evidence
// and a fix.
func TestEveryCheckBothWays(t *testing.T) {
	t.Parallel()
	rep := Run(healthy(), Checks())
	for _, r := range rep.Results {
		require.Equal(t, Pass, r.Status, "%s: %s", r.ID, r.Evidence)
		require.NotEmpty(t, r.Evidence, r.ID)
	}
	require.False(t, rep.Failed())

	broken := map[string]struct {
		want   Status
		break_ func(in *Inputs)
	}{
		"backups.recent":      {Fail, func(in *Inputs) { in.LastBackup = ago(50 * time.Hour) }},
		"backups.rehearsal":   {Fail, func(in *Inputs) { in.DB.Rehearsal.OK, in.DB.Rehearsal.Error = false, "row counts differ" }},
		"backups.pitr":        {Fail, func(in *Inputs) { in.DB.Archiver.LastFailed, in.DB.Archiver.Failed = now, 3 }},
		"backups.keyset":      {Fail, func(in *Inputs) { in.BackupKeysetFromEnv = false }},
		"migrations":          {Fail, func(in *Inputs) { in.UnsafeMigrations = []string{"00040_index.sql"} }},
		"billing.ledger":      {Fail, func(in *Inputs) { in.DB.Ledger.Unprocessed, in.DB.Ledger.OldestUnprocessed = 4, 2*time.Hour }},
		"security.keys":       {Fail, func(in *Inputs) { in.EncryptionKeysFromEnv = false }},
		"security.https":      {Fail, func(in *Inputs) { in.BaseURL = "http://app.example.com" }},
		"security.proxies":    {Warn, func(in *Inputs) { in.TrustedProxies = nil }},
		"security.ratelimits": {Fail, func(in *Inputs) { in.RateLimitsOff = []string{"login-ip"} }},
		"security.vulns":      {Fail, func(in *Inputs) { in.Vulns.Called = []string{"GO-2026-0001"} }},
		"errors.tracking":     {Fail, func(in *Inputs) { in.SentryDSN = false }},
		"perf.redis": {Fail, func(in *Inputs) {
			in.DB.Deployments = append(in.DB.Deployments, maintenance.Deployment{Role: "serve", Host: "b", StartedAt: now.Add(-time.Minute)})
		}},
		"perf.loadtest": {Warn, func(in *Inputs) { in.LoadTest.FinishedAt = now.Add(-40 * 24 * time.Hour) }},
		"perf.queues":   {Fail, func(in *Inputs) { in.DB.Queues[0].OldestAvailable = time.Hour }},
		"alerts":        {Warn, func(in *Inputs) { in.AlertWebhook = false }},
		"mail.smtp":     {Fail, func(in *Inputs) { in.SMTP = false }},
		"build.stamped": {Warn, func(in *Inputs) { in.Version, in.Commit = "dev", "" }},
	}
	for _, c := range Checks() {
		b, ok := broken[c.ID]
		require.True(t, ok, "check %s has no failing case in this test", c.ID)
		in := healthy()
		b.break_(&in)
		st, ev, fix := c.Run(in)
		require.Equal(t, b.want, st, "%s: %s", c.ID, ev)
		require.NotEmpty(t, ev, c.ID)
		require.NotEmpty(t, fix, c.ID)
	}
}

// TestMoreWaysToFail covers the other branches that matter most.
func TestMoreWaysToFail(t *testing.T) {
	t.Parallel()
	run := func(id string, mutate func(in *Inputs)) (Status, string) {
		in := healthy()
		mutate(&in)
		for _, c := range Checks() {
			if c.ID == id {
				st, ev, _ := c.Run(in)
				return st, ev
			}
		}
		t.Fatalf("no check %s", id)
		return "", ""
	}
	evidence := func(id string, mutate func(in *Inputs)) string {
		_, ev := run(id, mutate)
		return ev
	}
	status := func(id string, mutate func(in *Inputs)) Status {
		st, _ := run(id, mutate)
		return st
	}
	require.Equal(t, Fail, status("backups.recent", func(in *Inputs) { in.LastBackup = nil }))
	require.Equal(t, Warn, status("backups.recent", func(in *Inputs) { in.DB.Rehearsal = nil }), "a backup never restored is not verified")
	require.Equal(t, Fail, status("backups.rehearsal", func(in *Inputs) { in.DB.Rehearsal = nil }))
	require.Equal(t, Warn, status("backups.pitr", func(in *Inputs) { in.DB.Archiver = ops.Archiver{Mode: "off"} }))
	require.Equal(t, Warn, status("migrations", func(in *Inputs) { in.PendingMigrations = []string{"00032_x.sql"} }))
	require.Equal(t, Fail, status("billing.ledger", func(in *Inputs) { in.DB.Ledger.APIVersions = map[string]int64{"2024-06-20": 3} }))
	require.Equal(t, Pass, status("billing.ledger", func(in *Inputs) { in.Billing = false; in.DB.LedgerErr = "no table" }))
	require.Equal(t, Warn, status("security.keys", func(in *Inputs) { in.Production = false; in.EncryptionKeysFromEnv = false }),
		"development files are only a warning in development")
	require.Equal(t, Warn, status("security.https", func(in *Inputs) { in.HSTS = false }))
	require.Equal(t, Warn, status("errors.tracking", func(in *Inputs) { in.SentryTestAt = nil }))
	require.Equal(t, Warn, status("perf.loadtest", func(in *Inputs) { in.LoadTest = nil }))
	require.Equal(t, Warn, status("perf.loadtest", func(in *Inputs) { in.LoadTest.HeadroomX = 1.2 }))
	require.Contains(t, evidence("perf.loadtest", func(in *Inputs) {}), "breaks above 900 req/s")
	require.Contains(t, evidence("perf.loadtest", func(in *Inputs) { in.LoadTest.BreakPointReached = false }),
		"held up to 900 req/s, the highest rate tried")
	require.Equal(t, Warn, status("security.vulns", func(in *Inputs) { in.Vulns = nil }))
	require.Equal(t, Pass, status("perf.redis", func(in *Inputs) {
		in.Redis = true
		in.DB.Deployments = append(in.DB.Deployments, maintenance.Deployment{Role: "serve", Host: "b", StartedAt: now})
	}))
}

// TestReportRanksByCost: failures first, each group by cost; JSON names
// the cost.
func TestReportRanksByCost(t *testing.T) {
	t.Parallel()
	in := healthy()
	in.SMTP = false                  // other, fail
	in.RateLimitsOff = []string{"x"} // security, fail
	in.LastBackup = nil              // data loss, fail
	in.TrustedProxies = nil          // security, warn
	rep := Run(in, Checks())
	require.Equal(t, 3, rep.Fail)
	require.Equal(t, 1, rep.Warn)
	require.True(t, rep.Failed())
	var ids []string
	for _, r := range rep.Results[:4] {
		ids = append(ids, r.ID)
	}
	require.Equal(t, []string{"backups.recent", "security.ratelimits", "mail.smtp", "security.proxies"}, ids)
	b, err := json.Marshal(rep.Results[0])
	require.NoError(t, err)
	require.Contains(t, string(b), `"cost":"data loss \u0026 billing"`)
	require.Contains(t, string(b), `"status":"fail"`)
}
