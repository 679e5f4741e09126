package account

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/groundwork-dev/groundwork/internal/crypto"
	"github.com/groundwork-dev/groundwork/internal/gw"
	"github.com/groundwork-dev/groundwork/internal/mail"
	"github.com/groundwork-dev/groundwork/internal/postgres"
)

// Config tunes the account Service.
type Config struct {
	// BaseURL is the public URL of the app, without a trailing slash; links
	// in emails start with it, e.g. BaseURL+"/verify-email?token=...".
	// Default "http://localhost:8080".
	BaseURL string
	// VerifyTTL is how long an email verification or email change link
	// works. Default 48h.
	VerifyTTL time.Duration
	// ResetTTL is how long a password reset link works. Default 1h.
	ResetTTL time.Duration
	// Issuer names the app in authenticator apps (the TOTP issuer) and in
	// emails. Default "Groundwork".
	Issuer string
	// OwnedOrgs tells DeleteAccount which organisations a user is the only
	// owner of (the org module's Service). Required: without it
	// DeleteAccount fails.
	OwnedOrgs OwnedOrgs
}

// withDefaults returns c with every zero field set to its default.
func (c Config) withDefaults() Config {
	c.BaseURL = strings.TrimRight(c.BaseURL, "/")
	if c.BaseURL == "" {
		c.BaseURL = "http://localhost:8080"
	}
	if c.VerifyTTL <= 0 {
		c.VerifyTTL = 48 * time.Hour
	}
	if c.ResetTTL <= 0 {
		c.ResetTTL = time.Hour
	}
	if c.Issuer == "" {
		c.Issuer = "Groundwork"
	}
	return c
}

// OwnedOrgs tells which organisations a user is the only owner of. The org
// module implements it; DeleteAccount refuses to orphan those organisations.
type OwnedOrgs interface {
	// SolelyOwnedOrgs returns the names of the organisations whose only
	// owner is userID.
	SolelyOwnedOrgs(ctx context.Context, userID string) ([]string, error)
}

// User is a person who can sign in.
type User struct {
	ID            string
	Email         string // lower case
	EmailVerified bool
	TwoFactor     bool // TOTP is on: sign-in needs VerifySecondFactor too
	Disabled      bool
	CreatedAt     time.Time
}

// Service holds the rules of accounts. Its methods are safe for concurrent
// use; each runs at most one transaction.
type Service struct {
	pool   *pgxpool.Pool
	keys   *crypto.Keyring // encrypts TOTP secrets
	mailer mail.Sender
	clock  gw.Clock
	cfg    Config
	logger *slog.Logger

	// dummyHash is a hash of a random password with the current parameters,
	// checked for unknown emails so that they take as long as known ones.
	dummyHash func() string
}

// NewService returns a Service on pool (the runtime role), encrypting TOTP
// secrets with keys and sending emails with mailer. A nil logger discards
// logs.
func NewService(pool *pgxpool.Pool, keys *crypto.Keyring, mailer mail.Sender, clock gw.Clock, cfg Config, logger *slog.Logger) *Service {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Service{
		pool:      pool,
		keys:      keys,
		mailer:    mailer,
		clock:     clock,
		cfg:       cfg.withDefaults(),
		logger:    logger,
		dummyHash: sync.OnceValue(newDummyHash),
	}
}

// User returns the user with the given ID. Errors: ENOTFOUND.
func (s *Service) User(ctx context.Context, id string) (User, error) {
	row, err := getUserByID(ctx, s.pool, id, false)
	return row.User, err
}

// UserByEmail returns the user with the given email address, in any case.
// Errors: ENOTFOUND.
func (s *Service) UserByEmail(ctx context.Context, email string) (User, error) {
	row, err := getUserByEmail(ctx, s.pool, normalizeEmail(email))
	return row.User, err
}

// inTx runs fn in one transaction. Accounts are global tables: no tenant
// setting is needed.
func (s *Service) inTx(ctx context.Context, fn func(pgx.Tx) error) error {
	return postgres.InTx(ctx, s.pool, postgres.TxOptions{}, fn)
}

// now is the Service's clock, in UTC and at PostgreSQL's precision.
func (s *Service) now() time.Time {
	return s.clock.Now().UTC().Truncate(time.Microsecond)
}

// sendQuietly sends m after the change it reports has been committed. A
// failure is logged, not returned: the change stands, and an error here
// would tell an anonymous caller whether an address has an account.
func (s *Service) sendQuietly(ctx context.Context, m mail.Message) {
	if err := s.mailer.Send(ctx, m); err != nil {
		s.logger.ErrorContext(ctx, "send account email", "subject", m.Subject, "error", err)
	}
}
