package account

import (
	"context"
	"fmt"
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
	// OwnedOrgs takes a user being deleted out of their organisations,
	// refusing while they are the only owner of one (the org module's
	// Service). Required: without it DeleteAccount fails.
	OwnedOrgs OwnedOrgs
	// MaxConcurrentHashes bounds the argon2id password hashes and checks
	// running at once (see hasher). Default DefaultMaxConcurrentHashes().
	MaxConcurrentHashes int
	// HashWait is how long a password hash or check waits for a free slot
	// before failing with EUNAVAILABLE; negative means not at all. Default
	// 500ms.
	HashWait time.Duration
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
	if c.MaxConcurrentHashes <= 0 {
		c.MaxConcurrentHashes = DefaultMaxConcurrentHashes()
	}
	if c.HashWait == 0 {
		c.HashWait = defaultHashWait
	}
	return c
}

// OwnedOrgs is what DeleteAccount needs of the organisations a user
// belongs to; the org module's Service implements it. DeleteAccount must
// not orphan an organisation, and the check and the deletion must commit
// together, so it runs in the account's own transaction.
type OwnedOrgs interface {
	// LeaveAllTx takes userID out of every organisation inside tx, which
	// holds the user's row locked FOR UPDATE and deletes the user next,
	// and returns ECONFLICT (its message naming them) while the user is
	// the only owner of any. done is to be called once tx has committed.
	LeaveAllTx(ctx context.Context, tx pgx.Tx, userID string) (done func(), err error)
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
	outbox *mail.Outbox
	clock  gw.Clock
	cfg    Config
	logger *slog.Logger

	// dummyHash is a hash of a random password with the current parameters,
	// checked for unknown emails so that they take as long as known ones.
	dummyHash func() string
	// hashes bounds the password hashes running at once.
	hashes *hasher
}

// NewService returns a Service on pool (the runtime role), encrypting TOTP
// secrets with keys and queueing emails in outbox. A nil logger discards
// logs.
func NewService(pool *pgxpool.Pool, keys *crypto.Keyring, outbox *mail.Outbox, clock gw.Clock, cfg Config, logger *slog.Logger) *Service {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	cfg = cfg.withDefaults()
	return &Service{
		pool:      pool,
		keys:      keys,
		outbox:    outbox,
		clock:     clock,
		cfg:       cfg,
		logger:    logger,
		dummyHash: sync.OnceValue(newDummyHash),
		hashes:    newHasher(cfg.MaxConcurrentHashes, cfg.HashWait),
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

// email queues m in tx, the transaction of the change it reports: a worker
// sends it once tx commits, retrying while the relay fails (mail.Outbox).
// No request waits for SMTP, so a request that leads to an email takes as
// long as one that does not, and a slow relay tells nobody whether an
// address has an account.
func (s *Service) email(ctx context.Context, tx pgx.Tx, m mail.Message) error {
	if err := s.outbox.Enqueue(ctx, tx, m); err != nil {
		return fmt.Errorf("queue %q email: %w", m.Subject, err)
	}
	return nil
}
