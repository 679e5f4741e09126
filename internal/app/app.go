// Package app wires Groundwork's modules together. New is the one place
// where every Service is built, each given its dependencies in its
// constructor; the serve and worker commands and the tests that need the
// whole application (internal/web's) all call it, so what runs in
// production is what the tests run.
//
// It builds modules only: the HTTP server (internal/web), the job workers'
// River client and the database are wired by cmd/groundwork around it.
package app

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/stripe/stripe-go/v85"
	"gocloud.dev/blob"
	_ "gocloud.dev/blob/memblob" // mem:// buckets, when GROUNDWORK_EXPORT_URL is empty (tests)

	"github.com/groundwork-dev/groundwork/internal/account"
	"github.com/groundwork-dev/groundwork/internal/audit"
	"github.com/groundwork-dev/groundwork/internal/backup"
	"github.com/groundwork-dev/groundwork/internal/billing"
	"github.com/groundwork-dev/groundwork/internal/config"
	"github.com/groundwork-dev/groundwork/internal/contacts"
	"github.com/groundwork-dev/groundwork/internal/crypto"
	"github.com/groundwork-dev/groundwork/internal/exports"
	"github.com/groundwork-dev/groundwork/internal/gw"
	"github.com/groundwork-dev/groundwork/internal/idempotency"
	"github.com/groundwork-dev/groundwork/internal/imports"
	"github.com/groundwork-dev/groundwork/internal/jobs"
	"github.com/groundwork-dev/groundwork/internal/mail"
	"github.com/groundwork-dev/groundwork/internal/operator"
	"github.com/groundwork-dev/groundwork/internal/org"
	"github.com/groundwork-dev/groundwork/internal/orgsso"
	"github.com/groundwork-dev/groundwork/internal/postgres"
	"github.com/groundwork-dev/groundwork/internal/sso"
)

// Options are the parts of the outside world New would otherwise build from
// the configuration; tests set them to their own doubles.
type Options struct {
	// Clock tells every module the time. Default gw.SystemClock.
	Clock gw.Clock
	// Mailer sends email. Default: SMTP over SMTP_URL, or the log when
	// SMTP_URL is unset.
	Mailer mail.Sender
	// Keys encrypt sensitive fields. Default: the keysets of the
	// configuration (crypto.Load; development keyset files under the data
	// directory when the variables are unset).
	Keys *crypto.Keyring
	// Stripe is the Stripe API client, used only when billing is
	// configured. Default: one on STRIPE_API_BASE with STRIPE_SECRET_KEY.
	Stripe *stripe.Client
	// Alert reports billing incidents (disputes) to error tracking. Nil
	// only logs them.
	Alert func(ctx context.Context, err error)
	// ExportPool is the exports' own connection pool (OpenExportPool), so
	// that an export never takes the interactive pool's connections. Nil
	// runs exports on the runtime pool (tests, admin commands).
	ExportPool *pgxpool.Pool
	// Replica, when not nil, is the read replica exports read from while
	// it is fresh enough (OpenReplica; DATABASE_REPLICA_URL).
	Replica *postgres.Replica
	// ExportBucket is the blob store of exports. Default: the one at
	// GROUNDWORK_EXPORT_URL, or an in-memory one when that is empty (tests).
	ExportBucket *blob.Bucket
	// HTTPClient reaches the OpenID Connect providers. Default
	// http.DefaultClient.
	HTTPClient *http.Client
	// Resolver looks up the TXT records that verify organisations' email
	// domains. Default net.DefaultResolver.
	Resolver orgsso.Resolver
}

// App is every module, wired to each other and to the database.
type App struct {
	// Accounts signs users up and in and manages their accounts.
	Accounts *account.Service
	// Passkeys registers passkeys and signs users in with them; nil when
	// the base URL's host cannot be a WebAuthn relying party ID (an IP
	// address): passkeys are then off.
	Passkeys *account.Passkeys
	// Orgs manages organisations, members, invitations and API keys.
	Orgs *org.Service
	// Contacts is the example product module.
	Contacts *contacts.Service
	// Audit reads and verifies the audit log.
	Audit *audit.Service
	// AuditSealer seals organisations' audit events into their chains
	// after commit (the audit.seal job and "groundwork audit seal").
	AuditSealer *audit.Sealer
	// Operators are the platform's staff, who may open /ops.
	Operators *operator.Service
	// Idempotency remembers the Idempotency-Keys of the API's creates.
	Idempotency *idempotency.Store
	// Exports exports organisations' data.
	Exports *exports.Service
	// Imports imports contacts from CSV files.
	Imports *imports.Service
	// Billing is nil when Stripe is not configured.
	Billing *Billing
	// SSO signs users in with the configured OpenID Connect providers; nil
	// when none is configured (GROUNDWORK_OIDC_PROVIDERS).
	SSO *sso.Client
	// OrgSSO is single sign-on per organisation.
	OrgSSO *orgsso.Service
	// Keys encrypt sensitive fields.
	Keys *crypto.Keyring
	// Mailer sends the modules' emails, from the mail job's worker
	// (AddWorkers); the modules never call it themselves.
	Mailer mail.Sender
	// Outbox is where the modules queue their emails, inside their
	// transactions; the mail job sends them after the commit.
	Outbox *mail.Outbox
	// Jobs is an insert-only River client: the modules enqueue jobs with it
	// inside their transactions; the processes that work them run their
	// own client (see AddWorkers).
	Jobs *river.Client[pgx.Tx]

	cfg    config.Config
	clock  gw.Clock
	pool   *pgxpool.Pool
	logger *slog.Logger
}

// New builds every module on pool (the runtime role's) from cfg, with the
// parts of opts that are set.
func New(pool *pgxpool.Pool, cfg config.Config, logger *slog.Logger, opts Options) (*App, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	a := &App{cfg: cfg, clock: opts.Clock, pool: pool, logger: logger, Keys: opts.Keys, Mailer: opts.Mailer}
	if a.clock == nil {
		a.clock = gw.SystemClock{}
	}
	var err error
	if a.Mailer == nil {
		if a.Mailer, err = newMailer(cfg, logger); err != nil {
			return nil, err
		}
	}
	if a.Keys == nil {
		if a.Keys, err = crypto.Load(KeySource(cfg), logger); err != nil {
			return nil, err
		}
	}
	if a.Jobs, err = jobs.NewClient(pool, jobs.Config{Logger: logger}); err != nil {
		return nil, err
	}
	a.Outbox = mail.NewOutbox(a.Jobs, a.Keys)
	if cfg.Billing.Enabled() {
		if a.Billing, err = newBilling(a, opts); err != nil {
			return nil, err
		}
	}

	orgCfg := org.Config{BaseURL: cfg.BaseURL}
	var contactLimits contacts.Entitlements
	if a.Billing != nil {
		orgCfg.Entitlements, contactLimits = a.Billing.Enforcer, a.Billing.Enforcer
	}
	a.Orgs = org.NewService(pool, a.Outbox, a.clock, orgCfg, logger)
	a.Accounts = account.NewService(pool, a.Keys, a.Outbox, a.clock,
		account.Config{BaseURL: cfg.BaseURL, OwnedOrgs: a.Orgs, MaxConcurrentHashes: cfg.PasswordHashConcurrency}, logger)
	if pk, err := account.NewPasskeys(a.Accounts, cfg.BaseURL, "Groundwork"); err != nil {
		logger.Info("passkeys are off: the base URL cannot be a WebAuthn relying party", "base_url", cfg.BaseURL, "error", err)
	} else {
		a.Passkeys = pk
	}
	a.Contacts = contacts.NewService(pool, a.Keys, a.clock, contactLimits)
	if len(cfg.OIDC) > 0 {
		a.SSO = sso.New(ssoProviders(cfg.OIDC), cfg.BaseURL, opts.HTTPClient, a.clock)
	}
	a.OrgSSO = orgsso.NewService(pool, a.Keys, a.clock, orgsso.Config{BaseURL: cfg.BaseURL,
		HTTPClient: opts.HTTPClient, Resolver: opts.Resolver, Members: a.Orgs})
	a.Audit = audit.NewService(pool)
	a.AuditSealer = audit.NewSealer(pool)
	a.Idempotency = idempotency.NewStore(pool)
	a.Operators = operator.NewService(pool, a.clock)
	bucket := opts.ExportBucket
	if bucket == nil {
		url := cfg.ExportURL
		if url == "" {
			url = "mem://"
		}
		if bucket, err = backup.OpenBucket(context.Background(), url); err != nil {
			return nil, fmt.Errorf("GROUNDWORK_EXPORT_URL: %w", err)
		}
	}
	a.Exports = exports.NewService(pool, opts.ExportPool, bucket, a.Keys, a.Jobs, a.clock,
		exports.Sources{Contacts: a.Contacts, Members: a.Orgs, Audit: a.Audit},
		exports.Config{Retention: cfg.ExportRetention, Logger: logger, Outbox: a.Outbox, BaseURL: cfg.BaseURL,
			APIKeys: a.Orgs, Replica: opts.Replica, MaxRowsPerSec: cfg.ExportMaxRowsPerSec,
			StaleAfter: cfg.ExportStaleAfter})
	a.Imports = imports.NewService(pool, opts.ExportPool, bucket, a.Contacts, a.Jobs, a.clock,
		imports.Config{MaxBytes: cfg.ImportMaxBytes, Logger: logger})
	if a.Billing != nil {
		a.Billing.Notifier = &billing.Notifier{Pool: pool, Outbox: a.Outbox, Contacts: a.Orgs.BillingContacts,
			Alert: opts.Alert, BaseURL: cfg.BaseURL, Logger: logger}
		a.Billing.members = memberCounter(pool, a.Orgs)
	}
	return a, nil
}

// ssoProviders converts the configured OIDC providers for sso.New.
func ssoProviders(ps []config.OIDCProvider) []sso.Provider {
	out := make([]sso.Provider, len(ps))
	for i, p := range ps {
		out[i] = sso.Provider{Name: p.Name, Label: p.Label, Issuer: p.Issuer,
			ClientID: p.ClientID, ClientSecret: p.ClientSecret, Scopes: p.Scopes}
	}
	return out
}

// EncryptedTables are the modules that store encrypted fields, for key
// rotation (crypto.ReencryptWorker, "groundwork keys status").
func (a *App) EncryptedTables() []crypto.Table {
	return []crypto.Table{a.Contacts, a.Accounts, a.OrgSSO}
}

// KeySource is where cfg's encryption and blind-index keysets come from.
func KeySource(cfg config.Config) crypto.Source {
	return crypto.Source{
		EncryptionKeyset: cfg.EncryptionKeyset,
		BlindIndexKeyset: cfg.BlindIndexKeyset,
		DataDir:          cfg.DataDir,
		Production:       cfg.Production(),
	}
}

// newMailer sends over SMTP_URL, or writes emails to the log when it is unset.
func newMailer(cfg config.Config, logger *slog.Logger) (mail.Sender, error) {
	if cfg.SMTPURL == "" {
		logger.Warn("SMTP_URL is not set: emails are written to the log instead of being sent")
		return mail.NewLogSender(logger), nil
	}
	m, err := mail.NewSMTP(cfg.SMTPURL, cfg.MailFrom)
	if err != nil {
		return nil, fmt.Errorf("SMTP_URL: %w", err)
	}
	return m, nil
}

// OpenReplica opens the exports' pool on the read replica of
// cfg.DatabaseReplicaURL (the runtime role there, with the settings of
// OpenExportPool), used while it lags by at most cfg.ReplicaMaxLag; nil
// without a replica. The replica need not answer yet: its lag is checked
// before each export, which falls back to the primary meanwhile. A
// non-nil tracer traces its queries, as on the runtime pool.
func OpenReplica(ctx context.Context, cfg config.Config, tracer ...pgx.QueryTracer) (*postgres.Replica, error) {
	if cfg.DatabaseReplicaURL == "" {
		return nil, nil
	}
	pool, err := postgres.OpenIsolated(ctx, cfg.DatabaseReplicaURL, cfg.ExportMaxConns, map[string]string{
		"statement_timeout": fmt.Sprint(cfg.ExportStatementTimeout.Milliseconds()),
		"work_mem":          cfg.ExportWorkMem,
		"application_name":  "groundwork-exports-replica",
	}, tracer...)
	if err != nil {
		return nil, fmt.Errorf("DATABASE_REPLICA_URL: %w", err)
	}
	return postgres.NewReplica(pool, cfg.ReplicaMaxLag), nil
}

// OpenExportPool opens the exports' own connection pool on url (the
// runtime role): at most cfg.ExportMaxConns connections, whose sessions
// run with cfg's export statement_timeout and work_mem. url is
// DATABASE_DIRECT_URL behind a transaction pooler. A non-nil tracer traces
// its queries, as on the runtime pool.
func OpenExportPool(ctx context.Context, url string, cfg config.Config, tracer ...pgx.QueryTracer) (*pgxpool.Pool, error) {
	pool, err := postgres.OpenIsolated(ctx, url, cfg.ExportMaxConns, map[string]string{
		"statement_timeout": fmt.Sprint(cfg.ExportStatementTimeout.Milliseconds()),
		"work_mem":          cfg.ExportWorkMem,
		"application_name":  "groundwork-exports",
	}, tracer...)
	if err != nil {
		return nil, fmt.Errorf("exports pool: %w", err)
	}
	return pool, nil
}
