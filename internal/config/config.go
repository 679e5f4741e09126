// Package config reads Groundwork's typed configuration from the environment,
// validates it, and prints it with secrets redacted.
package config

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"net/url"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"

	"github.com/groundwork-dev/groundwork/internal/errtrack"
	"github.com/groundwork-dev/groundwork/internal/ratelimit"
)

// Environments accepted in GROUNDWORK_ENV.
const (
	EnvDevelopment = "development"
	EnvProduction  = "production"
)

// DefaultExportMaxRowsPerSec is the default pace of an export
// (GROUNDWORK_EXPORT_MAX_ROWS_PER_SEC), chosen from BenchmarkExportContacts
// (docs/exports.md, "Measured").
const DefaultExportMaxRowsPerSec = 5_000

// Config is the whole effective configuration of a groundwork process.
type Config struct {
	// Port is the HTTP listen port (PORT). Default 8080; 0 picks a free port.
	Port int
	// Host is the address serve listens on (HOST): an IP address or a host
	// name, or "0.0.0.0" / "::" for every interface. Default 127.0.0.1
	// (loopback only) in development, every interface in production.
	Host string
	// Env is development or production (GROUNDWORK_ENV). Default development.
	Env string
	// DataDir holds the embedded PostgreSQL cluster and local files
	// (GROUNDWORK_DATA_DIR). Default ./var, made absolute.
	DataDir string
	// DatabaseURL is the runtime role's connection string (DATABASE_URL).
	// Default empty: use the embedded cluster under DataDir.
	DatabaseURL string
	// DatabaseOwnerURL is the owner role's connection string, used for
	// migrations (DATABASE_OWNER_URL). Default empty: no migrations against an
	// external server.
	DatabaseOwnerURL string
	// DatabaseReplicaURL connects the runtime role to a streaming read
	// replica of the database (DATABASE_REPLICA_URL): exports read from it
	// while it lags by at most ReplicaMaxLag. Default empty: everything
	// reads from DATABASE_URL (or the embedded cluster).
	DatabaseReplicaURL string
	// ReplicaMaxLag is how far behind the primary the replica may be for
	// an export to read from it; past it, the export reads from the
	// primary and says so (GROUNDWORK_REPLICA_MAX_LAG). Default 30s.
	ReplicaMaxLag time.Duration
	// DatabasePooler says what stands between the app and PostgreSQL on
	// DATABASE_URL (DATABASE_POOLER): "none" (default) or "transaction", a
	// transaction pooler such as PgBouncer in pool_mode=transaction (or
	// the poolers of Neon, Supabase, RDS Proxy). With "transaction",
	// DATABASE_URL gets default_query_exec_mode=cache_describe (no named prepared
	// statements, which a server connection shared between clients would
	// not keep), River polls instead of using LISTEN/NOTIFY, and
	// DATABASE_DIRECT_URL is required (see DatabasePoolerProblem).
	DatabasePooler string
	// DatabaseDirectURL is the runtime role's connection string that
	// bypasses the pooler (DATABASE_DIRECT_URL), for the work that needs a
	// session of its own: exports, whose session settings
	// (statement_timeout, work_mem) a transaction pooler refuses. Default
	// empty: that work uses DATABASE_URL.
	DatabaseDirectURL string
	// DBMaxConns caps the runtime connection pool (GROUNDWORK_DB_MAX_CONNS). Default 20.
	DBMaxConns int
	// LogLevel is debug, info, warn or error (GROUNDWORK_LOG_LEVEL). Default info.
	LogLevel string
	// ShutdownTimeout bounds graceful shutdown (GROUNDWORK_SHUTDOWN_TIMEOUT). Default 30s.
	ShutdownTimeout time.Duration
	// ShutdownDrain is how long serve keeps serving after SIGTERM with
	// /readyz answering 503, so that load balancers stop sending it traffic
	// before it stops accepting connections (GROUNDWORK_SHUTDOWN_DRAIN; 0
	// disables it). It comes before ShutdownTimeout. Default 5s in
	// production, 0 in development.
	ShutdownDrain time.Duration
	// MaxConns caps the HTTP connections serve holds open at once; more are
	// answered 503 and closed (GROUNDWORK_MAX_CONNS). Serve lowers it to fit
	// the process's open-file limit. Default 10000.
	MaxConns int
	// MetricsAddr is the host:port of a listener of its own that serves
	// /metrics (GROUNDWORK_METRICS_ADDR). Default 127.0.0.1:9090 in
	// production; in development empty: /metrics is served on the main
	// listener (loopback by default) instead.
	MetricsAddr string
	// DBRecoveryTimeout is how long the embedded cluster may stay down, while
	// serve restarts it, before /healthz fails so that an orchestrator
	// restarts the process (GROUNDWORK_DB_RECOVERY_TIMEOUT). Default 60s.
	DBRecoveryTimeout time.Duration
	// MaxBodyBytes caps request bodies (GROUNDWORK_MAX_BODY_BYTES). Default 1048576.
	MaxBodyBytes int64
	// RedisURL is the Redis server that holds rate-limit state shared by
	// every instance (REDIS_URL), redis://[:password@]host:port[/db] or
	// rediss:// for TLS. Default empty: rate limits are kept in memory, per
	// instance.
	RedisURL string
	// TrustedProxies are the reverse proxies (load balancers) whose
	// X-Forwarded-For header is believed for the client's IP
	// (GROUNDWORK_TRUSTED_PROXIES, comma-separated IPs or CIDRs). Default
	// none: the client's IP is the connection's peer.
	TrustedProxies []netip.Prefix
	// RateLimits are the limits of the rate-limit policies, each from
	// GROUNDWORK_RATE_<POLICY> (e.g. GROUNDWORK_RATE_LOGIN_IP=20/min; "off"
	// disables one). Defaults: ratelimit.DefaultPolicies.
	RateLimits ratelimit.Policies
	// PasswordHashConcurrency bounds the argon2id password hashes running at
	// once (19 MiB and a core each); beyond it a request waits briefly,
	// then gets 503 with Retry-After (GROUNDWORK_PASSWORD_HASH_CONCURRENCY).
	// Default: twice GOMAXPROCS, as account.DefaultMaxConcurrentHashes.
	PasswordHashConcurrency int
	// DefaultWorkers is the concurrency of the default job queue
	// (GROUNDWORK_QUEUE_DEFAULT_WORKERS). Default 10.
	DefaultWorkers int
	// MaintenanceWorkers is the concurrency of the maintenance job queue
	// (GROUNDWORK_QUEUE_MAINTENANCE_WORKERS). Default 2.
	MaintenanceWorkers int
	// HeartbeatRetention is how long heartbeat rows are kept
	// (GROUNDWORK_HEARTBEAT_RETENTION). Default 168h.
	HeartbeatRetention time.Duration
	// BaseURL is the public URL of the app, used in links sent by email
	// (GROUNDWORK_BASE_URL). Default http://localhost:PORT.
	BaseURL string
	// SMTPURL is the mail server, smtp://user:pass@host:port (SMTP_URL).
	// Default empty: emails are written to the log instead (development only).
	SMTPURL string
	// SentryDSN is the Sentry project that panics, 5xx responses and job
	// failures are reported to (SENTRY_DSN), such as
	// https://PUBLIC_KEY@o0.ingest.sentry.io/PROJECT_ID. Default empty:
	// error tracking is off. Events carry GROUNDWORK_ENV as their environment.
	SentryDSN string
	// AlertWebhookURL is a Slack-compatible incoming webhook that serve
	// (and worker, for billing incidents) posts alerts to
	// (GROUNDWORK_ALERT_WEBHOOK_URL; internal/alert): backup or rehearsal
	// failure, WAL archiving failing, the webhook ledger stuck, a dispute
	// opened, an error-rate rise after a new version started. Default
	// empty: no in-app alerts.
	AlertWebhookURL string
	// MailFrom is the sender address of emails (GROUNDWORK_MAIL_FROM).
	// Default "Groundwork <no-reply@localhost>".
	MailFrom string
	// SessionIdleTimeout signs a user out after this long without a request
	// (GROUNDWORK_SESSION_IDLE_TIMEOUT). Default 12h.
	SessionIdleTimeout time.Duration
	// SessionLifetime signs a user out this long after signing in, however
	// active (GROUNDWORK_SESSION_LIFETIME). Default 168h.
	SessionLifetime time.Duration
	// EncryptionKeyset is the Tink keyset (cleartext JSON, or base64 of it)
	// that encrypts sensitive fields (GROUNDWORK_ENCRYPTION_KEYSET). Default
	// empty: required in production; in development a keyset is generated
	// into $GROUNDWORK_DATA_DIR/keyset.json. Parsed by internal/crypto.
	EncryptionKeyset string
	// BlindIndexKeyset is the Tink keyset of the blind indexes that keep
	// encrypted fields searchable (GROUNDWORK_BLIND_INDEX_KEYSET). Default
	// empty: required in production; in development generated into
	// $GROUNDWORK_DATA_DIR/blind-index-keyset.json.
	BlindIndexKeyset string
	// BackupURL is the blob store of logical backups (GROUNDWORK_BACKUP_URL):
	// file:///abs/dir or s3://bucket?region=... Default
	// file://$GROUNDWORK_DATA_DIR/backups.
	BackupURL string
	// BackupKeyset is the Tink streaming AEAD keyset that encrypts backups
	// (GROUNDWORK_BACKUP_KEYSET). Default empty: required in production; in
	// development generated into $GROUNDWORK_DATA_DIR/backup-keyset.json.
	BackupKeyset string
	// BackupDatabaseURL connects the backup to an external server as a role
	// that bypasses row-level security, with CREATEDB for rehearsals
	// (GROUNDWORK_BACKUP_DATABASE_URL). Default: the embedded cluster's
	// superuser, or DATABASE_OWNER_URL (which then needs BYPASSRLS).
	BackupDatabaseURL string
	// BackupKeepDaily, BackupKeepWeekly and BackupKeepMonthly are the
	// retention of backups (GROUNDWORK_BACKUP_KEEP_DAILY, _WEEKLY,
	// _MONTHLY). Defaults 7, 4, 6.
	BackupKeepDaily, BackupKeepWeekly, BackupKeepMonthly int
	// BackupInterval and BackupRehearsalInterval schedule the backup and
	// restore-rehearsal jobs (GROUNDWORK_BACKUP_INTERVAL, default 24h;
	// GROUNDWORK_BACKUP_REHEARSAL_INTERVAL, default 168h).
	BackupInterval, BackupRehearsalInterval time.Duration
	// ExportURL is the blob store of data exports (GROUNDWORK_EXPORT_URL),
	// the same kinds as BackupURL. Default file://$GROUNDWORK_DATA_DIR/exports.
	ExportURL string
	// ExportMaxConns caps the exports' own connection pool, apart from the
	// runtime pool (GROUNDWORK_EXPORT_MAX_CONNS). Default 2.
	ExportMaxConns int
	// ExportWorkers is the concurrency of the exports job queue
	// (GROUNDWORK_QUEUE_EXPORTS_WORKERS). Default 1.
	ExportWorkers int
	// ExportRetention is how long finished exports' files are kept
	// (GROUNDWORK_EXPORT_RETENTION). Default 168h (7 days).
	ExportRetention time.Duration
	// ExportStatementTimeout is the statement_timeout of the exports' pool,
	// per batch (GROUNDWORK_EXPORT_STATEMENT_TIMEOUT). Default 1m.
	ExportStatementTimeout time.Duration
	// ImportMaxBytes caps a CSV file uploaded for an import
	// (GROUNDWORK_IMPORT_MAX_BYTES), apart from MaxBodyBytes. Default
	// 104857600 (100 MiB).
	ImportMaxBytes int64
	// ExportWorkMem is the work_mem of the exports' pool
	// (GROUNDWORK_EXPORT_WORK_MEM). Default 16MB.
	ExportWorkMem string
	// ExportMaxRowsPerSec paces each export to at most this many rows a
	// second while the app answers requests
	// (GROUNDWORK_EXPORT_MAX_ROWS_PER_SEC; 0: never paced), trading its
	// speed for the interactive latency on servers whose CPUs also answer
	// requests. Default DefaultExportMaxRowsPerSec.
	ExportMaxRowsPerSec int
	// ExportStaleAfter is how long a running export's attempt may go
	// without a heartbeat before it is taken for dead and the export given
	// to a new job (GROUNDWORK_EXPORT_STALE_AFTER). Default 2m.
	ExportStaleAfter time.Duration
	// Billing is the Stripe billing configuration (see Billing).
	Billing Billing
	// OIDC lists the platform-wide OpenID Connect providers users may sign
	// in with (see OIDCProvider). Default none.
	OIDC []OIDCProvider
}

// Production reports whether the process runs with GROUNDWORK_ENV=production.
func (c Config) Production() bool { return c.Env == EnvProduction }

// Embedded reports whether the process uses the embedded PostgreSQL cluster.
func (c Config) Embedded() bool { return c.DatabaseURL == "" }

// Load reads the configuration through getenv and validates it. The error
// names the first offending variable and what is wrong with it.
func Load(getenv func(string) string) (Config, error) {
	p := parser{getenv: getenv}
	c := Config{
		Port:               p.int("PORT", 8080, 0, 65535),
		Env:                p.oneOf("GROUNDWORK_ENV", EnvDevelopment, EnvDevelopment, EnvProduction),
		DataDir:            p.dir("GROUNDWORK_DATA_DIR", "./var"),
		DatabaseURL:        p.dbURL("DATABASE_URL"),
		DatabaseOwnerURL:   p.dbURL("DATABASE_OWNER_URL"),
		DatabaseReplicaURL: p.dbURL("DATABASE_REPLICA_URL"),
		ReplicaMaxLag:      p.duration("GROUNDWORK_REPLICA_MAX_LAG", 30*time.Second),
		DatabasePooler:     p.oneOf("DATABASE_POOLER", PoolerNone, PoolerNone, PoolerTransaction),
		DatabaseDirectURL:  p.dbURL("DATABASE_DIRECT_URL"),
		DBMaxConns:         p.int("GROUNDWORK_DB_MAX_CONNS", 20, 1, 10000),
		LogLevel:           p.oneOf("GROUNDWORK_LOG_LEVEL", "info", "debug", "info", "warn", "error"),
		ShutdownTimeout:    p.duration("GROUNDWORK_SHUTDOWN_TIMEOUT", 30*time.Second),
		MaxBodyBytes:       int64(p.int("GROUNDWORK_MAX_BODY_BYTES", 1<<20, 1, 1<<30)),
		DefaultWorkers:     p.int("GROUNDWORK_QUEUE_DEFAULT_WORKERS", 10, 1, 10000),
		MaintenanceWorkers: p.int("GROUNDWORK_QUEUE_MAINTENANCE_WORKERS", 2, 1, 10000),
		HeartbeatRetention: p.duration("GROUNDWORK_HEARTBEAT_RETENTION", 168*time.Hour),
		SMTPURL:            p.smtpURL("SMTP_URL"),
		SentryDSN:          p.sentryDSN("SENTRY_DSN"),
		AlertWebhookURL:    p.str("GROUNDWORK_ALERT_WEBHOOK_URL", ""),
		MailFrom:           p.str("GROUNDWORK_MAIL_FROM", "Groundwork <no-reply@localhost>"),
		SessionIdleTimeout: p.duration("GROUNDWORK_SESSION_IDLE_TIMEOUT", 12*time.Hour),
		SessionLifetime:    p.duration("GROUNDWORK_SESSION_LIFETIME", 168*time.Hour),
		EncryptionKeyset:   strings.TrimSpace(getenv("GROUNDWORK_ENCRYPTION_KEYSET")),
		BlindIndexKeyset:   strings.TrimSpace(getenv("GROUNDWORK_BLIND_INDEX_KEYSET")),
	}
	c.Host = p.host("HOST", c.Production())
	c.ShutdownDrain = p.drain("GROUNDWORK_SHUTDOWN_DRAIN", c.Production())
	c.MaxConns = p.int("GROUNDWORK_MAX_CONNS", 10000, 1, 1000000)
	c.MetricsAddr = p.metricsAddr("GROUNDWORK_METRICS_ADDR", c.Production())
	c.DBRecoveryTimeout = p.duration("GROUNDWORK_DB_RECOVERY_TIMEOUT", time.Minute)
	c.BackupURL = p.str("GROUNDWORK_BACKUP_URL", "file://"+filepath.Join(c.DataDir, "backups"))
	c.BackupKeyset = strings.TrimSpace(getenv("GROUNDWORK_BACKUP_KEYSET"))
	c.BackupDatabaseURL = p.dbURL("GROUNDWORK_BACKUP_DATABASE_URL")
	c.BackupKeepDaily = p.int("GROUNDWORK_BACKUP_KEEP_DAILY", 7, 0, 10000)
	c.BackupKeepWeekly = p.int("GROUNDWORK_BACKUP_KEEP_WEEKLY", 4, 0, 10000)
	c.BackupKeepMonthly = p.int("GROUNDWORK_BACKUP_KEEP_MONTHLY", 6, 0, 10000)
	c.BackupInterval = p.duration("GROUNDWORK_BACKUP_INTERVAL", 24*time.Hour)
	c.BackupRehearsalInterval = p.duration("GROUNDWORK_BACKUP_REHEARSAL_INTERVAL", 168*time.Hour)
	c.ExportURL = p.str("GROUNDWORK_EXPORT_URL", "file://"+filepath.Join(c.DataDir, "exports"))
	c.ExportMaxConns = p.int("GROUNDWORK_EXPORT_MAX_CONNS", 2, 2, 100)
	c.ExportWorkers = p.int("GROUNDWORK_QUEUE_EXPORTS_WORKERS", 1, 1, 100)
	c.ExportRetention = p.duration("GROUNDWORK_EXPORT_RETENTION", 168*time.Hour)
	c.ExportStatementTimeout = p.duration("GROUNDWORK_EXPORT_STATEMENT_TIMEOUT", time.Minute)
	c.ExportWorkMem = p.str("GROUNDWORK_EXPORT_WORK_MEM", "16MB")
	c.ExportMaxRowsPerSec = p.int("GROUNDWORK_EXPORT_MAX_ROWS_PER_SEC", DefaultExportMaxRowsPerSec, 0, 1<<30)
	c.ExportStaleAfter = p.duration("GROUNDWORK_EXPORT_STALE_AFTER", 2*time.Minute)
	c.ImportMaxBytes = int64(p.int("GROUNDWORK_IMPORT_MAX_BYTES", 100<<20, 1, 1<<40))
	c.BaseURL = p.baseURL("GROUNDWORK_BASE_URL", fmt.Sprintf("http://localhost:%d", c.Port))
	c.RedisURL = p.redisURL("REDIS_URL")
	c.TrustedProxies = p.prefixes("GROUNDWORK_TRUSTED_PROXIES")
	c.RateLimits = p.rateLimits()
	c.PasswordHashConcurrency = p.int("GROUNDWORK_PASSWORD_HASH_CONCURRENCY", 2*runtime.GOMAXPROCS(0), 1, 10000)
	c.Billing = p.billing(c.Production())
	c.OIDC = p.oidcProviders()
	if p.err == nil && c.Production() && c.SMTPURL == "" {
		p.err = errors.New("SMTP_URL: required in production (without it, emails are only logged)")
	}
	if p.err == nil && c.DatabaseOwnerURL != "" && c.DatabaseURL == "" {
		p.err = errors.New("DATABASE_OWNER_URL: set without DATABASE_URL; set both, or neither to use the embedded cluster")
	}
	if p.err == nil {
		c.DatabaseURL, p.err = poolerURL(c)
	}
	return c, p.err
}

// Print writes the effective configuration, one VARIABLE=value per line, with
// every secret redacted: passwords in connection strings (Redact), the
// Sentry DSN's key and the keysets.
func (c Config) Print(w io.Writer) {
	rows := [][2]string{
		{"PORT", strconv.Itoa(c.Port)},
		{"HOST", c.Host},
		{"GROUNDWORK_ENV", c.Env},
		{"GROUNDWORK_DATA_DIR", c.DataDir},
		{"DATABASE_URL", Redact(c.DatabaseURL)},
		{"DATABASE_OWNER_URL", Redact(c.DatabaseOwnerURL)},
		{"DATABASE_REPLICA_URL", Redact(c.DatabaseReplicaURL)},
		{"GROUNDWORK_REPLICA_MAX_LAG", c.ReplicaMaxLag.String()},
		{"DATABASE_POOLER", c.DatabasePooler},
		{"DATABASE_DIRECT_URL", Redact(c.DatabaseDirectURL)},
		{"GROUNDWORK_DB_MAX_CONNS", strconv.Itoa(c.DBMaxConns)},
		{"GROUNDWORK_LOG_LEVEL", c.LogLevel},
		{"GROUNDWORK_SHUTDOWN_TIMEOUT", c.ShutdownTimeout.String()},
		{"GROUNDWORK_SHUTDOWN_DRAIN", c.ShutdownDrain.String()},
		{"GROUNDWORK_MAX_CONNS", strconv.Itoa(c.MaxConns)},
		{"GROUNDWORK_METRICS_ADDR", c.MetricsAddr},
		{"GROUNDWORK_DB_RECOVERY_TIMEOUT", c.DBRecoveryTimeout.String()},
		{"GROUNDWORK_MAX_BODY_BYTES", strconv.FormatInt(c.MaxBodyBytes, 10)},
		{"REDIS_URL", Redact(c.RedisURL)},
		{"GROUNDWORK_TRUSTED_PROXIES", joinPrefixes(c.TrustedProxies)},
		{"GROUNDWORK_QUEUE_DEFAULT_WORKERS", strconv.Itoa(c.DefaultWorkers)},
		{"GROUNDWORK_QUEUE_MAINTENANCE_WORKERS", strconv.Itoa(c.MaintenanceWorkers)},
		{"GROUNDWORK_HEARTBEAT_RETENTION", c.HeartbeatRetention.String()},
		{"GROUNDWORK_BASE_URL", c.BaseURL},
		{"SMTP_URL", Redact(c.SMTPURL)},
		{"SENTRY_DSN", redactSentryDSN(c.SentryDSN)},
		{"GROUNDWORK_ALERT_WEBHOOK_URL", redactSecret(c.AlertWebhookURL)}, // the URL's path is its secret
		{"GROUNDWORK_MAIL_FROM", c.MailFrom},
		{"GROUNDWORK_SESSION_IDLE_TIMEOUT", c.SessionIdleTimeout.String()},
		{"GROUNDWORK_SESSION_LIFETIME", c.SessionLifetime.String()},
		{"GROUNDWORK_ENCRYPTION_KEYSET", redactSecret(c.EncryptionKeyset)},
		{"GROUNDWORK_BLIND_INDEX_KEYSET", redactSecret(c.BlindIndexKeyset)},
		{"GROUNDWORK_BACKUP_URL", Redact(c.BackupURL)},
		{"GROUNDWORK_BACKUP_KEYSET", redactSecret(c.BackupKeyset)},
		{"GROUNDWORK_BACKUP_DATABASE_URL", Redact(c.BackupDatabaseURL)},
		{"GROUNDWORK_BACKUP_KEEP_DAILY", strconv.Itoa(c.BackupKeepDaily)},
		{"GROUNDWORK_BACKUP_KEEP_WEEKLY", strconv.Itoa(c.BackupKeepWeekly)},
		{"GROUNDWORK_BACKUP_KEEP_MONTHLY", strconv.Itoa(c.BackupKeepMonthly)},
		{"GROUNDWORK_BACKUP_INTERVAL", c.BackupInterval.String()},
		{"GROUNDWORK_BACKUP_REHEARSAL_INTERVAL", c.BackupRehearsalInterval.String()},
		{"GROUNDWORK_EXPORT_URL", Redact(c.ExportURL)},
		{"GROUNDWORK_EXPORT_MAX_CONNS", strconv.Itoa(c.ExportMaxConns)},
		{"GROUNDWORK_QUEUE_EXPORTS_WORKERS", strconv.Itoa(c.ExportWorkers)},
		{"GROUNDWORK_EXPORT_RETENTION", c.ExportRetention.String()},
		{"GROUNDWORK_EXPORT_STATEMENT_TIMEOUT", c.ExportStatementTimeout.String()},
		{"GROUNDWORK_EXPORT_WORK_MEM", c.ExportWorkMem},
		{"GROUNDWORK_EXPORT_MAX_ROWS_PER_SEC", strconv.Itoa(c.ExportMaxRowsPerSec)},
		{"GROUNDWORK_EXPORT_STALE_AFTER", c.ExportStaleAfter.String()},
		{"GROUNDWORK_IMPORT_MAX_BYTES", strconv.FormatInt(c.ImportMaxBytes, 10)},
	}
	rows = append(rows, c.Billing.rows()...)
	rows = append(rows, oidcRows(c.OIDC)...)
	for _, pol := range ratelimit.AllPolicies {
		rows = append(rows, [2]string{pol.EnvVar(), c.RateLimits[pol].String()})
	}
	rows = append(rows, [2]string{"GROUNDWORK_PASSWORD_HASH_CONCURRENCY", strconv.Itoa(c.PasswordHashConcurrency)})
	for _, r := range rows {
		fmt.Fprintf(w, "%s=%s\n", r[0], r[1])
	}
}

// redactSecret hides a secret value: "xxxxx" when set, "" when not.
func redactSecret(s string) string {
	if s == "" {
		return ""
	}
	return "xxxxx"
}

// parser reads variables and keeps the first error.
type parser struct {
	getenv func(string) string
	err    error
}

func (p *parser) fail(name, format string, args ...any) {
	if p.err == nil {
		p.err = fmt.Errorf("%s: %s", name, fmt.Sprintf(format, args...))
	}
}

func (p *parser) int(name string, def, lo, hi int) int {
	s := strings.TrimSpace(p.getenv(name))
	if s == "" {
		return def
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < lo || n > hi {
		p.fail(name, "%q is not a whole number from %d to %d", s, lo, hi)
		return def
	}
	return n
}

func (p *parser) duration(name string, def time.Duration) time.Duration {
	s := strings.TrimSpace(p.getenv(name))
	if s == "" {
		return def
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		p.fail(name, "%q is not a positive duration such as 30s or 5m", s)
		return def
	}
	return d
}

func (p *parser) oneOf(name, def string, allowed ...string) string {
	s := strings.TrimSpace(p.getenv(name))
	if s == "" {
		return def
	}
	for _, a := range allowed {
		if s == a {
			return s
		}
	}
	p.fail(name, "%q is not one of %s", s, strings.Join(allowed, ", "))
	return def
}

func (p *parser) dir(name, def string) string {
	s := strings.TrimSpace(p.getenv(name))
	if s == "" {
		s = def
	}
	abs, err := filepath.Abs(s)
	if err != nil {
		p.fail(name, "cannot make %q absolute: %v", s, err)
		return s
	}
	return abs
}

func (p *parser) str(name, def string) string {
	if s := strings.TrimSpace(p.getenv(name)); s != "" {
		return s
	}
	return def
}

// host reads a listen address: an IP address or a host name, without a
// port. Unset, it is every interface in production and loopback otherwise.
func (p *parser) host(name string, production bool) string {
	s := strings.TrimSpace(p.getenv(name))
	if s == "" {
		if production {
			return "0.0.0.0"
		}
		return "127.0.0.1"
	}
	if _, err := netip.ParseAddr(s); err != nil && (strings.ContainsAny(s, ":/ ") || len(s) > 253) {
		p.fail(name, "must be an IP address or a host name, without a port (e.g. 0.0.0.0 for every interface)")
	}
	return s
}

// drain reads a duration that may be 0: unset, it is 5s in production
// (long enough for a load balancer's health check to see /readyz fail)
// and 0 in development, where nothing balances the load.
func (p *parser) drain(name string, production bool) time.Duration {
	s := strings.TrimSpace(p.getenv(name))
	if s == "" {
		if production {
			return 5 * time.Second
		}
		return 0
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		p.fail(name, "%q is not a duration such as 5s, or 0", s)
		return 0
	}
	return d
}

// metricsAddr reads a host:port to listen on. Unset, it is loopback port
// 9090 in production and empty (the main listener) in development.
func (p *parser) metricsAddr(name string, production bool) string {
	s := strings.TrimSpace(p.getenv(name))
	if s == "" {
		if production {
			return "127.0.0.1:9090"
		}
		return ""
	}
	_, port, err := net.SplitHostPort(s)
	if n, perr := strconv.Atoi(port); err != nil || perr != nil || n < 0 || n > 65535 {
		p.fail(name, "%q is not a host:port such as 127.0.0.1:9090", s)
		return ""
	}
	return s
}

func (p *parser) baseURL(name, def string) string {
	s := strings.TrimRight(strings.TrimSpace(p.getenv(name)), "/")
	if s == "" {
		return def
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		p.fail(name, "%q is not an http(s) URL such as https://app.example.com", s)
		return def
	}
	return s
}

func (p *parser) smtpURL(name string) string {
	s := strings.TrimSpace(p.getenv(name))
	if s == "" {
		return ""
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "smtp" && u.Scheme != "smtps") || u.Hostname() == "" || u.Port() == "" {
		p.fail(name, "not a mail server URL such as smtp://user:password@mail.example.com:587 (%s)", Redact(s))
		return ""
	}
	return s
}

func (p *parser) sentryDSN(name string) string {
	s := strings.TrimSpace(p.getenv(name))
	if s == "" {
		return ""
	}
	if err := errtrack.ValidateDSN(s); err != nil {
		p.fail(name, "%v", err) // the error does not echo the DSN
		return ""
	}
	return s
}

func (p *parser) dbURL(name string) string {
	s := strings.TrimSpace(p.getenv(name))
	if s == "" {
		return ""
	}
	if _, err := pgx.ParseConfig(s); err != nil {
		// pgx's message may echo the password; say only what kind of problem it is.
		p.fail(name, "not a valid PostgreSQL connection string (%s)", Redact(err.Error()))
		return ""
	}
	return s
}

func (p *parser) redisURL(name string) string {
	s := strings.TrimSpace(p.getenv(name))
	if s == "" {
		return ""
	}
	if _, err := redis.ParseURL(s); err != nil {
		// The parser's message may echo the password: say only what is expected.
		p.fail(name, "not a Redis URL such as redis://:password@redis.internal:6379/0 (or rediss:// for TLS)")
		return ""
	}
	return s
}

// prefixes reads a comma-separated list of IP addresses and CIDRs; an
// address is a single-address prefix.
func (p *parser) prefixes(name string) []netip.Prefix {
	var out []netip.Prefix
	for item := range strings.SplitSeq(p.getenv(name), ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		var pfx netip.Prefix
		var err error
		if strings.Contains(item, "/") {
			pfx, err = netip.ParsePrefix(item)
			pfx = pfx.Masked()
		} else {
			var a netip.Addr
			a, err = netip.ParseAddr(item)
			a = a.Unmap().WithZone("")
			pfx = netip.PrefixFrom(a, a.BitLen())
		}
		if err != nil {
			p.fail(name, "%q is not an IP address or CIDR such as 10.0.0.0/8 or 2001:db8::/32", item)
			return nil
		}
		out = append(out, pfx)
	}
	return out
}

// rateLimits reads GROUNDWORK_RATE_<POLICY> for every rate-limit policy,
// each defaulting to its ratelimit.DefaultPolicies limit.
func (p *parser) rateLimits() ratelimit.Policies {
	limits := ratelimit.DefaultPolicies()
	for _, pol := range ratelimit.AllPolicies {
		name := pol.EnvVar()
		s := strings.TrimSpace(p.getenv(name))
		if s == "" {
			continue
		}
		l, err := ratelimit.ParseLimit(s)
		if err != nil {
			p.fail(name, "%v", err)
			continue
		}
		limits[pol] = l
	}
	return limits
}

// joinPrefixes writes prefixes comma-separated, as GROUNDWORK_TRUSTED_PROXIES reads them.
func joinPrefixes(prefixes []netip.Prefix) string {
	s := make([]string, len(prefixes))
	for i, pfx := range prefixes {
		s[i] = pfx.String()
	}
	return strings.Join(s, ",")
}
