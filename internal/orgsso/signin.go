package orgsso

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/groundwork-dev/groundwork/internal/gw"
	"github.com/groundwork-dev/groundwork/internal/postgres"
	"github.com/groundwork-dev/groundwork/internal/sso"
)

// providerPrefix starts the provider name of an organisation's connection
// ("org:<org ID>"), in flows and in linked identities; a platform
// provider's name has no colon, so the two never meet.
const providerPrefix = "org:"

// ProviderName is the provider name of orgID's connection.
func ProviderName(orgID string) string { return providerPrefix + orgID }

// OrgOfProvider returns the organisation of a provider name, "" when it
// is not an organisation's.
func OrgOfProvider(name string) string {
	id, ok := strings.CutPrefix(name, providerPrefix)
	if !ok || !gw.ValidID(id) {
		return ""
	}
	return id
}

// client returns an sso.Client for orgID's connection, with its secret
// decrypted, and the connection.
func (s *Service) client(ctx context.Context, orgID string) (*sso.Client, Connection, error) {
	var c Connection
	var secret []byte
	err := postgres.InOrgTx(ctx, s.pool, orgID, func(tx pgx.Tx) error {
		var err error
		c, secret, err = getConnection(ctx, tx, orgID)
		return err
	})
	if err != nil {
		if gw.ErrorCode(err) == gw.ENOTFOUND {
			return nil, Connection{}, gw.Errorf(gw.ENOTFOUND, "This organisation has no single sign-on connection.")
		}
		return nil, Connection{}, fmt.Errorf("read sso connection: %w", err)
	}
	plain, err := s.keys.Decrypt(secret, secretAD(orgID))
	if err != nil {
		return nil, Connection{}, fmt.Errorf("decrypt sso client secret: %w", err)
	}
	p := sso.Provider{Name: ProviderName(orgID), Issuer: c.Issuer, ClientID: c.ClientID, ClientSecret: plain}
	return sso.NewSingle(p, s.RedirectURI(), s.cfg.HTTPClient, s.clock), c, nil
}

// Begin starts a sign-in through the connection of the organisation that
// verified email's domain: the flow to keep server-side (sso.Flow, used
// once) and the provider's URL to send the browser to. Errors: ENOTFOUND
// (no organisation verified the domain, or it has no connection);
// EUNAVAILABLE (the provider cannot be reached).
func (s *Service) Begin(ctx context.Context, email, next string) (sso.Flow, string, error) {
	orgID, err := s.OrgForEmail(ctx, email)
	if err != nil {
		return sso.Flow{}, "", err
	}
	c, _, err := s.client(ctx, orgID)
	if err != nil {
		return sso.Flow{}, "", err
	}
	return c.Begin(ctx, ProviderName(orgID), next)
}

// SignIn is a finished sign-in through an organisation's connection.
type SignIn struct {
	OrgID      string
	Identity   sso.Identity
	Connection Connection
}

// Finish completes flow, the one Begin returned for this browser, with the
// provider's answer (see sso.Client.Finish), through the connection of
// the flow's organisation and no other. The identity's email address must
// be in a domain that organisation verified: its provider vouches for its
// own domains only (another organisation's provider cannot sign anyone in
// with an address of yours). Such an address counts as verified even when
// the provider does not say so (Entra ID never does). Errors:
// EUNAUTHORIZED (see sso.Client.Finish), EFORBIDDEN (an address outside
// the organisation's verified domains), ENOTFOUND (the connection is
// gone), EUNAVAILABLE.
func (s *Service) Finish(ctx context.Context, flow sso.Flow, state, code, providerError string) (SignIn, error) {
	orgID := OrgOfProvider(flow.Provider)
	if orgID == "" { // no flow in the session, or a platform provider's
		return SignIn{}, gw.Errorf(gw.EUNAUTHORIZED, "This sign-in was not started here or was used already. Try again.")
	}
	c, conn, err := s.client(ctx, orgID)
	if err != nil {
		return SignIn{}, err
	}
	id, err := c.Finish(ctx, flow, state, code, providerError)
	if err != nil {
		return SignIn{}, err
	}
	if id.Email == "" {
		return SignIn{}, gw.Errorf(gw.EFORBIDDEN, "The identity provider sent no email address.")
	}
	owner, err := s.OrgForEmail(ctx, id.Email)
	if err != nil && gw.ErrorCode(err) != gw.ENOTFOUND {
		return SignIn{}, err
	}
	if owner != orgID {
		return SignIn{}, gw.Errorf(gw.EFORBIDDEN, "The identity provider signed you in as %s, whose domain this organisation has not verified.", id.Email)
	}
	id.EmailVerified = true
	return SignIn{OrgID: orgID, Identity: id, Connection: conn}, nil
}

// Enforced reports whether userID, whose address is email, must sign in
// through orgID's connection to open it: the organisation requires single
// sign-on, verified email's domain, and userID is not its break-glass
// owner. One round trip.
func (s *Service) Enforced(ctx context.Context, orgID, userID, email string) (bool, error) {
	domain, ok := normalizeDomain(emailDomain(email))
	if !ok {
		return false, nil
	}
	required, breakGlass, err := enforcement(ctx, s.pool, orgID, domain)
	if err != nil {
		return false, fmt.Errorf("read sso enforcement: %w", err)
	}
	return required && userID != breakGlass, nil
}
