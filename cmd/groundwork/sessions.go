package main

import (
	"fmt"
	"log/slog"
	"net/http"

	"github.com/alexedwards/scs/pgxstore"
	"github.com/alexedwards/scs/v2"
	"github.com/groundwork-dev/groundwork/internal/account"
	"github.com/groundwork-dev/groundwork/internal/audit"
	"github.com/groundwork-dev/groundwork/internal/config"
	"github.com/groundwork-dev/groundwork/internal/contacts"
	"github.com/groundwork-dev/groundwork/internal/crypto"
	"github.com/groundwork-dev/groundwork/internal/gw"
	"github.com/groundwork-dev/groundwork/internal/mail"
	"github.com/groundwork-dev/groundwork/internal/org"
	"github.com/jackc/pgx/v5/pgxpool"
)

// services are the modules, wired to each other and to the database.
type services struct {
	accounts *account.Service
	orgs     *org.Service
	contacts *contacts.Service
	audit    *audit.Service
	// billing is nil when Stripe is not configured.
	billing *billingParts
	// keys encrypt sensitive fields; its tables are the modules that
	// store them, for key rotation.
	keys   *crypto.Keyring
	tables []crypto.Table
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

// newServices builds every module on pool.
func newServices(pool *pgxpool.Pool, cfg config.Config, logger *slog.Logger) (*services, error) {
	mailer, err := newMailer(cfg, logger)
	if err != nil {
		return nil, err
	}
	keys, err := crypto.Load(keySource(cfg), logger)
	if err != nil {
		return nil, err
	}
	clock := gw.SystemClock{}
	bill, err := newBilling(pool, cfg, mailer, logger)
	if err != nil {
		return nil, err
	}
	orgCfg := org.Config{BaseURL: cfg.BaseURL}
	if bill != nil {
		orgCfg.Entitlements = bill.policy
	}
	orgs := org.NewService(pool, mailer, clock, orgCfg, logger)
	accounts := account.NewService(pool, keys, mailer, clock, account.Config{BaseURL: cfg.BaseURL}, logger)
	accounts.SetOwnedOrgs(orgs)
	contactsSvc := contacts.NewService(pool, keys, clock)
	if bill != nil {
		contactsSvc.WithEntitlements(bill.policy)
		bill.notifier.Contacts = orgs.BillingContacts
	}
	return &services{accounts: accounts, orgs: orgs, contacts: contactsSvc,
		audit: audit.NewService(pool, org.CanReadAudit), billing: bill,
		keys: keys, tables: []crypto.Table{contactsSvc, accounts}}, nil
}

// newSessions is the session manager: cookie gw_session (HttpOnly,
// SameSite=Lax, Secure in production), stored in PostgreSQL, with idle and
// absolute timeouts. Ended sessions are deleted by the account module's
// periodic job, not by the store's own goroutine.
func newSessions(pool *pgxpool.Pool, cfg config.Config) *scs.SessionManager {
	sm := scs.New()
	sm.Store = pgxstore.NewWithCleanupInterval(pool, 0)
	sm.IdleTimeout = cfg.SessionIdleTimeout
	sm.Lifetime = cfg.SessionLifetime
	sm.Cookie.Name = "gw_session"
	sm.Cookie.HttpOnly = true
	sm.Cookie.SameSite = http.SameSiteLaxMode
	sm.Cookie.Secure = cfg.Production()
	sm.Cookie.Path = "/"
	return sm
}
