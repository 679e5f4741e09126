// Package orgsso is single sign-on per organisation: an organisation's own
// OpenID Connect connection (its client secret encrypted with the
// field-encryption keyring), its email domains verified by DNS TXT
// records, and the rules that follow from them: which organisation an
// email address signs in with ("Continue with SSO"), and which members
// must sign in through it (Enforced). The protocol itself is internal/sso's;
// which account an identity is, the account module's; memberships, the
// org module's.
package orgsso

import (
	"context"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/groundwork-dev/groundwork/internal/crypto"
	"github.com/groundwork-dev/groundwork/internal/gw"
	"github.com/groundwork-dev/groundwork/internal/org"
)

// CallbackPath is where every organisation's identity provider sends the
// browser back; the redirect URI to register is BaseURL + CallbackPath.
const CallbackPath = "/login/sso/callback"

// Resolver looks up DNS TXT records; *net.Resolver is one.
type Resolver interface {
	LookupTXT(ctx context.Context, name string) ([]string, error)
}

// Members tells the Service who belongs to an organisation with which
// role; *org.Service is one.
type Members interface {
	MemberScope(ctx context.Context, userID, orgRef string) (gw.Scope, org.Org, error)
}

// Config is the Service's settings.
type Config struct {
	// BaseURL is the app's public URL; the redirect URI is BaseURL +
	// CallbackPath.
	BaseURL string
	// HTTPClient reaches the identity providers. Default http.DefaultClient.
	HTTPClient *http.Client
	// Resolver verifies domains. Default net.DefaultResolver.
	Resolver Resolver
	// Members checks that a break-glass user is an owner. Required.
	Members Members
}

// Service configures organisations' connections and domains, and signs in
// through them. Its methods are safe for concurrent use.
type Service struct {
	pool  *pgxpool.Pool
	keys  *crypto.Keyring
	clock gw.Clock
	cfg   Config
}

// NewService returns a Service on pool (the runtime role's).
func NewService(pool *pgxpool.Pool, keys *crypto.Keyring, clock gw.Clock, cfg Config) *Service {
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = http.DefaultClient
	}
	if cfg.Resolver == nil {
		cfg.Resolver = net.DefaultResolver
	}
	cfg.BaseURL = strings.TrimRight(cfg.BaseURL, "/")
	return &Service{pool: pool, keys: keys, clock: clock, cfg: cfg}
}

// RedirectURI is the address to register at every organisation's
// identity provider.
func (s *Service) RedirectURI() string { return s.cfg.BaseURL + CallbackPath }

func (s *Service) now() time.Time { return s.clock.Now().UTC().Truncate(time.Microsecond) }

// Connection is an organisation's OpenID Connect connection and options.
type Connection struct {
	OrgID    string
	Issuer   string
	ClientID string
	// HasSecret says a client secret is stored; it is never shown.
	HasSecret bool
	// RequireSSO: members whose address is in a verified domain must sign
	// in through this connection to open the organisation (Enforced).
	RequireSSO bool
	// JIT: someone who signs in through this connection with an address in
	// a verified domain and is not a member yet becomes one, with
	// DefaultRole.
	JIT         bool
	DefaultRole gw.Role
	// BreakGlassUserID is the owner who may still open the organisation
	// after a password sign-in while RequireSSO is on ("" for none).
	BreakGlassUserID string
	UpdatedAt        time.Time
}

// ConnectionInput is what an owner saves.
type ConnectionInput struct {
	Issuer   string
	ClientID string
	// ClientSecret replaces the stored one; "" keeps it.
	ClientSecret     string
	RequireSSO       bool
	JIT              bool
	DefaultRole      gw.Role
	BreakGlassUserID string
}

// Domain is an email domain of an organisation.
type Domain struct {
	ID         string
	Domain     string
	Token      string
	VerifiedAt *time.Time
	CreatedAt  time.Time
}

// TXTPrefix starts the value of a domain's verification record.
const TXTPrefix = "groundwork-verification="

// Record is the TXT record's value that verifies d.
func (d Domain) Record() string { return TXTPrefix + d.Token }

// RecordNames are the names where d's TXT record may be: the domain
// itself or _groundwork.<domain>.
func (d Domain) RecordNames() []string { return []string{"_groundwork." + d.Domain, d.Domain} }

// secretAD is the associated data of an organisation's client secret.
func secretAD(orgID string) crypto.AD {
	return crypto.NewAD("org_sso_connections", "client_secret", orgID)
}

// emailDomain is the lower-case domain of an email address, "" when it
// has none.
func emailDomain(email string) string {
	at := strings.LastIndexByte(email, '@')
	if at < 0 || at == len(email)-1 {
		return ""
	}
	return strings.ToLower(strings.TrimSpace(email[at+1:]))
}
