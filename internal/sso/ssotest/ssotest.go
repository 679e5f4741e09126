// Package ssotest runs a real OpenID Connect provider inside a test: the
// zitadel/oidc OP (its op package, with the in-memory storage and
// username/password log-in page of its example server), on a local
// listener. Tests register clients and users, and drive the provider's
// log-in page as a browser would.
package ssotest

import (
	"context"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/zitadel/oidc/v3/example/server/exampleop"
	"github.com/zitadel/oidc/v3/example/server/storage"
	"github.com/zitadel/oidc/v3/pkg/op"
	"golang.org/x/text/language"
)

// Password is every test user's password at the provider.
const Password = "provider-password"

// Provider is a running OpenID provider.
type Provider struct {
	srv   *httptest.Server
	users *userStore

	mu        sync.Mutex
	redirects []string
}

// Start runs a provider with one web client, clientID and secret, allowed
// to redirect to redirectURIs; it stops when t ends.
func Start(t testing.TB, clientID, secret string, redirectURIs ...string) *Provider {
	t.Helper()
	p := &Provider{users: &userStore{users: map[string]*storage.User{}}, redirects: redirectURIs}
	p.srv = httptest.NewUnstartedServer(nil)
	issuer := "http://" + p.srv.Listener.Addr().String()
	clients := map[string]*storage.Client{clientID: storage.WebClient(clientID, secret, "http://unused.invalid/")}
	st := opStorage{Storage: storage.NewStorageWithClients(p.users, clients), p: p}
	p.srv.Config.Handler = exampleop.SetupServer(issuer, st, nil, false)
	p.srv.Start()
	t.Cleanup(p.srv.Close)
	return p
}

// AllowRedirect registers one more redirect URI of the client, for an app
// whose address is known only once the provider runs.
func (p *Provider) AllowRedirect(uri string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.redirects = append(p.redirects, uri)
}

// opStorage is the example storage, its client's redirect URIs those of
// the Provider.
type opStorage struct {
	*storage.Storage
	p *Provider
}

// GetClientByClientID implements op.Storage.
func (s opStorage) GetClientByClientID(ctx context.Context, id string) (op.Client, error) {
	c, err := s.Storage.GetClientByClientID(ctx, id)
	if err != nil {
		return nil, err
	}
	return redirectClient{Client: c, p: s.p}, nil
}

// redirectClient is a client whose redirect URIs the Provider holds.
type redirectClient struct {
	op.Client
	p *Provider
}

// RedirectURIs implements op.Client.
func (c redirectClient) RedirectURIs() []string {
	c.p.mu.Lock()
	defer c.p.mu.Unlock()
	return append([]string(nil), c.p.redirects...)
}

// Issuer is the provider's issuer URL.
func (p *Provider) Issuer() string { return p.srv.URL }

// AddUser adds a user with username, subject ID and email (verified or
// not), who logs in with Password.
func (p *Provider) AddUser(username, subject, email string, verified bool) {
	p.users.mu.Lock()
	defer p.users.mu.Unlock()
	p.users.users[subject] = &storage.User{ID: subject, Username: username, Password: Password,
		FirstName: "Test", LastName: username, Email: email, EmailVerified: verified,
		PreferredLanguage: language.English}
}

// LogIn plays the browser at the provider: it follows authURL (where the
// app sent the browser), logs in there as username, and returns the URL
// the provider then sends the browser to (the app's callback, with code
// and state), without following it.
func (p *Provider) LogIn(t testing.TB, authURL, username string) *url.URL {
	t.Helper()
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	next := authURL
	for range 10 {
		u, err := url.Parse(next)
		require.NoError(t, err)
		if !strings.HasPrefix(next, p.srv.URL) {
			return u // back to the app
		}
		var resp *http.Response
		if u.Path == "/login/username" {
			resp, err = c.PostForm(p.srv.URL+"/login/username", url.Values{"id": {u.Query().Get("authRequestID")},
				"username": {username}, "password": {Password}})
		} else {
			resp, err = c.Get(next)
		}
		require.NoError(t, err)
		resp.Body.Close()
		require.Contains(t, []int{http.StatusFound, http.StatusSeeOther}, resp.StatusCode, "%s answered %s", next, resp.Status)
		loc, err := resp.Location()
		require.NoError(t, err)
		next = loc.String()
	}
	t.Fatalf("the provider never sent the browser back")
	return nil
}

// userStore is the provider's users, added by tests.
type userStore struct {
	mu    sync.Mutex
	users map[string]*storage.User
}

// GetUserByID implements storage.UserStore.
func (s *userStore) GetUserByID(id string) *storage.User {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.users[id]
}

// GetUserByUsername implements storage.UserStore.
func (s *userStore) GetUserByUsername(username string) *storage.User {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, u := range s.users {
		if u.Username == username {
			return u
		}
	}
	return nil
}

// ExampleClientID implements storage.UserStore (the example's service
// user, unused here).
func (s *userStore) ExampleClientID() string { return "service" }
