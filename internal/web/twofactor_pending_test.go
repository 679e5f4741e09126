package web

import (
	"context"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"
	"github.com/stretchr/testify/require"

	"github.com/groundwork-dev/groundwork/internal/account"
	"github.com/groundwork-dev/groundwork/internal/gwtest"
)

// TestPendingSecondFactorExpiresAndDiesWithThePassword: a sign-in that
// passed the password step and waits for its second factor is void after
// account.SecondFactorWindow, and as soon as the password is changed or
// reset; either way the browser goes back to /login and the right code no
// longer signs it in.
func TestPendingSecondFactorExpiresAndDiesWithThePassword(t *testing.T) {
	t.Parallel()
	clock := gwtest.NewClock(time.Now())
	e := newEnv(t, func(d *Deps) { d.Clock = clock })
	ctx := context.Background()
	u := e.user("pat@example.com")
	secret, _, err := e.accounts.BeginTwoFactor(ctx, u.ID)
	require.NoError(t, err)
	enable, err := totp.GenerateCode(secret, time.Now())
	require.NoError(t, err)
	_, err = e.accounts.EnableTwoFactor(ctx, u.ID, secret, enable)
	require.NoError(t, err)
	// A code of the next 30-second step: the one used to enable is spent.
	code := func() string {
		c, err := totp.GenerateCode(secret, time.Now().Add(30*time.Second))
		require.NoError(t, err)
		return c
	}
	passwordStep := func(password string) *http.Client {
		c := e.client()
		r := do(t, c, e.srv.URL, "/login", url.Values{"email": {u.Email}, "password": {password}}, nil)
		require.Equal(t, http.StatusSeeOther, r.status, r.body)
		require.Equal(t, "/login/two-factor?next=%2Forgs", r.header.Get("Location"))
		return c
	}
	requireVoid := func(c *http.Client) {
		t.Helper()
		r := do(t, c, e.srv.URL, "/login/two-factor", url.Values{"code": {code()}}, nil)
		require.Equal(t, http.StatusSeeOther, r.status, r.body)
		require.Equal(t, "/login", r.header.Get("Location"))
		r = do(t, c, e.srv.URL, "/account", nil, nil)
		require.Equal(t, http.StatusSeeOther, r.status, "not signed in")
		page := do(t, c, e.srv.URL, "/login", nil, nil)
		require.Contains(t, page.body, "Log in again.")
	}

	// Within the window: accepted.
	c := passwordStep(testPassword)
	clock.Advance(account.SecondFactorWindow - time.Second)
	r := do(t, c, e.srv.URL, "/login/two-factor", url.Values{"code": {code()}}, nil)
	require.Equal(t, http.StatusSeeOther, r.status, r.body)
	require.Equal(t, "/orgs", r.header.Get("Location"))

	// Past the window: void.
	c = passwordStep(testPassword)
	clock.Advance(account.SecondFactorWindow + time.Second)
	requireVoid(c)

	// The password changes while the second step waits: void.
	c = passwordStep(testPassword)
	const newPassword = "another long enough passphrase"
	require.NoError(t, e.accounts.ChangePassword(ctx, u.ID, testPassword, newPassword))
	requireVoid(c)
}
