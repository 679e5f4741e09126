package org

import (
	"log/slog"
	"net/mail"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/groundwork-dev/groundwork/internal/gw"
	gwmail "github.com/groundwork-dev/groundwork/internal/mail"
)

// Config configures a Service.
type Config struct {
	// BaseURL is the application's public URL, e.g. "https://app.example.com";
	// invitation links start with it. No default.
	BaseURL string
	// InviteTTL is how long an invitation can be accepted. Default 7 days.
	InviteTTL time.Duration
	// APIKeyCacheTTL is how long a successful API key lookup is remembered in
	// this process. Revocation through this Service forgets it at once; other
	// processes notice within the TTL. Default 10 seconds; negative disables
	// the cache.
	APIKeyCacheTTL time.Duration
	// Entitlements enforces the organisation's plan: seats on Invite and
	// AcceptInvitation, and no new seats while it is read-only. Default nil:
	// billing is not configured and nothing is limited.
	Entitlements Entitlements
}

// Defaults of Config.
const (
	DefaultInviteTTL      = 7 * 24 * time.Hour
	DefaultAPIKeyCacheTTL = 10 * time.Second
)

// Service manages organisations, their members, invitations and API keys. It
// checks the caller's authorization on every method and runs each method in
// one transaction under row-level security.
type Service struct {
	pool   *pgxpool.Pool
	outbox *gwmail.Outbox
	clock  gw.Clock
	cfg    Config
	logger *slog.Logger
	keys   *keyCache
}

// NewService returns a Service on pool (the runtime role's pool) that queues
// invitation emails in outbox and tells the time with clock.
func NewService(pool *pgxpool.Pool, outbox *gwmail.Outbox, clock gw.Clock, cfg Config, logger *slog.Logger) *Service {
	if cfg.InviteTTL <= 0 {
		cfg.InviteTTL = DefaultInviteTTL
	}
	if cfg.APIKeyCacheTTL == 0 {
		cfg.APIKeyCacheTTL = DefaultAPIKeyCacheTTL
	}
	cfg.BaseURL = strings.TrimRight(cfg.BaseURL, "/")
	return &Service{pool: pool, outbox: outbox, clock: clock, cfg: cfg, logger: logger,
		keys: newKeyCache(cfg.APIKeyCacheTTL)}
}

// Org is an organisation: a tenant.
type Org struct {
	ID         string
	Slug       string // URL name: lowercase letters, digits and dashes; never changes
	Name       string
	Require2FA bool // members must have two-factor authentication to use it
	CreatedAt  time.Time
}

// Membership is one organisation a user belongs to, with their role there.
type Membership struct {
	Org  Org
	Role gw.Role
}

// Member is one member of an organisation.
type Member struct {
	UserID    string
	Email     string
	Role      gw.Role
	TwoFactor bool // the user has two-factor authentication enabled
	JoinedAt  time.Time
}

// Invitation invites an email address to join an organisation with a role.
type Invitation struct {
	ID         string
	OrgID      string
	Email      string
	Role       gw.Role
	ExpiresAt  time.Time
	CreatedAt  time.Time
	AcceptedAt *time.Time
	RevokedAt  *time.Time
	OrgName    string
	// InvitedBy is the ID of the user who sent it; "" when no user did (an
	// API key) or their account is deleted. It is revoked when they leave
	// or are removed, or demoted below its role.
	InvitedBy      string
	InvitedByEmail string // their email address, "" with InvitedBy
}

// APIKey describes an organisation's API key. The key itself is shown only
// once, when it is created.
type APIKey struct {
	ID         string
	Name       string
	Prefix     string // the random part after "gw_", to recognise the key
	Role       gw.Role
	CreatedAt  time.Time
	LastUsedAt *time.Time // updated at most once a minute
	RevokedAt  *time.Time
	// CreatedBy is the ID of the user who created it; "" for a key of the
	// admin command line (or whose creator's account is deleted), which no
	// membership change revokes. A user's keys are revoked when they leave
	// or are removed, or demoted below the key's role.
	CreatedBy      string
	CreatedByEmail string // their email address, "" with CreatedBy
}

// maxNameLen is the longest organisation or API key name, in characters.
const maxNameLen = 100

// checkName trims name and checks it is 1–maxNameLen printable characters;
// what names the thing ("Name") for the error message.
func checkName(name, what string) (string, error) {
	name = strings.TrimSpace(name)
	n := utf8.RuneCountInString(name)
	invalid := func(msg string) error {
		return &gw.Error{Code: gw.EINVALID, Message: msg, Fields: map[string]string{"name": msg}}
	}
	switch {
	case n == 0:
		return "", invalid(what + " is required.")
	case n > maxNameLen:
		return "", invalid(what + " must be at most 100 characters.")
	case !gw.PlainName(name):
		return "", invalid(what + " may not contain control, direction-changing or invisible characters.")
	}
	return name, nil
}

// checkEmail trims email and checks it is a plain address.
func checkEmail(email string) (string, error) {
	email = strings.TrimSpace(email)
	a, err := mail.ParseAddress(email)
	if err != nil || a.Address != email || len(email) > 254 {
		msg := "Enter a valid email address."
		return "", &gw.Error{Code: gw.EINVALID, Message: msg, Fields: map[string]string{"email": msg}}
	}
	return email, nil
}

// rank orders roles: a higher rank may do at least what a lower one may.
func rank(r gw.Role) int {
	switch r {
	case gw.RoleOwner:
		return 4
	case gw.RoleAdmin:
		return 3
	case gw.RoleMember:
		return 2
	case gw.RoleViewer:
		return 1
	}
	return 0
}

// checkGrantable checks that role is one invitations and API keys may carry
// (admin, member or viewer) and no stronger than the granter's own role.
func checkGrantable(granter, role gw.Role) error {
	if role != gw.RoleAdmin && role != gw.RoleMember && role != gw.RoleViewer {
		msg := "Choose admin, member or viewer."
		return &gw.Error{Code: gw.EINVALID, Message: msg, Fields: map[string]string{"role": msg}}
	}
	if rank(role) > rank(granter) {
		return gw.Errorf(gw.EFORBIDDEN, "You may not grant a role above your own (%s).", granter)
	}
	return nil
}

// notFound returns the ENOTFOUND error for a missing thing, e.g. "Member".
func notFound(what string) error { return gw.Errorf(gw.ENOTFOUND, "%s not found.", what) }
