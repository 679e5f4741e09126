package web

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"
	"github.com/stretchr/testify/require"

	"github.com/groundwork-dev/groundwork/internal/account"
	"github.com/groundwork-dev/groundwork/internal/gw"
	"github.com/groundwork-dev/groundwork/internal/sso"
	"github.com/groundwork-dev/groundwork/internal/sso/ssotest"
)

// ssoEnv is a server with one identity provider, "idp": a real OpenID
// provider running in the test (ssotest).
type ssoEnv struct {
	*env
	op  *ssotest.Provider
	url string // the server with the provider configured
}

func newSSOEnv(t *testing.T) *ssoEnv {
	t.Helper()
	op := ssotest.Start(t, "gw-web", "gw-secret")
	e := newEnv(t)
	// A second server on the same modules and sessions, whose address the
	// provider's client and the redirect URI can name.
	srv := httptest.NewUnstartedServer(nil)
	base := "http://" + srv.Listener.Addr().String()
	op.AllowRedirect(sso.CallbackURL(base, "idp"))
	deps := e.deps
	deps.SSO = sso.New([]sso.Provider{{Name: "idp", Label: "Test IdP", Issuer: op.Issuer(), ClientID: "gw-web", ClientSecret: "gw-secret"}},
		base, nil, gw.SystemClock{})
	srv.Config.Handler = NewServer(deps)
	srv.Start()
	t.Cleanup(srv.Close)
	return &ssoEnv{env: e, op: op, url: base}
}

// get and post send one request with c and return status, Location and body.
func (s *ssoEnv) do(t *testing.T, c *http.Client, method, path string, form url.Values) (int, string, string) {
	t.Helper()
	target := path
	if strings.HasPrefix(path, "/") {
		target = s.url + path
	}
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, target, body)
	require.NoError(t, err)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := c.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, resp.Header.Get("Location"), string(b)
}

// callback starts a sign-in with c, logs in at the provider as username
// and returns the callback URL the provider sends the browser to.
func (s *ssoEnv) callback(t *testing.T, c *http.Client, username string) string {
	t.Helper()
	status, loc, _ := s.do(t, c, http.MethodPost, "/login/oidc/idp", url.Values{"next": {"/account"}})
	require.Equal(t, http.StatusSeeOther, status)
	require.True(t, strings.HasPrefix(loc, s.op.Issuer()), "sent to the provider: %s", loc)
	return s.op.LogIn(t, loc, username).String()
}

func TestSSOSignIn(t *testing.T) {
	t.Parallel()
	s := newSSOEnv(t)
	ctx := context.Background()

	t.Run("log-in page offers the provider", func(t *testing.T) {
		status, _, body := s.do(t, s.client(), http.MethodGet, "/login", nil)
		require.Equal(t, http.StatusOK, status)
		require.Contains(t, body, `action="/login/oidc/idp"`)
		require.Contains(t, body, "Continue with Test IdP")
	})

	t.Run("new account, then unlink refused as the last method, replayed state refused", func(t *testing.T) {
		s.op.AddUser("alice", "sub-alice", "alice@example.com", true)
		c := s.client()
		cb := s.callback(t, c, "alice")
		status, loc, _ := s.do(t, c, http.MethodGet, cb, nil)
		require.Equal(t, http.StatusSeeOther, status)
		require.Equal(t, "/account", loc)
		u, err := s.accounts.UserByEmail(ctx, "alice@example.com")
		require.NoError(t, err)
		require.True(t, u.EmailVerified)
		ids, err := s.accounts.Identities(ctx, u.ID)
		require.NoError(t, err)
		require.Len(t, ids, 1)

		status, _, body := s.do(t, c, http.MethodGet, "/account", nil)
		require.Equal(t, http.StatusOK, status)
		require.Contains(t, body, "alice@example.com")
		require.Contains(t, body, "/account/identities/"+ids[0].ID+"/unlink")

		status, _, body = s.do(t, c, http.MethodPost, "/account/identities/"+ids[0].ID+"/unlink", url.Values{})
		require.Equal(t, http.StatusConflict, status)
		require.Contains(t, body, "only way to sign in")

		// The same callback again, in the same browser or another: the
		// state was used up.
		status, _, body = s.do(t, c, http.MethodGet, cb, nil)
		require.Equal(t, http.StatusUnauthorized, status)
		require.Contains(t, body, "not started here or was used already")
		status, _, _ = s.do(t, s.client(), http.MethodGet, cb, nil)
		require.Equal(t, http.StatusUnauthorized, status)

		// Signing in again reaches the same account.
		c2 := s.client()
		status, loc, _ = s.do(t, c2, http.MethodGet, s.callback(t, c2, "alice"), nil)
		require.Equal(t, http.StatusSeeOther, status)
		require.Equal(t, "/account", loc)
		status, _, body = s.do(t, c2, http.MethodGet, "/account", nil)
		require.Equal(t, http.StatusOK, status)
		require.Contains(t, body, "alice@example.com")
	})

	t.Run("a callback from another browser's sign-in is refused", func(t *testing.T) {
		s.op.AddUser("dora", "sub-dora", "dora@example.com", true)
		cb := s.callback(t, s.client(), "dora")
		status, _, _ := s.do(t, s.client(), http.MethodGet, cb, nil) // login CSRF: the victim has no such flow
		require.Equal(t, http.StatusUnauthorized, status)
		_, err := s.accounts.UserByEmail(ctx, "dora@example.com")
		require.Equal(t, gw.ENOTFOUND, gw.ErrorCode(err))
	})

	t.Run("unverified email is not linked", func(t *testing.T) {
		victim := s.user("victim@example.com")
		s.op.AddUser("mallory", "sub-mallory", "victim@example.com", false)
		c := s.client()
		status, _, body := s.do(t, c, http.MethodGet, s.callback(t, c, "mallory"), nil)
		require.Equal(t, http.StatusForbidden, status)
		require.Contains(t, body, "has not verified")
		ids, err := s.accounts.Identities(ctx, victim.ID)
		require.NoError(t, err)
		require.Empty(t, ids)
		status, _, _ = s.do(t, c, http.MethodGet, "/account", nil)
		require.Equal(t, http.StatusSeeOther, status, "not signed in")
	})

	t.Run("link confirmation with the account's password", func(t *testing.T) {
		bob := s.user("bob@example.com")
		s.op.AddUser("bob", "sub-bob", "bob@example.com", true)
		c := s.client()
		status, loc, _ := s.do(t, c, http.MethodGet, s.callback(t, c, "bob"), nil)
		require.Equal(t, http.StatusSeeOther, status)
		require.Equal(t, "/login/oidc/link", loc)
		status, _, body := s.do(t, c, http.MethodGet, "/login/oidc/link", nil)
		require.Equal(t, http.StatusOK, status)
		require.Contains(t, body, "bob@example.com")
		status, _, _ = s.do(t, c, http.MethodGet, "/account", nil)
		require.Equal(t, http.StatusSeeOther, status, "not signed in before the confirmation")

		status, _, body = s.do(t, c, http.MethodPost, "/login/oidc/link", url.Values{"password": {"not the password"}})
		require.Equal(t, http.StatusUnprocessableEntity, status)
		require.Contains(t, body, "not correct")
		ids, err := s.accounts.Identities(ctx, bob.ID)
		require.NoError(t, err)
		require.Empty(t, ids)

		status, loc, _ = s.do(t, c, http.MethodPost, "/login/oidc/link", url.Values{"password": {testPassword}})
		require.Equal(t, http.StatusSeeOther, status)
		require.Equal(t, "/account", loc)
		ids, err = s.accounts.Identities(ctx, bob.ID)
		require.NoError(t, err)
		require.Len(t, ids, 1)
		status, _, _ = s.do(t, c, http.MethodPost, "/login/oidc/link", url.Values{"password": {testPassword}})
		require.Equal(t, http.StatusSeeOther, status, "the pending link was used up: back to /login")

		// Next time the provider signs bob in directly; with a password
		// set, bob may unlink it.
		c2 := s.client()
		status, loc, _ = s.do(t, c2, http.MethodGet, s.callback(t, c2, "bob"), nil)
		require.Equal(t, http.StatusSeeOther, status)
		require.Equal(t, "/account", loc)
		status, loc, _ = s.do(t, c2, http.MethodPost, "/account/identities/"+ids[0].ID+"/unlink", url.Values{})
		require.Equal(t, http.StatusSeeOther, status)
		require.Equal(t, "/account", loc)
		ids, err = s.accounts.Identities(ctx, bob.ID)
		require.NoError(t, err)
		require.Empty(t, ids)
	})

	t.Run("link from the account page", func(t *testing.T) {
		erin := s.user("erin@example.com")
		s.op.AddUser("erin", "sub-erin", "erin.private@example.org", false) // another address, even unverified
		c := s.client()
		status, _, _ := s.do(t, c, http.MethodPost, "/login", url.Values{"email": {erin.Email}, "password": {testPassword}})
		require.Equal(t, http.StatusSeeOther, status)
		status, _, body := s.do(t, c, http.MethodGet, "/account", nil)
		require.Equal(t, http.StatusOK, status)
		require.Contains(t, body, `action="/account/providers/idp/link"`)

		status, loc, _ := s.do(t, c, http.MethodPost, "/account/providers/idp/link", url.Values{})
		require.Equal(t, http.StatusSeeOther, status)
		cb := s.op.LogIn(t, loc, "erin").String()
		status, loc, _ = s.do(t, c, http.MethodGet, cb, nil)
		require.Equal(t, http.StatusSeeOther, status)
		require.Equal(t, "/account", loc)
		ids, err := s.accounts.Identities(ctx, erin.ID)
		require.NoError(t, err)
		require.Len(t, ids, 1)

		// The provider now signs erin in.
		c2 := s.client()
		status, _, _ = s.do(t, c2, http.MethodGet, s.callback(t, c2, "erin"), nil)
		require.Equal(t, http.StatusSeeOther, status)
		status, _, body = s.do(t, c2, http.MethodGet, "/account", nil)
		require.Equal(t, http.StatusOK, status)
		require.Contains(t, body, "erin@example.com")

		// Another account cannot take the same identity.
		fred := s.user("fred@example.com")
		c3 := s.client()
		status, _, _ = s.do(t, c3, http.MethodPost, "/login", url.Values{"email": {fred.Email}, "password": {testPassword}})
		require.Equal(t, http.StatusSeeOther, status)
		status, loc, _ = s.do(t, c3, http.MethodPost, "/account/providers/idp/link", url.Values{})
		require.Equal(t, http.StatusSeeOther, status)
		status, _, body = s.do(t, c3, http.MethodGet, s.op.LogIn(t, loc, "erin").String(), nil)
		require.Equal(t, http.StatusConflict, status)
		require.Contains(t, body, "linked to another account already")
		ids, err = s.accounts.Identities(ctx, fred.ID)
		require.NoError(t, err)
		require.Empty(t, ids)
	})

	t.Run("two-factor is still asked", func(t *testing.T) {
		carol := s.user("carol@example.com")
		secret, _, err := s.accounts.BeginTwoFactor(ctx, carol.ID)
		require.NoError(t, err)
		code, err := totp.GenerateCode(secret, time.Now())
		require.NoError(t, err)
		_, err = s.accounts.EnableTwoFactor(ctx, carol.ID, secret, code)
		require.NoError(t, err)
		_, err = s.accounts.LinkIdentity(ctx, carol.ID, testPassword,
			account.ExternalIdentity{Provider: "idp", Subject: "sub-carol", Email: "carol@example.com", EmailVerified: true})
		require.NoError(t, err)
		s.op.AddUser("carol", "sub-carol", "carol@example.com", true)

		c := s.client()
		status, loc, _ := s.do(t, c, http.MethodGet, s.callback(t, c, "carol"), nil)
		require.Equal(t, http.StatusSeeOther, status)
		require.Equal(t, "/login/two-factor?next=%2Faccount", loc)
		status, _, _ = s.do(t, c, http.MethodGet, "/account", nil)
		require.Equal(t, http.StatusSeeOther, status, "not signed in before the second factor")
	})
}

// ssoScenarios are the identity-provider pages on a server with no
// provider configured (TestSSOSignIn runs them with one).
func ssoScenarios() []scenario {
	return []scenario{
		{name: "log-in page offers no provider when none is configured", path: "/login", wantStatus: http.StatusOK,
			notText: []string{"/login/oidc/"}},
		{name: "start with an unconfigured provider", method: http.MethodPost, path: "/login/oidc/idp",
			form: url.Values{}, wantStatus: http.StatusNotFound},
		{name: "callback of an unconfigured provider", path: "/login/oidc/idp/callback?state=x&code=y",
			wantStatus: http.StatusNotFound},
		{name: "link page without a pending link goes to log in", path: "/login/oidc/link",
			wantStatus: http.StatusSeeOther, wantLocation: "/login"},
		{name: "link confirmation without a pending link goes to log in", method: http.MethodPost, path: "/login/oidc/link",
			form: url.Values{"password": {testPassword}}, wantStatus: http.StatusSeeOther, wantLocation: "/login"},
		{name: "account page lists the password as a sign-in method", as: "member", path: "/account",
			wantStatus: http.StatusOK, wantText: []string{"Sign-in methods", "Password"}},
		{name: "unlink needs a signed-in user", method: http.MethodPost, path: "/account/identities/{missing}/unlink",
			form: url.Values{}, wantStatus: http.StatusSeeOther, wantLocation: "/login*"},
		{name: "link with an unconfigured provider", as: "member", method: http.MethodPost,
			path: "/account/providers/idp/link", form: url.Values{}, wantStatus: http.StatusNotFound},
		{name: "link needs a signed-in user", method: http.MethodPost,
			path: "/account/providers/idp/link", form: url.Values{}, wantStatus: http.StatusSeeOther, wantLocation: "/login*"},
		{name: "unlink an identity that is not the user's", as: "member", method: http.MethodPost,
			path: "/account/identities/{missing}/unlink", form: url.Values{}, wantStatus: http.StatusNotFound},
	}
}

func TestSSOPages(t *testing.T) {
	t.Parallel()
	newPageFixture(t, newEnv(t)).run(t, ssoScenarios())
}
