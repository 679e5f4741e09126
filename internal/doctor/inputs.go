package doctor

import (
	"time"

	"github.com/groundwork-dev/groundwork/internal/ops"
)

// Inputs are everything the checks look at, gathered by the caller (see
// cmd/groundwork/doctor.go) or set by a test.
type Inputs struct {
	// Now is the time of the report.
	Now time.Time
	// Production says GROUNDWORK_ENV=production.
	Production bool
	// Version and Commit are the running build's stamps ("dev", "" when
	// not stamped).
	Version, Commit string

	// DB is what the database says (backups rehearsal, archiving, ledger,
	// queues, deployments); DBErr is why it could not be read at all.
	DB    ops.Snapshot
	DBErr string

	// LastBackup is when the newest complete logical backup finished; nil
	// when there is none. BackupErr says why the store could not be read.
	LastBackup *time.Time
	BackupErr  string
	// BackupKeysetFromEnv says GROUNDWORK_BACKUP_KEYSET is set (not the
	// development file).
	BackupKeysetFromEnv bool

	// PendingMigrations are the migrations not applied yet; UnsafeMigrations
	// the applied or pending ones the linter would refuse (if known).
	PendingMigrations []string
	UnsafeMigrations  []string
	MigrationsErr     string

	// SentryDSN says error tracking is configured; SentryTestAt is when
	// "groundwork sentry-test" last got an event accepted (nil: never).
	SentryDSN    bool
	SentryTestAt *time.Time
	// AlertWebhook says GROUNDWORK_ALERT_WEBHOOK_URL is set; Prometheus
	// says alert rules are deployed (GROUNDWORK_PROMETHEUS_RULES=1).
	AlertWebhook, PrometheusAlerts bool

	// EncryptionKeysFromEnv says both field-encryption keysets come from
	// the environment rather than development files.
	EncryptionKeysFromEnv bool
	// SMTP says SMTP_URL is set.
	SMTP bool
	// BaseURL is GROUNDWORK_BASE_URL; HSTS says Strict-Transport-Security
	// is sent (production).
	BaseURL string
	HSTS    bool
	// TrustedProxies are the configured proxies' prefixes.
	TrustedProxies []string
	// Redis says REDIS_URL is set.
	Redis bool
	// RateLimitsOff names the rate-limit policies set to "off".
	RateLimitsOff []string

	// Billing says Stripe is configured; StripeAPIVersion is the version
	// the code is built for.
	Billing          bool
	StripeAPIVersion string

	// LoadTest is the last load test's summary; nil when none was found.
	LoadTest    *LoadTest
	LoadTestErr string

	// Vulns is govulncheck's last result; nil when none was found.
	Vulns *Vulns
}

// LoadTest is the summary "groundwork loadtest" writes
// (var/loadtest/summary.json, or GROUNDWORK_LOADTEST_SUMMARY).
type LoadTest struct {
	FinishedAt    time.Time `json:"finished_at"`
	BaseURL       string    `json:"base_url"`
	BreakPointRPS float64   `json:"break_point_rps"`
	// BreakPointReached is false when no step broke: BreakPointRPS is then
	// the highest rate tried, a lower bound.
	BreakPointReached bool    `json:"break_point_reached"`
	HeadroomX         float64 `json:"headroom_x"`
	P95SLOMs          float64 `json:"p95_slo_ms"`
	ErrorBudget       float64 `json:"error_budget"`
}

// Vulns is what govulncheck last reported (var/govulncheck.json, written by
// "make vulncheck"): when, and the IDs of the vulnerabilities whose code
// the binary calls.
type Vulns struct {
	CheckedAt time.Time `json:"checked_at"`
	Called    []string  `json:"called"`
}
