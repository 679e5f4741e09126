package orgsso_test

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/groundwork-dev/groundwork/internal/crypto"
	"github.com/groundwork-dev/groundwork/internal/gw"
	"github.com/groundwork-dev/groundwork/internal/org"
	"github.com/groundwork-dev/groundwork/internal/orgsso"
	"github.com/groundwork-dev/groundwork/internal/orgsso/dnstest"
	"github.com/groundwork-dev/groundwork/internal/pgtest"
	"github.com/groundwork-dev/groundwork/internal/sso/ssotest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// fields returns the per-field problems of a kernel error.
func fields(t *testing.T, err error) map[string]string {
	t.Helper()
	var e *gw.Error
	require.ErrorAs(t, err, &e)
	return e.Fields
}

// bundle is one test's world: a fresh database, a DNS server and the
// Service resolving through it.
type bundle struct {
	db  *pgtest.DB
	dns *dnstest.Server
	svc *orgsso.Service
}

func newBundle(t *testing.T) *bundle {
	t.Helper()
	db := pgtest.New(t)
	dns := dnstest.Start(t)
	keys, err := crypto.GenerateKeyring()
	require.NoError(t, err)
	orgs := org.NewService(db.Runtime, nil, gw.SystemClock{}, org.Config{}, nil)
	svc := orgsso.NewService(db.Runtime, keys, gw.SystemClock{},
		orgsso.Config{BaseURL: "http://app.test", Resolver: dns.Resolver(), Members: orgs})
	return &bundle{db: db, dns: dns, svc: svc}
}

// owner returns an owner's scope of a new organisation.
func (b *bundle) owner(t *testing.T) gw.Scope {
	return pgtest.MemberScope(t, b.db, gw.RoleOwner)
}

// verified adds domain to scope's organisation and verifies it through
// its TXT record at _groundwork.<domain>.
func (b *bundle) verified(t *testing.T, scope gw.Scope, domain string) orgsso.Domain {
	t.Helper()
	ctx := context.Background()
	d, err := b.svc.AddDomain(ctx, scope, domain)
	require.NoError(t, err)
	b.dns.SetTXT("_groundwork."+domain, d.Record())
	d, err = b.svc.VerifyDomain(ctx, scope, d.ID)
	require.NoError(t, err)
	require.NotNil(t, d.VerifiedAt)
	return d
}

// auditActions lists the actions recorded in orgID's audit log.
func (b *bundle) auditActions(t *testing.T, orgID string) []string {
	t.Helper()
	ctx := context.Background()
	tx, err := b.db.Owner.Begin(ctx)
	require.NoError(t, err)
	defer tx.Rollback(ctx)
	_, err = tx.Exec(ctx, `SELECT set_config('app.org_id', $1, true)`, orgID)
	require.NoError(t, err)
	rows, err := tx.Query(ctx, `SELECT action FROM audit_events WHERE org_id = $1 ORDER BY occurred_at, id`, orgID)
	require.NoError(t, err)
	var out []string
	for rows.Next() {
		var a string
		require.NoError(t, rows.Scan(&a))
		out = append(out, a)
	}
	require.NoError(t, rows.Err())
	return out
}

func TestVerifyDomain(t *testing.T) {
	t.Parallel()
	b := newBundle(t)
	ctx := context.Background()
	acme := b.owner(t)

	d, err := b.svc.AddDomain(ctx, acme, "Acme.Example.")
	require.NoError(t, err)
	require.Equal(t, "acme.example", d.Domain)
	require.True(t, strings.HasPrefix(d.Record(), "groundwork-verification="))

	_, err = b.svc.AddDomain(ctx, acme, "acme.example")
	require.Equal(t, gw.ECONFLICT, gw.ErrorCode(err), "added twice")
	_, err = b.svc.AddDomain(ctx, acme, "not a domain")
	require.Equal(t, gw.EINVALID, gw.ErrorCode(err))

	// No record at all.
	_, err = b.svc.VerifyDomain(ctx, acme, d.ID)
	require.Equal(t, gw.EINVALID, gw.ErrorCode(err))
	require.Contains(t, err.Error(), "No TXT record")

	// A record with another token (e.g. another organisation's, or stale).
	b.dns.SetTXT("acme.example", "v=spf1 -all", "groundwork-verification=WRONG")
	_, err = b.svc.VerifyDomain(ctx, acme, d.ID)
	require.Equal(t, gw.EINVALID, gw.ErrorCode(err))
	require.Contains(t, err.Error(), "another token")
	_, err = b.svc.OrgForEmail(ctx, "ann@acme.example")
	require.Equal(t, gw.ENOTFOUND, gw.ErrorCode(err), "an unverified domain signs no one in")

	// The right one, at the domain itself, beside others.
	b.dns.SetTXT("acme.example", "v=spf1 -all", d.Record())
	d, err = b.svc.VerifyDomain(ctx, acme, d.ID)
	require.NoError(t, err)
	require.NotNil(t, d.VerifiedAt)
	orgID, err := b.svc.OrgForEmail(ctx, "Ann@ACME.example")
	require.NoError(t, err)
	require.Equal(t, acme.OrgID, orgID)
	_, err = b.svc.OrgForEmail(ctx, "ann@elsewhere.example")
	require.Equal(t, gw.ENOTFOUND, gw.ErrorCode(err))
	require.Contains(t, err.Error(), "No organisation uses single sign-on for elsewhere.example")

	// Another organisation cannot verify it, even with its own record.
	rival := b.owner(t)
	rd, err := b.svc.AddDomain(ctx, rival, "acme.example")
	require.NoError(t, err, "adding is allowed; verifying is what counts")
	b.dns.SetTXT("_groundwork.acme.example", rd.Record())
	_, err = b.svc.VerifyDomain(ctx, rival, rd.ID)
	require.Equal(t, gw.ECONFLICT, gw.ErrorCode(err))
	require.Contains(t, err.Error(), "verified by another organisation")
	orgID, err = b.svc.OrgForEmail(ctx, "ann@acme.example")
	require.NoError(t, err)
	require.Equal(t, acme.OrgID, orgID)

	// The rival cannot see or touch acme's domain.
	_, err = b.svc.VerifyDomain(ctx, rival, d.ID)
	require.Equal(t, gw.ENOTFOUND, gw.ErrorCode(err))
	require.Equal(t, gw.ENOTFOUND, gw.ErrorCode(b.svc.RemoveDomain(ctx, rival, d.ID)))
	_, _, list, err := b.svc.Settings(ctx, rival)
	require.NoError(t, err)
	require.Len(t, list, 1)
	require.Equal(t, rd.ID, list[0].ID)

	// Only owners configure single sign-on.
	admin := pgtest.MemberScope(t, b.db, gw.RoleAdmin)
	_, err = b.svc.AddDomain(ctx, admin, "admin.example")
	require.Equal(t, gw.EFORBIDDEN, gw.ErrorCode(err))

	// Once acme removes it, the rival may verify it.
	require.NoError(t, b.svc.RemoveDomain(ctx, acme, d.ID))
	_, err = b.svc.VerifyDomain(ctx, rival, rd.ID)
	require.NoError(t, err)

	require.Equal(t, []string{"sso.domain_added", "sso.domain_verified", "sso.domain_removed"}, b.auditActions(t, acme.OrgID))
}

func TestSaveConnection(t *testing.T) {
	t.Parallel()
	b := newBundle(t)
	ctx := context.Background()
	acme := b.owner(t)
	op := ssotest.Start(t, "acme-client", "acme-secret", b.svc.RedirectURI())

	in := orgsso.ConnectionInput{Issuer: op.Issuer(), ClientID: "acme-client", DefaultRole: gw.RoleMember}
	_, err := b.svc.SaveConnection(ctx, acme, in)
	require.Equal(t, gw.EINVALID, gw.ErrorCode(err), "a secret is needed the first time")
	require.Contains(t, fields(t, err), "client_secret")

	for _, tc := range []struct{ issuer, want string }{
		{"http://127.0.0.1:1", "cannot be reached"},
		{op.Issuer() + "/nothing-here", "does not serve an OpenID Connect discovery document"},
		{op.Issuer() + "/", "names another issuer"},
		{"ftp://idp.example", "https URL"},
	} {
		bad := in
		bad.Issuer, bad.ClientSecret = tc.issuer, "acme-secret"
		_, err := b.svc.SaveConnection(ctx, acme, bad)
		require.Equal(t, gw.EINVALID, gw.ErrorCode(err), tc.issuer)
		require.Contains(t, fields(t, err)["issuer"], tc.want, tc.issuer)
	}

	member := gw.Scope{Actor: gw.Actor{UserID: pgtest.User(t, b.db, "m@acme.example")}, OrgID: acme.OrgID, Role: gw.RoleMember}
	pgtest.Member(t, b.db, acme.OrgID, member.Actor.UserID, gw.RoleMember)
	bad := in
	bad.ClientSecret, bad.BreakGlassUserID = "acme-secret", member.Actor.UserID
	_, err = b.svc.SaveConnection(ctx, acme, bad)
	require.Equal(t, gw.EINVALID, gw.ErrorCode(err))
	require.Contains(t, fields(t, err), "break_glass")
	_, err = b.svc.SaveConnection(ctx, member, in)
	require.Equal(t, gw.EFORBIDDEN, gw.ErrorCode(err))

	in.ClientSecret, in.BreakGlassUserID, in.RequireSSO, in.JIT = "acme-secret", acme.Actor.UserID, true, true
	c, err := b.svc.SaveConnection(ctx, acme, in)
	require.NoError(t, err)
	require.True(t, c.HasSecret)

	// The secret is stored encrypted.
	var raw []byte
	tx, err := b.db.Owner.Begin(ctx)
	require.NoError(t, err)
	_, err = tx.Exec(ctx, `SELECT set_config('app.org_id', $1, true)`, acme.OrgID)
	require.NoError(t, err)
	require.NoError(t, tx.QueryRow(ctx, `SELECT client_secret FROM org_sso_connections`).Scan(&raw))
	require.NoError(t, tx.Rollback(ctx))
	require.NotEmpty(t, raw)
	require.False(t, bytes.Contains(raw, []byte("acme-secret")))

	// Saving again without a secret keeps it.
	in.ClientSecret, in.JIT = "", false
	_, err = b.svc.SaveConnection(ctx, acme, in)
	require.NoError(t, err)
	got, ok, _, err := b.svc.Settings(ctx, acme)
	require.NoError(t, err)
	require.True(t, ok)
	require.True(t, got.HasSecret)
	require.False(t, got.JIT)
	require.Equal(t, acme.Actor.UserID, got.BreakGlassUserID)

	require.Equal(t, []string{"sso.configured", "sso.configured"}, b.auditActions(t, acme.OrgID))
}

// TestSignIn: each organisation's sign-in goes through its own
// connection, and an organisation's identity provider signs in only
// addresses of the domains that organisation verified.
func TestSignIn(t *testing.T) {
	t.Parallel()
	b := newBundle(t)
	ctx := context.Background()
	acme, evil := b.owner(t), b.owner(t)
	acmeOP := ssotest.Start(t, "acme-client", "acme-secret", b.svc.RedirectURI())
	evilOP := ssotest.Start(t, "evil-client", "evil-secret", b.svc.RedirectURI())
	for _, o := range []struct {
		scope                  gw.Scope
		op                     *ssotest.Provider
		client, secret, domain string
	}{{acme, acmeOP, "acme-client", "acme-secret", "acme.example"}, {evil, evilOP, "evil-client", "evil-secret", "evil.example"}} {
		_, err := b.svc.SaveConnection(ctx, o.scope, orgsso.ConnectionInput{Issuer: o.op.Issuer(), ClientID: o.client,
			ClientSecret: o.secret, RequireSSO: true, BreakGlassUserID: o.scope.Actor.UserID})
		require.NoError(t, err)
		b.verified(t, o.scope, o.domain)
	}
	acmeOP.AddUser("ann", "sub-ann", "ann@acme.example", false) // Entra-like: email_verified not sent
	// The attacker's provider vouches for an address of acme's domain.
	evilOP.AddUser("mallory", "sub-mallory", "ceo@acme.example", true)

	// Unknown domain.
	_, _, err := b.svc.Begin(ctx, "someone@nowhere.example", "/orgs")
	require.Equal(t, gw.ENOTFOUND, gw.ErrorCode(err))

	// Acme's member signs in through acme's provider.
	flow, authURL, err := b.svc.Begin(ctx, "ann@acme.example", "/orgs")
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(authURL, acmeOP.Issuer()), authURL)
	require.Contains(t, authURL, "code_challenge_method=S256")
	cb := acmeOP.LogIn(t, authURL, "ann")
	require.Equal(t, orgsso.CallbackPath, cb.Path)
	in, err := b.svc.Finish(ctx, flow, cb.Query().Get("state"), cb.Query().Get("code"), "")
	require.NoError(t, err)
	require.Equal(t, acme.OrgID, in.OrgID)
	require.Equal(t, "ann@acme.example", in.Identity.Email)
	require.True(t, in.Identity.EmailVerified, "the organisation verified the domain")
	require.Equal(t, orgsso.ProviderName(acme.OrgID), in.Identity.Provider)

	// Replayed: the code was used.
	_, err = b.svc.Finish(ctx, flow, cb.Query().Get("state"), cb.Query().Get("code"), "")
	require.Equal(t, gw.EUNAUTHORIZED, gw.ErrorCode(err))

	// The attacker's provider, through the attacker's organisation, cannot
	// sign in an address of acme's domain.
	flow, authURL, err = b.svc.Begin(ctx, "anyone@evil.example", "/orgs")
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(authURL, evilOP.Issuer()), authURL)
	cb = evilOP.LogIn(t, authURL, "mallory")
	_, err = b.svc.Finish(ctx, flow, cb.Query().Get("state"), cb.Query().Get("code"), "")
	require.Equal(t, gw.EFORBIDDEN, gw.ErrorCode(err))
	require.Contains(t, err.Error(), "has not verified")

	// A flow naming acme, finished with the attacker's callback: acme's
	// connection is used, which refuses the attacker's code.
	flow, authURL, err = b.svc.Begin(ctx, "anyone@evil.example", "/orgs")
	require.NoError(t, err)
	cb = evilOP.LogIn(t, authURL, "mallory")
	flow.Provider = orgsso.ProviderName(acme.OrgID)
	_, err = b.svc.Finish(ctx, flow, cb.Query().Get("state"), cb.Query().Get("code"), "")
	require.Equal(t, gw.EUNAUTHORIZED, gw.ErrorCode(err))

	// A platform provider's flow is not an organisation's.
	flow.Provider = "google"
	_, err = b.svc.Finish(ctx, flow, flow.State, "code", "")
	require.Equal(t, gw.EUNAUTHORIZED, gw.ErrorCode(err))

	// Enforcement: acme's domain, not its break-glass owner.
	ann := gw.NewID()
	on, err := b.svc.Enforced(ctx, acme.OrgID, ann, "ann@acme.example")
	require.NoError(t, err)
	require.True(t, on)
	on, err = b.svc.Enforced(ctx, acme.OrgID, acme.Actor.UserID, "boss@acme.example")
	require.NoError(t, err)
	require.False(t, on, "the break-glass owner")
	on, err = b.svc.Enforced(ctx, acme.OrgID, ann, "ann@gmail.example")
	require.NoError(t, err)
	require.False(t, on, "an address outside the verified domains")
	on, err = b.svc.Enforced(ctx, evil.OrgID, ann, "ann@acme.example")
	require.NoError(t, err)
	require.False(t, on, "another organisation's domain")

	// A break-glass user who is no longer an owner is bound like the others.
	tx, err := b.db.Owner.Begin(ctx)
	require.NoError(t, err)
	_, err = tx.Exec(ctx, `SELECT set_config('app.org_id', $1, true)`, acme.OrgID)
	require.NoError(t, err)
	_, err = tx.Exec(ctx, `UPDATE memberships SET role = 'admin' WHERE org_id = $1 AND user_id = $2`, acme.OrgID, acme.Actor.UserID)
	require.NoError(t, err)
	require.NoError(t, tx.Commit(ctx))
	on, err = b.svc.Enforced(ctx, acme.OrgID, acme.Actor.UserID, "boss@acme.example")
	require.NoError(t, err)
	require.True(t, on, "a demoted break-glass user")
}
