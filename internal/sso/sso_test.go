package sso

import (
	"context"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/stretchr/testify/require"

	"github.com/groundwork-dev/groundwork/internal/gw"
	"github.com/groundwork-dev/groundwork/internal/sso/ssotest"
)

// testClock is a settable clock.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *testClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

const appURL = "http://app.test"

// setup runs a provider with a client for the app and one verified and
// one unverified user, and returns it with a Client of the app.
func setup(t *testing.T) (*ssotest.Provider, *Client, *testClock) {
	t.Helper()
	op := ssotest.Start(t, "gw-web", "gw-secret", CallbackURL(appURL, "idp"))
	op.AddUser("alice", "sub-alice", "alice@example.com", true)
	op.AddUser("mallory", "sub-mallory", "victim@example.com", false)
	clock := &testClock{now: time.Now()}
	c := New([]Provider{{Name: "idp", Label: "Test IdP", Issuer: op.Issuer(), ClientID: "gw-web", ClientSecret: "gw-secret"}},
		appURL, nil, clock)
	return op, c, clock
}

// signIn begins a flow, logs in at the provider as username, and returns
// the flow and the callback's state and code.
func signIn(t *testing.T, op *ssotest.Provider, c *Client, username string) (Flow, url.Values) {
	t.Helper()
	flow, authURL, err := c.Begin(context.Background(), "idp", "/orgs")
	require.NoError(t, err)
	u, err := url.Parse(authURL)
	require.NoError(t, err)
	require.Equal(t, "S256", u.Query().Get("code_challenge_method"), "PKCE")
	require.Equal(t, flow.Nonce, u.Query().Get("nonce"))
	require.Equal(t, flow.State, u.Query().Get("state"))
	back := op.LogIn(t, authURL, username)
	require.Equal(t, CallbackURL(appURL, "idp"), back.Scheme+"://"+back.Host+back.Path)
	return flow, back.Query()
}

func TestFinishSuccess(t *testing.T) {
	t.Parallel()
	op, c, _ := setup(t)
	flow, q := signIn(t, op, c, "alice")
	id, err := c.Finish(context.Background(), flow, q.Get("state"), q.Get("code"), q.Get("error"))
	require.NoError(t, err)
	require.Equal(t, Identity{Provider: "idp", Subject: "sub-alice", Email: "alice@example.com", EmailVerified: true,
		Name: "Test alice"}, id)

	flow, q = signIn(t, op, c, "mallory")
	id, err = c.Finish(context.Background(), flow, q.Get("state"), q.Get("code"), "")
	require.NoError(t, err)
	require.False(t, id.EmailVerified, "the provider did not verify mallory's address")
}

func TestFinishRefuses(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	op, c, clock := setup(t)

	t.Run("wrong state", func(t *testing.T) {
		flow, q := signIn(t, op, c, "alice")
		_, err := c.Finish(ctx, flow, "forged", q.Get("code"), "")
		require.Equal(t, gw.EUNAUTHORIZED, gw.ErrorCode(err))
		require.ErrorContains(t, err, "not started here")
	})
	t.Run("no flow (a replayed callback finds none)", func(t *testing.T) {
		_, q := signIn(t, op, c, "alice")
		_, err := c.Finish(ctx, Flow{}, q.Get("state"), q.Get("code"), "")
		require.Equal(t, gw.EUNAUTHORIZED, gw.ErrorCode(err))
	})
	t.Run("code used twice", func(t *testing.T) {
		flow, q := signIn(t, op, c, "alice")
		_, err := c.Finish(ctx, flow, q.Get("state"), q.Get("code"), "")
		require.NoError(t, err)
		_, err = c.Finish(ctx, flow, q.Get("state"), q.Get("code"), "")
		require.Equal(t, gw.EUNAUTHORIZED, gw.ErrorCode(err))
		require.ErrorContains(t, err, "refused the code")
	})
	t.Run("wrong PKCE verifier", func(t *testing.T) {
		flow, q := signIn(t, op, c, "alice")
		other, _, err := c.Begin(ctx, "idp", "")
		require.NoError(t, err)
		flow.Verifier = other.Verifier
		_, err = c.Finish(ctx, flow, q.Get("state"), q.Get("code"), "")
		require.Equal(t, gw.EUNAUTHORIZED, gw.ErrorCode(err))
		require.ErrorContains(t, err, "refused the code")
	})
	t.Run("nonce mismatch", func(t *testing.T) {
		// The token answers another sign-in: its nonce is not this flow's.
		flow, q := signIn(t, op, c, "alice")
		flow.Nonce = "another-sign-in"
		_, err := c.Finish(ctx, flow, q.Get("state"), q.Get("code"), "")
		require.Equal(t, gw.EUNAUTHORIZED, gw.ErrorCode(err))
		require.ErrorContains(t, err, "nonce")
	})
	t.Run("provider error", func(t *testing.T) {
		flow, _, err := c.Begin(ctx, "idp", "")
		require.NoError(t, err)
		_, err = c.Finish(ctx, flow, flow.State, "", "access_denied")
		require.Equal(t, gw.EUNAUTHORIZED, gw.ErrorCode(err))
		require.ErrorContains(t, err, "access_denied")
	})
	t.Run("flow too old", func(t *testing.T) {
		flow, q := signIn(t, op, c, "alice")
		flow.Started = flow.Started.Add(-FlowTTL - time.Second)
		_, err := c.Finish(ctx, flow, q.Get("state"), q.Get("code"), "")
		require.ErrorContains(t, err, "too long")
	})
	t.Run("unknown provider", func(t *testing.T) {
		_, _, err := c.Begin(ctx, "nope", "")
		require.Equal(t, gw.ENOTFOUND, gw.ErrorCode(err))
	})
	t.Run("wrong audience", func(t *testing.T) {
		// The provider issued the token to gw-web; an app that is another
		// client of the same provider must refuse it.
		flow, q := signIn(t, op, c, "alice")
		d, err := c.provider(ctx, "idp")
		require.NoError(t, err)
		other := *d
		other.verifier = d.op.Verifier(&oidc.Config{ClientID: "another-app", Now: clock.Now})
		c.mu.Lock()
		c.discovered["idp"] = &other
		c.mu.Unlock()
		defer func() { c.mu.Lock(); c.discovered["idp"] = d; c.mu.Unlock() }()
		_, err = c.Finish(ctx, flow, q.Get("state"), q.Get("code"), "")
		require.Equal(t, gw.EUNAUTHORIZED, gw.ErrorCode(err))
		require.ErrorContains(t, err, "audience")
	})
	t.Run("expired token", func(t *testing.T) {
		// The provider's ID tokens live an hour; by the app's clock, two
		// have passed when the (fresh) flow finishes.
		flow, q := signIn(t, op, c, "alice")
		clock.advance(2 * time.Hour)
		defer clock.advance(-2 * time.Hour)
		flow.Started = clock.Now()
		_, err := c.Finish(ctx, flow, q.Get("state"), q.Get("code"), "")
		require.Equal(t, gw.EUNAUTHORIZED, gw.ErrorCode(err))
		require.ErrorContains(t, err, "expired")
	})
}

func TestProviderUnreachable(t *testing.T) {
	t.Parallel()
	c := New([]Provider{{Name: "idp", Issuer: "http://127.0.0.1:1", ClientID: "x", ClientSecret: "y"}}, appURL, nil, gw.SystemClock{})
	_, _, err := c.Begin(context.Background(), "idp", "")
	require.Equal(t, gw.EUNAVAILABLE, gw.ErrorCode(err))
}
