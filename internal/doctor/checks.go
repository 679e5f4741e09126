package doctor

import (
	"fmt"
	"net/url"
	"strings"
	"time"
)

// Thresholds of the checks.
const (
	// BackupMaxAge is how old the newest backup may be (a daily backup,
	// with slack).
	BackupMaxAge = 26 * time.Hour
	// RehearsalMaxAge is how old the last restore rehearsal may be.
	RehearsalMaxAge = 8 * 24 * time.Hour
	// ArchiveMaxLag is how long WAL archiving may go without archiving a
	// segment before "current" is in doubt (archive_timeout is 60 s).
	ArchiveMaxLag = 15 * time.Minute
	// LedgerStuckAfter is how long a webhook event may wait unprocessed.
	LedgerStuckAfter = 30 * time.Minute
	// LoadTestMaxAge is how old the last load test may be.
	LoadTestMaxAge = 30 * 24 * time.Hour
	// MinHeadroom is the least headroom (break point over current peak) a
	// load test should show.
	MinHeadroom = 2.0
	// VulnCheckMaxAge is how old govulncheck's last result may be.
	VulnCheckMaxAge = 30 * 24 * time.Hour
)

// Checks are the shipped checks, in no particular order (Run ranks them).
func Checks() []Check {
	return []Check{
		{"backups.recent", "Logical backups are recent and verified", CostDataLoss, checkBackups},
		{"backups.rehearsal", "The last restore rehearsal passed (with its RTO)", CostDataLoss, checkRehearsal},
		{"backups.pitr", "Point-in-time recovery: WAL archiving is current", CostDataLoss, checkPITR},
		{"backups.keyset", "The backup keyset comes from the environment", CostDataLoss, checkBackupKeyset},
		{"migrations", "No pending or unsafe migrations", CostDataLoss, checkMigrations},
		{"billing.ledger", "Stripe webhook ledger is healthy and on our API version", CostDataLoss, checkLedger},
		{"security.keys", "Encryption keysets come from the environment", CostSecurity, checkKeys},
		{"security.https", "HTTPS base URL and HSTS", CostSecurity, checkHTTPS},
		{"security.proxies", "Trusted proxies are configured", CostSecurity, checkProxies},
		{"security.ratelimits", "Rate limits are on", CostSecurity, checkRateLimits},
		{"security.vulns", "No known vulnerabilities called (govulncheck)", CostSecurity, checkVulns},
		{"errors.tracking", "Error tracking is configured and a test event was delivered", CostSecurity, checkErrorTracking},
		{"perf.redis", "Redis shares rate limits when several instances run", CostPerformance, checkRedis},
		{"perf.loadtest", "A load test ran in the last 30 days, with headroom", CostPerformance, checkLoadTest},
		{"perf.queues", "Job queues are draining", CostPerformance, checkQueues},
		{"alerts", "Alerts are configured", CostOther, checkAlerts},
		{"mail.smtp", "SMTP is configured", CostOther, checkSMTP},
		{"build.stamped", "Version and commit are stamped", CostOther, checkStamped},
	}
}

func age(now, t time.Time) string { return now.Sub(t).Round(time.Minute).String() }

func checkBackups(in Inputs) (Status, string, string) {
	const fix = `Schedule backups (workers run backup.create daily with GROUNDWORK_BACKUP_URL set) or run "groundwork backup create", then "groundwork backup rehearse".`
	if in.BackupErr != "" {
		return Fail, "the backup store could not be read: " + in.BackupErr, "Check GROUNDWORK_BACKUP_URL and its credentials; " + fix
	}
	if in.LastBackup == nil {
		return Fail, "no complete backup found", fix
	}
	ev := fmt.Sprintf("newest complete backup finished %s ago", age(in.Now, *in.LastBackup))
	if in.Now.Sub(*in.LastBackup) > BackupMaxAge {
		return Fail, ev + fmt.Sprintf(" (more than %s)", BackupMaxAge), "Backups have stopped: check the workers' backup.create job and its errors; " + fix
	}
	r := in.DB.Rehearsal
	if r == nil || !r.OK || r.StartedAt.Before(in.LastBackup.Add(-BackupMaxAge)) {
		return Warn, ev + ", but no successful restore rehearsal since the backup before it: it is not verified",
			`Run "groundwork backup rehearse" (workers rehearse weekly).`
	}
	return Pass, ev + fmt.Sprintf("; verified by the rehearsal of %s", r.StartedAt.UTC().Format(time.RFC3339)), ""
}

func checkRehearsal(in Inputs) (Status, string, string) {
	const fix = `Run "groundwork backup rehearse" and read its error; workers rehearse weekly.`
	if in.DB.RehearsalErr != "" {
		return Fail, "rehearsals could not be read: " + in.DB.RehearsalErr, fix
	}
	r := in.DB.Rehearsal
	if r == nil {
		return Fail, "no restore has ever been rehearsed: the backups are untested", fix
	}
	ev := fmt.Sprintf("last rehearsal %s ago of backup %s", age(in.Now, r.StartedAt), r.BackupID)
	if !r.OK {
		return Fail, ev + " FAILED: " + r.Error, fix
	}
	ev += fmt.Sprintf(" passed; measured RTO %s", r.Duration.Round(time.Second))
	if in.Now.Sub(r.StartedAt) > RehearsalMaxAge {
		return Warn, ev + fmt.Sprintf(" (older than %s)", RehearsalMaxAge), fix
	}
	return Pass, ev, ""
}

func checkPITR(in Inputs) (Status, string, string) {
	a := in.DB.Archiver
	if in.DB.ArchiverErr != "" {
		return Warn, "pg_stat_archiver could not be read: " + in.DB.ArchiverErr, "Check the database connection."
	}
	if a.Mode == "" || a.Mode == "off" {
		return Warn, "WAL archiving is off: a restore loses everything since the last logical backup",
			`Run "groundwork backup pitr setup" (embedded cluster), or turn on your managed database's point-in-time recovery.`
	}
	if !a.LastFailed.IsZero() && a.LastFailed.After(a.LastArchived) {
		return Fail, fmt.Sprintf("archiving is failing: last failure %s ago, %d failures, last success %s",
				age(in.Now, a.LastFailed), a.Failed, lastOr(in.Now, a.LastArchived)),
			`Read the PostgreSQL log for archive_command's error; "groundwork backup pitr status" shows the repository.`
	}
	if a.LastArchived.IsZero() || in.Now.Sub(a.LastArchived) > ArchiveMaxLag {
		return Warn, "no WAL segment archived for " + lastOr(in.Now, a.LastArchived),
			`Check archive_command and archive_timeout; "groundwork backup pitr status".`
	}
	return Pass, fmt.Sprintf("archive_mode=%s, last segment archived %s ago", a.Mode, age(in.Now, a.LastArchived)), ""
}

func lastOr(now, t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return age(now, t) + " ago"
}

func checkBackupKeyset(in Inputs) (Status, string, string) {
	if in.BackupKeysetFromEnv {
		return Pass, "GROUNDWORK_BACKUP_KEYSET is set", ""
	}
	st := Warn
	if in.Production {
		st = Fail
	}
	return st, "backups are encrypted with a development keyset file under the data directory: lose the machine and the backups cannot be decrypted",
		`Set GROUNDWORK_BACKUP_KEYSET ("groundwork backup keyset" prints one) from your secret store, and keep a copy off the machine.`
}

func checkMigrations(in Inputs) (Status, string, string) {
	if in.MigrationsErr != "" {
		return Fail, "migrations could not be read: " + in.MigrationsErr, `Run "groundwork migrate status".`
	}
	if len(in.UnsafeMigrations) > 0 {
		return Fail, "unsafe migrations: " + strings.Join(in.UnsafeMigrations, ", "),
			"Rewrite them as the linter says (docs/migrations.md) before they run in production."
	}
	if len(in.PendingMigrations) > 0 {
		return Warn, fmt.Sprintf("%d pending: %s", len(in.PendingMigrations), strings.Join(in.PendingMigrations, ", ")),
			`Rehearse them ("groundwork migrate rehearse"), then "groundwork migrate up".`
	}
	return Pass, fmt.Sprintf("schema at version %d, nothing pending", in.DB.SchemaVersion), ""
}

func checkLedger(in Inputs) (Status, string, string) {
	if !in.Billing {
		return Pass, "billing is not configured (no STRIPE_SECRET_KEY): nothing to check", ""
	}
	if in.DB.LedgerErr != "" {
		return Fail, "the ledger could not be read: " + in.DB.LedgerErr, `Run "groundwork billing events -unprocessed".`
	}
	l := in.DB.Ledger
	for v := range l.APIVersions {
		if v != in.StripeAPIVersion {
			return Fail, fmt.Sprintf("recent webhook events carry API version %s, the code is built for %s", v, in.StripeAPIVersion),
				"Point the webhook endpoint in Stripe's dashboard at API version " + in.StripeAPIVersion + " (docs/billing.md)."
		}
	}
	ev := fmt.Sprintf("%d unprocessed (%d failed at least once)", l.Unprocessed, l.Failed)
	if l.Unprocessed > 0 && l.OldestUnprocessed > LedgerStuckAfter {
		return Fail, ev + fmt.Sprintf(", oldest waiting %s", l.OldestUnprocessed.Round(time.Minute)),
			`The ledger is stuck: "groundwork billing events -unprocessed" shows the errors; "groundwork billing reconcile" retries.`
	}
	if l.Failed > 0 {
		return Warn, ev, `"groundwork billing events -unprocessed" shows the errors; the reconciler retries them.`
	}
	return Pass, ev, ""
}

func checkKeys(in Inputs) (Status, string, string) {
	if in.EncryptionKeysFromEnv {
		return Pass, "GROUNDWORK_ENCRYPTION_KEYSET and GROUNDWORK_BLIND_INDEX_KEYSET are set", ""
	}
	st := Warn
	if in.Production {
		st = Fail
	}
	return st, "field encryption uses development keyset files under the data directory",
		`Set GROUNDWORK_ENCRYPTION_KEYSET and GROUNDWORK_BLIND_INDEX_KEYSET ("groundwork keys new") from your secret store.`
}

func checkHTTPS(in Inputs) (Status, string, string) {
	u, err := url.Parse(in.BaseURL)
	if err != nil || u.Scheme != "https" {
		st := Warn
		if in.Production {
			st = Fail
		}
		return st, fmt.Sprintf("GROUNDWORK_BASE_URL is %q: links in emails and cookies are not over HTTPS", in.BaseURL),
			"Serve behind TLS and set GROUNDWORK_BASE_URL=https://your.domain."
	}
	if !in.HSTS {
		return Warn, "the base URL is HTTPS but Strict-Transport-Security is not sent (GROUNDWORK_ENV is not production)",
			"Set GROUNDWORK_ENV=production."
	}
	return Pass, in.BaseURL + " with Strict-Transport-Security", ""
}

func checkProxies(in Inputs) (Status, string, string) {
	if len(in.TrustedProxies) > 0 {
		return Pass, "trusted: " + strings.Join(in.TrustedProxies, ", "), ""
	}
	return Warn, "no trusted proxies: behind a load balancer every client shares its IP, so per-IP rate limits and audit IPs are the balancer's",
		"Set GROUNDWORK_TRUSTED_PROXIES to your load balancer's addresses (CIDR); leave it empty only when clients connect directly."
}

func checkRateLimits(in Inputs) (Status, string, string) {
	if len(in.RateLimitsOff) == 0 {
		return Pass, "every rate-limit policy is on", ""
	}
	return Fail, "off: " + strings.Join(in.RateLimitsOff, ", "), "Remove GROUNDWORK_RATE_<POLICY>=off for them (docs/security.md)."
}

func checkVulns(in Inputs) (Status, string, string) {
	const fix = `Run "make audit" (govulncheck) where vuln.go.dev is reachable; it records its result in var/govulncheck.json.`
	if in.Vulns == nil {
		return Warn, "no govulncheck result found", fix
	}
	if len(in.Vulns.Called) > 0 {
		return Fail, "called vulnerable code: " + strings.Join(in.Vulns.Called, ", "), "Upgrade the modules govulncheck names, then " + fix
	}
	if in.Now.Sub(in.Vulns.CheckedAt) > VulnCheckMaxAge {
		return Warn, "govulncheck found nothing, but its last run was " + age(in.Now, in.Vulns.CheckedAt) + " ago", fix
	}
	return Pass, "govulncheck found no called vulnerability " + age(in.Now, in.Vulns.CheckedAt) + " ago", ""
}

func checkErrorTracking(in Inputs) (Status, string, string) {
	if !in.SentryDSN {
		st := Warn
		if in.Production {
			st = Fail
		}
		return st, "SENTRY_DSN is not set: errors are only logged", "Set SENTRY_DSN, then run \"groundwork sentry-test\"."
	}
	if in.SentryTestAt == nil {
		return Warn, "SENTRY_DSN is set, but no test event is known to have been delivered", `Run "groundwork sentry-test".`
	}
	return Pass, "SENTRY_DSN is set; a test event was accepted " + age(in.Now, *in.SentryTestAt) + " ago", ""
}

// instances counts the distinct hosts that started serve in the last day.
func instances(in Inputs) int {
	hosts := map[string]bool{}
	for _, d := range in.DB.Deployments {
		if d.Role == "serve" && in.Now.Sub(d.StartedAt) < 24*time.Hour {
			hosts[d.Host] = true
		}
	}
	return len(hosts)
}

func checkRedis(in Inputs) (Status, string, string) {
	n := instances(in)
	if in.Redis {
		return Pass, fmt.Sprintf("REDIS_URL is set; %d serve instance(s) seen in the last day", n), ""
	}
	if n > 1 {
		return Fail, fmt.Sprintf("%d serve instances started in the last day, each with its own in-memory rate limits: a client gets N times its budget", n),
			"Set REDIS_URL so that the instances share rate-limit state."
	}
	return Pass, fmt.Sprintf("%d serve instance seen in the last day: in-memory rate limits are exact", n), ""
}

func checkLoadTest(in Inputs) (Status, string, string) {
	const fix = `Run "groundwork loadtest" against a staging copy; it writes var/loadtest/summary.json.`
	if in.LoadTestErr != "" {
		return Warn, "the load-test summary could not be read: " + in.LoadTestErr, fix
	}
	lt := in.LoadTest
	if lt == nil || in.Now.Sub(lt.FinishedAt) > LoadTestMaxAge {
		ev := "no load test in the last 30 days"
		if lt != nil {
			ev += " (last " + age(in.Now, lt.FinishedAt) + " ago)"
		}
		return Warn, ev, fix
	}
	breaks := fmt.Sprintf("breaks above %.0f req/s", lt.BreakPointRPS)
	if !lt.BreakPointReached {
		breaks = fmt.Sprintf("held up to %.0f req/s, the highest rate tried", lt.BreakPointRPS)
	}
	ev := fmt.Sprintf("load test %s ago against %s: %s, headroom %.1fx (p95 SLO %.0f ms)",
		age(in.Now, lt.FinishedAt), lt.BaseURL, breaks, lt.HeadroomX, lt.P95SLOMs)
	if lt.HeadroomX < MinHeadroom {
		return Warn, ev, fmt.Sprintf("Less than %.0fx headroom: find the bottleneck (docs/operations.md) before traffic grows.", MinHeadroom)
	}
	return Pass, ev, ""
}

func checkQueues(in Inputs) (Status, string, string) {
	if in.DB.QueuesErr != "" {
		return Warn, "job queues could not be read: " + in.DB.QueuesErr, "Check that River's migrations ran."
	}
	var stuck, discarded []string
	for _, q := range in.DB.Queues {
		if q.OldestAvailable > 10*time.Minute {
			stuck = append(stuck, fmt.Sprintf("%s (%d waiting, oldest %s)", q.Queue, q.Available, q.OldestAvailable.Round(time.Second)))
		}
		if q.Discarded > 0 {
			discarded = append(discarded, fmt.Sprintf("%s: %d", q.Queue, q.Discarded))
		}
	}
	if len(stuck) > 0 {
		return Fail, "jobs are waiting: " + strings.Join(stuck, "; "), "Check that workers run (serve -workers or groundwork worker) and /ops/jobs."
	}
	if len(discarded) > 0 {
		return Warn, "discarded jobs: " + strings.Join(discarded, ", "), "Look at them in /ops/jobs; retry or fix their cause."
	}
	return Pass, fmt.Sprintf("%d queue(s), none backed up", len(in.DB.Queues)), ""
}

func checkAlerts(in Inputs) (Status, string, string) {
	switch {
	case in.AlertWebhook && in.PrometheusAlerts:
		return Pass, "GROUNDWORK_ALERT_WEBHOOK_URL is set and Prometheus alert rules are deployed", ""
	case in.AlertWebhook:
		return Pass, "GROUNDWORK_ALERT_WEBHOOK_URL is set", ""
	case in.PrometheusAlerts:
		return Pass, "Prometheus alert rules are deployed", ""
	}
	return Warn, "nothing alerts anyone: a failed backup or a stuck webhook ledger is noticed only by looking",
		"Set GROUNDWORK_ALERT_WEBHOOK_URL to a Slack-compatible incoming webhook, or deploy Prometheus alert rules and set GROUNDWORK_PROMETHEUS_RULES=1."
}

func checkSMTP(in Inputs) (Status, string, string) {
	if in.SMTP {
		return Pass, "SMTP_URL is set", ""
	}
	st := Warn
	if in.Production {
		st = Fail
	}
	return st, "SMTP_URL is not set: sign-up, password-reset and billing emails are written to the log, not sent", "Set SMTP_URL to your mail provider."
}

func checkStamped(in Inputs) (Status, string, string) {
	if in.Version == "" || in.Version == "dev" || in.Commit == "" || in.Commit == "unknown" {
		return Warn, fmt.Sprintf("version %q, commit %q: a deploy cannot be told from another", in.Version, in.Commit),
			`Build with the Makefile or Dockerfile, which stamp them (-ldflags "-X main.version=... -X main.commit=...").`
	}
	return Pass, "version " + in.Version + ", commit " + in.Commit, ""
}
