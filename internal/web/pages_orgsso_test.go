package web

import (
	"context"
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"github.com/stretchr/testify/require"

	"github.com/groundwork-dev/groundwork/internal/crypto"
	"github.com/groundwork-dev/groundwork/internal/gw"
	"github.com/groundwork-dev/groundwork/internal/orgsso"
	"github.com/groundwork-dev/groundwork/internal/orgsso/dnstest"
	"github.com/groundwork-dev/groundwork/internal/sso"
	"github.com/groundwork-dev/groundwork/internal/sso/ssotest"
)

// orgSSOEnv is a server whose organisations may configure single sign-on,
// with a DNS server and an OpenID provider running in the test.
type orgSSOEnv struct {
	*ssoEnv // reuses its do helper; its platform provider is not used
	dns     *dnstest.Server
	svc     *orgsso.Service
	orgOP   *ssotest.Provider
}

func newOrgSSOEnv(t *testing.T) *orgSSOEnv {
	t.Helper()
	e := newEnv(t)
	dns := dnstest.Start(t)
	srv := httptest.NewUnstartedServer(nil)
	base := "http://" + srv.Listener.Addr().String()
	keys, err := crypto.GenerateKeyring()
	require.NoError(t, err)
	svc := orgsso.NewService(e.db.Runtime, keys, gw.SystemClock{},
		orgsso.Config{BaseURL: base, Resolver: dns.Resolver(), Members: e.orgs})
	op := ssotest.Start(t, "acme-client", "acme-secret", svc.RedirectURI())
	platform := ssotest.Start(t, "gw-web", "gw-secret", sso.CallbackURL(base, "idp"))
	deps := e.deps
	deps.OrgSSO = svc
	deps.SSO = sso.New([]sso.Provider{{Name: "idp", Label: "Platform IdP", Issuer: platform.Issuer(), ClientID: "gw-web", ClientSecret: "gw-secret"}},
		base, nil, gw.SystemClock{})
	srv.Config.Handler = NewServer(deps)
	srv.Start()
	t.Cleanup(srv.Close)
	return &orgSSOEnv{ssoEnv: &ssoEnv{env: e, op: platform, url: base}, dns: dns, svc: svc, orgOP: op}
}

// loginAt signs email in with its password at the env's server.
func (s *orgSSOEnv) loginAt(t *testing.T, email string) *http.Client {
	t.Helper()
	c := s.client()
	status, _, _ := s.do(t, c, http.MethodPost, "/login", url.Values{"email": {email}, "password": {testPassword}})
	require.Equal(t, http.StatusSeeOther, status, "log in as %s", email)
	return c
}

// ssoLogin signs username in through "Continue with SSO" with email, in a
// new browser, and returns it with the callback's status, Location and body.
func (s *orgSSOEnv) ssoLogin(t *testing.T, email, username string) (*http.Client, int, string, string) {
	t.Helper()
	c := s.client()
	status, loc, _ := s.do(t, c, http.MethodPost, "/login/sso", url.Values{"email": {email}})
	require.Equal(t, http.StatusSeeOther, status)
	require.True(t, strings.HasPrefix(loc, s.orgOP.Issuer()), "sent to the organisation's provider: %s", loc)
	cb := s.orgOP.LogIn(t, loc, username)
	require.Equal(t, s.svc.RedirectURI(), cb.Scheme+"://"+cb.Host+cb.Path)
	status, loc, body := s.do(t, c, http.MethodGet, cb.String(), nil)
	return c, status, loc, body
}

// TestOrgSSOFlow: an owner configures the connection and verifies a
// domain on the settings page; members sign in through "Continue with
// SSO" (joining just in time); enforcement refuses password sessions of
// the domain's members, except the break-glass owner's.
func TestOrgSSOFlow(t *testing.T) {
	t.Parallel()
	s := newOrgSSOEnv(t)
	ctx := context.Background()
	owner := s.user("owner@acme.example")
	acme, ownerScope := s.org(owner.ID, "Acme")
	admin := s.user("admin@acme.example")
	s.join(ownerScope, admin, gw.RoleAdmin)
	bob := s.user("bob@acme.example")
	s.join(ownerScope, bob, gw.RoleMember)
	oc := s.loginAt(t, owner.Email)
	path := "/o/" + acme.Slug + "/sso"

	// Only owners see the page.
	status, _, body := s.do(t, oc, http.MethodGet, "/o/"+acme.Slug+"/settings", nil)
	require.Equal(t, http.StatusOK, status)
	require.Contains(t, body, `href="`+path+`"`)
	status, _, _ = s.do(t, s.loginAt(t, admin.Email), http.MethodGet, path, nil)
	require.Equal(t, http.StatusForbidden, status)
	status, _, body = s.do(t, oc, http.MethodGet, path, nil)
	require.Equal(t, http.StatusOK, status)
	require.Contains(t, body, s.svc.RedirectURI())

	// Configure: an unreachable issuer is refused clearly; then the real one.
	form := url.Values{"issuer": {"http://127.0.0.1:1"}, "client_id": {"acme-client"}, "client_secret": {"acme-secret"},
		"require_sso": {"on"}, "jit": {"on"}, "default_role": {"viewer"}, "break_glass": {owner.ID}}
	status, _, body = s.do(t, oc, http.MethodPost, path, form)
	require.Equal(t, httpStatus(gw.EINVALID), status)
	require.Contains(t, html.UnescapeString(body), "The issuer http://127.0.0.1:1 cannot be reached.")
	require.NotContains(t, body, "acme-secret", "the secret is not echoed")
	form.Set("issuer", s.orgOP.Issuer())
	status, loc, _ := s.do(t, oc, http.MethodPost, path, form)
	require.Equal(t, http.StatusSeeOther, status)
	require.Equal(t, path, loc)

	// A domain, verified by its TXT record.
	status, _, _ = s.do(t, oc, http.MethodPost, path+"/domains", url.Values{"domain": {"acme.example"}})
	require.Equal(t, http.StatusSeeOther, status)
	_, _, domains, err := s.svc.Settings(ctx, ownerScope)
	require.NoError(t, err)
	require.Len(t, domains, 1)
	d := domains[0]
	status, _, body = s.do(t, oc, http.MethodGet, path, nil)
	require.Equal(t, http.StatusOK, status)
	require.Contains(t, body, d.Record())
	status, _, body = s.do(t, oc, http.MethodPost, path+"/domains/"+d.ID+"/verify", url.Values{})
	require.Equal(t, httpStatus(gw.EINVALID), status)
	require.Contains(t, body, "No TXT record")
	s.dns.SetTXT("_groundwork.acme.example", d.Record())
	status, _, _ = s.do(t, oc, http.MethodPost, path+"/domains/"+d.ID+"/verify", url.Values{})
	require.Equal(t, http.StatusSeeOther, status)
	status, _, body = s.do(t, oc, http.MethodGet, "/o/"+acme.Slug+"/audit", nil)
	require.Equal(t, http.StatusOK, status)
	for _, action := range []string{"sso.configured", "sso.domain_added", "sso.domain_verified"} {
		require.Contains(t, body, action)
	}

	// The log-in page offers it; an unknown domain is told clearly.
	status, _, body = s.do(t, s.client(), http.MethodGet, "/login", nil)
	require.Equal(t, http.StatusOK, status)
	require.Contains(t, body, `href="/login/sso"`)
	status, _, body = s.do(t, s.client(), http.MethodPost, "/login/sso", url.Values{"email": {"ann@nowhere.example"}})
	require.Equal(t, http.StatusNotFound, status)
	require.Contains(t, body, "No organisation uses single sign-on for nowhere.example")

	// Ann, new everywhere, signs in through the provider and joins with
	// the default role.
	s.orgOP.AddUser("ann", "sub-ann", "ann@acme.example", false)
	ac, status, loc, _ := s.ssoLogin(t, "ann@acme.example", "ann")
	require.Equal(t, http.StatusSeeOther, status)
	require.Equal(t, "/o/"+acme.ID+"/", loc)
	status, _, body = s.do(t, ac, http.MethodGet, loc, nil)
	require.Equal(t, http.StatusOK, status, body)
	ann, err := s.accounts.UserByEmail(ctx, "ann@acme.example")
	require.NoError(t, err)
	require.Equal(t, gw.RoleViewer, s.scope(ann.ID, acme.ID).Role)

	// Bob's password session does not open Acme (he may still see his
	// account); the break-glass owner's does.
	bc := s.loginAt(t, bob.Email)
	status, _, body = s.do(t, bc, http.MethodGet, "/o/"+acme.Slug+"/", nil)
	require.Equal(t, http.StatusForbidden, status)
	require.Contains(t, html.UnescapeString(body), "Acme requires single sign-on")
	status, _, _ = s.do(t, bc, http.MethodGet, "/account", nil)
	require.Equal(t, http.StatusOK, status)
	status, _, _ = s.do(t, oc, http.MethodGet, "/o/"+acme.Slug+"/", nil)
	require.Equal(t, http.StatusOK, status, "the break-glass owner")
	status, _, _ = s.do(t, s.loginAt(t, admin.Email), http.MethodGet, "/o/"+acme.Slug+"/", nil)
	require.Equal(t, http.StatusForbidden, status, "an admin of the domain is no exception")

	// A platform provider's sign-in does not open Acme either.
	s.op.AddUser("dan", "sub-dan", "dan@acme.example", true)
	dc := s.client()
	status, loc, _ = s.do(t, dc, http.MethodGet, s.callback(t, dc, "dan"), nil)
	require.Equal(t, http.StatusSeeOther, status)
	require.Equal(t, "/account", loc, "a new account through the platform provider")
	dan, err := s.accounts.UserByEmail(ctx, "dan@acme.example")
	require.NoError(t, err)
	_, err = s.orgs.JoinBySSO(ctx, acme.ID, dan.ID, gw.RoleMember) // a member, however he joined
	require.NoError(t, err)
	status, _, body = s.do(t, dc, http.MethodGet, "/o/"+acme.Slug+"/", nil)
	require.Equal(t, http.StatusForbidden, status)
	require.Contains(t, html.UnescapeString(body), "Acme requires single sign-on")

	// Bob through the provider: his existing account is linked, his role kept.
	s.orgOP.AddUser("bob", "sub-bob", "bob@acme.example", true)
	bc, status, _, _ = s.ssoLogin(t, "bob@acme.example", "bob")
	require.Equal(t, http.StatusSeeOther, status)
	status, _, _ = s.do(t, bc, http.MethodGet, "/o/"+acme.Slug+"/", nil)
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, gw.RoleMember, s.scope(bob.ID, acme.ID).Role)

	// Without just-in-time membership, a newcomer is refused.
	_, err = s.svc.SaveConnection(ctx, ownerScope, orgsso.ConnectionInput{Issuer: s.orgOP.Issuer(), ClientID: "acme-client",
		RequireSSO: true, DefaultRole: gw.RoleMember, BreakGlassUserID: owner.ID})
	require.NoError(t, err)
	s.orgOP.AddUser("carol", "sub-carol", "carol@acme.example", true)
	_, status, _, body = s.ssoLogin(t, "carol@acme.example", "carol")
	require.Equal(t, http.StatusForbidden, status)
	require.Contains(t, body, "not a member of this organisation")

	// The provider signing in an address outside the verified domains is refused.
	s.orgOP.AddUser("eve", "sub-eve", "eve@elsewhere.example", true)
	_, status, _, body = s.ssoLogin(t, "someone@acme.example", "eve")
	require.Equal(t, http.StatusForbidden, status)
	require.Contains(t, body, "has not verified")

	// A sign-in through the provider that stops at the second factor
	// leaves nothing behind: a password sign-in in the same browser, with
	// its own second factor, does not count as single sign-on.
	gil := s.user("gil@acme.example")
	s.join(ownerScope, gil, gw.RoleMember)
	secret, _, err := s.accounts.BeginTwoFactor(ctx, gil.ID)
	require.NoError(t, err)
	code, err := totp.GenerateCode(secret, time.Now())
	require.NoError(t, err)
	recovery, err := s.accounts.EnableTwoFactor(ctx, gil.ID, secret, code)
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(recovery), 2)
	s.orgOP.AddUser("gil", "sub-gil", "gil@acme.example", true)
	gc, status, loc, _ := s.ssoLogin(t, "gil@acme.example", "gil")
	require.Equal(t, http.StatusSeeOther, status)
	require.True(t, strings.HasPrefix(loc, "/login/two-factor"), loc)
	status, loc, _ = s.do(t, gc, http.MethodPost, "/login", url.Values{"email": {gil.Email}, "password": {testPassword}})
	require.Equal(t, http.StatusSeeOther, status)
	require.True(t, strings.HasPrefix(loc, "/login/two-factor"), loc)
	status, _, body = s.do(t, gc, http.MethodPost, "/login/two-factor", url.Values{"code": {recovery[0]}})
	require.Equal(t, http.StatusSeeOther, status, body)
	status, _, _ = s.do(t, gc, http.MethodGet, "/o/"+acme.Slug+"/", nil)
	require.Equal(t, http.StatusForbidden, status, "the abandoned single sign-on does not carry over to a password sign-in")
	// Through the provider and its second factor, it counts.
	gc, status, _, _ = s.ssoLogin(t, "gil@acme.example", "gil")
	require.Equal(t, http.StatusSeeOther, status)
	status, _, body = s.do(t, gc, http.MethodPost, "/login/two-factor", url.Values{"code": {recovery[1]}})
	require.Equal(t, http.StatusSeeOther, status, body)
	status, _, _ = s.do(t, gc, http.MethodGet, "/o/"+acme.Slug+"/", nil)
	require.Equal(t, http.StatusOK, status)
}

// orgSSOScenarios call the pages of single sign-on per organisation; the
// whole flow (a real identity provider, DNS verification, enforcement) is
// TestOrgSSOFlow's.
func orgSSOScenarios() []scenario {
	return []scenario{
		{name: "continue with SSO asks for an email", path: "/login/sso", wantStatus: http.StatusOK,
			wantText: []string{`action="/login/sso"`, `name="email"`}},
		{name: "continue with SSO for an unknown domain", method: http.MethodPost, path: "/login/sso",
			form: url.Values{"email": {"ada@nobody-uses-sso.example"}}, wantStatus: http.StatusNotFound,
			wantText: []string{"No organisation uses single sign-on for"}},
		{name: "callback without a started flow", path: "/login/sso/callback?state=x&code=y", wantStatus: http.StatusUnauthorized},
		{name: "owner sees the settings", as: "owner", path: "/o/{org}/sso", wantStatus: http.StatusOK,
			wantText: []string{`action="/o/{org}/sso"`, `action="/o/{org}/sso/domains"`, "/login/sso/callback"}},
		{name: "an admin cannot see the settings", as: "admin", path: "/o/{org}/sso", wantStatus: http.StatusForbidden},
		{name: "save with an unreachable issuer", as: "owner", method: http.MethodPost, path: "/o/{org}/sso",
			form:       url.Values{"issuer": {"https://127.0.0.1:1"}, "client_id": {"c"}, "client_secret": {"s"}, "default_role": {"member"}},
			wantStatus: http.StatusUnprocessableEntity},
		{name: "remove when nothing is configured", as: "owner", method: http.MethodPost, path: "/o/{org}/sso/remove",
			wantStatus: http.StatusNotFound},
		{name: "add a domain", as: "owner", method: http.MethodPost, path: "/o/{org}/sso/domains",
			form: url.Values{"domain": {"acme-sso.example"}}, wantStatus: http.StatusSeeOther, wantLocation: "/o/{org}/sso*"},
		{name: "verify a domain that is not the organisation's", as: "owner", method: http.MethodPost,
			path: "/o/{org}/sso/domains/{missing}/verify", wantStatus: http.StatusNotFound},
		{name: "remove a domain that is not the organisation's", as: "owner", method: http.MethodPost,
			path: "/o/{org}/sso/domains/{missing}/remove", wantStatus: http.StatusNotFound},
	}
}

func TestOrgSSOPages(t *testing.T) {
	t.Parallel()
	newPageFixture(t, newEnv(t)).run(t, orgSSOScenarios())
}
