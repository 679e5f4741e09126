package web

import (
	"context"
	"errors"
	"net/http"
	"net/netip"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/groundwork-dev/groundwork/internal/account"
	"github.com/groundwork-dev/groundwork/internal/gw"
	"github.com/groundwork-dev/groundwork/internal/ratelimit"
)

// passwordForm is one of the signed-in forms that confirm a change with the
// user's current password: its path, and its fields with password in the
// password field.
type passwordForm struct {
	path string
	form func(email, password string) url.Values
}

// passwordForms are the four routes whose wrong passwords count against
// PasswordUser and PasswordIP.
var passwordForms = []passwordForm{
	{"/account/password", func(_, pw string) url.Values {
		return url.Values{"current_password": {pw}, "new_password": {newPassword}}
	}},
	{"/account/email", func(email, pw string) url.Values {
		return url.Values{"new_email": {"new." + email}, "password_email": {pw}}
	}},
	{"/account/delete", func(_, pw string) url.Values {
		return url.Values{"password_delete": {pw}}
	}},
	{"/account/two-factor/disable", func(_, pw string) url.Values {
		return url.Values{"password": {pw}}
	}},
}

// trustProxy is a newEnv option that trusts the test client's address as a
// proxy, so that X-Forwarded-For (fromIP) names the client.
func trustProxy(d *Deps) {
	d.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
}

// fromIP is the header a trusted proxy adds for a client at ip.
func fromIP(ip string) http.Header { return http.Header{"X-Forwarded-For": {ip}} }

// TestWrongPasswordsOnAccountFormsShareAPerUserBudget proves that wrong
// current passwords on the four signed-in password forms answer 422 and
// spend one PasswordUser budget together; once it is spent every one of
// them, even with the right password, answers 429 with Retry-After. Right
// passwords, and a right password refused for another reason (a weak new
// password), are not counted, and another user on the same IP keeps a
// budget of their own.
func TestWrongPasswordsOnAccountFormsShareAPerUserBudget(t *testing.T) {
	t.Parallel()
	userLimit := ratelimit.Limit{Count: 4, Period: time.Hour}
	opt, reg := limits(ratelimit.Policies{ratelimit.PasswordUser: userLimit, ratelimit.PasswordIP: {Count: 100, Period: time.Hour}})
	e := newEnv(t, opt)
	e.user("ann@example.com")
	e.user("bea@example.com")
	ann, bea := e.login("ann@example.com"), e.login("bea@example.com")

	// Right passwords are not counted: more of them than the budget all go
	// through (two-factor is off, so turning it off changes nothing).
	disable := passwordForms[3]
	for i := range userLimit.Count + 2 {
		r := do(t, ann, e.srv.URL, disable.path, disable.form("ann@example.com", testPassword), nil)
		require.Equal(t, http.StatusSeeOther, r.status, "right password %d: %s", i+1, r.body)
	}
	// Nor is a right password whose change is refused for another reason.
	for range userLimit.Count + 2 {
		r := do(t, ann, e.srv.URL, "/account/password", url.Values{"current_password": {testPassword}, "new_password": {"short"}}, nil)
		require.Equal(t, http.StatusUnprocessableEntity, r.status, r.body)
		require.Contains(t, r.body, "Use at least 8 characters.")
	}

	// One wrong password on each of the four forms spends the whole budget.
	for _, pf := range passwordForms {
		r := do(t, ann, e.srv.URL, pf.path, pf.form("ann@example.com", "not my password"), nil)
		require.Equal(t, http.StatusUnprocessableEntity, r.status, "%s: %s", pf.path, r.body)
		require.Empty(t, r.header.Values("RateLimit"), "password budgets are only shown with a 429")
	}
	// Now each form refuses, whatever the password.
	for _, pf := range passwordForms {
		for _, pw := range []string{"not my password", testPassword} {
			r := do(t, ann, e.srv.URL, pf.path, pf.form("ann@example.com", pw), nil)
			requireLimited(t, r, ratelimit.PasswordUser, userLimit)
			require.Contains(t, r.body, "Too many wrong passwords")
		}
	}
	require.Equal(t, 8.0, counter(t, reg, "groundwork_ratelimit_rejected_total", ratelimit.PasswordUser))
	_, err := e.accounts.UserByEmail(context.Background(), "ann@example.com")
	require.NoError(t, err, "the refused delete did not run")

	// Another user on the same IP has a budget of their own.
	for _, pf := range passwordForms {
		r := do(t, bea, e.srv.URL, pf.path, pf.form("bea@example.com", "not my password"), nil)
		require.Equal(t, http.StatusUnprocessableEntity, r.status, "%s: %s", pf.path, r.body)
	}
	r := do(t, bea, e.srv.URL, disable.path, disable.form("bea@example.com", testPassword), nil)
	requireLimited(t, r, ratelimit.PasswordUser, userLimit)
}

// TestWrongPasswordsOnAccountFormsLimitedPerIP proves that the wrong
// passwords of every user from one client IP spend one PasswordIP budget,
// across users and forms, while each user's own budget is far from spent;
// a client at another IP keeps its own budget.
func TestWrongPasswordsOnAccountFormsLimitedPerIP(t *testing.T) {
	t.Parallel()
	ipLimit := ratelimit.Limit{Count: 3, Period: time.Hour}
	opt, _ := limits(ratelimit.Policies{ratelimit.PasswordIP: ipLimit, ratelimit.PasswordUser: {Count: 100, Period: time.Hour}})
	e := newEnv(t, opt, trustProxy)
	emails := []string{"cat@example.com", "dee@example.com", "eve@example.com"}
	clients := make([]*http.Client, len(emails))
	for i, email := range emails {
		e.user(email)
		clients[i] = e.login(email)
	}
	attacker := fromIP("198.51.100.7")

	for i, email := range emails {
		pf := passwordForms[i]
		r := do(t, clients[i], e.srv.URL, pf.path, pf.form(email, "not my password"), attacker)
		require.Equal(t, http.StatusUnprocessableEntity, r.status, "%s: %s", pf.path, r.body)
	}
	for i, email := range emails {
		pf := passwordForms[3]
		r := do(t, clients[i], e.srv.URL, pf.path, pf.form(email, testPassword), attacker)
		requireLimited(t, r, ratelimit.PasswordIP, ipLimit)
	}
	// The same users from another IP are not limited.
	for i, email := range emails {
		pf := passwordForms[0]
		r := do(t, clients[i], e.srv.URL, pf.path, pf.form(email, "not my password"), fromIP("198.51.100.8"))
		require.Equal(t, http.StatusUnprocessableEntity, r.status, "%s: %s", pf.path, r.body)
	}
}

// holdHashSlots takes every password-hashing slot of svc, from goroutines
// that keep them until the returned release is called (and at the latest
// when the test ends): it takes slots until svc refuses one as busy, so it
// does not need to know how many there are. Nothing else may hash with svc
// meanwhile.
func holdHashSlots(t *testing.T, svc *account.Service) (release func()) {
	t.Helper()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	release = sync.OnceFunc(func() {
		close(stop)
		wg.Wait()
	})
	t.Cleanup(release)
	for {
		entered := make(chan struct{})
		errc := make(chan error, 1)
		wg.Go(func() {
			errc <- svc.WithHashSlot(context.Background(), func() error {
				close(entered)
				<-stop
				return nil
			})
		})
		select {
		case <-entered:
			continue
		case err := <-errc:
			require.Equal(t, gw.EUNAVAILABLE, gw.ErrorCode(err), "%v", err)
			return release
		}
	}
}

// TestBusyPasswordHasherAnswers503WithRetryAfter proves that when every
// password-hashing slot stays taken, a log-in is refused with 503 Service
// Unavailable and a Retry-After of one second (the hasher's own hint, not
// the generic 5), as JSON or as the HTML page; that such a refusal spends
// no log-in or password budget; and that once the slots are free the same
// requests succeed.
func TestBusyPasswordHasherAnswers503WithRetryAfter(t *testing.T) {
	t.Parallel()
	one := ratelimit.Limit{Count: 1, Period: time.Hour}
	opt, _ := limits(ratelimit.Policies{ratelimit.LoginAccount: one, ratelimit.LoginAccountIP: one,
		ratelimit.LoginIP: one, ratelimit.PasswordUser: one, ratelimit.PasswordIP: one})
	e := newEnv(t, opt)
	e.user("fin@example.com")
	signedIn := e.login("fin@example.com")

	release := holdHashSlots(t, e.accounts)
	for range 2 {
		r := logIn(t, e.srv.URL, "fin@example.com", testPassword, nil)
		require.Equal(t, http.StatusServiceUnavailable, r.status, r.body)
		require.Equal(t, "1", r.header.Get("Retry-After"))
		require.Contains(t, r.header.Get("Content-Type"), "application/json")
		require.Contains(t, r.body, `"code":"`+gw.EUNAVAILABLE+`"`)
		require.Contains(t, r.body, "The server is busy checking passwords; try again in a moment.")
	}
	r := logIn(t, e.srv.URL, "fin@example.com", "a wrong password", http.Header{"Accept": {"text/html"}})
	require.Equal(t, http.StatusServiceUnavailable, r.status, r.body)
	require.Equal(t, "1", r.header.Get("Retry-After"))
	require.Contains(t, r.header.Get("Content-Type"), "text/html")
	require.Contains(t, r.body, "The server is busy checking passwords; try again in a moment.")
	// A signed-in password form is refused the same way.
	for range 2 {
		r := do(t, signedIn, e.srv.URL, "/account/password",
			url.Values{"current_password": {"a wrong password"}, "new_password": {newPassword}}, nil)
		require.Equal(t, http.StatusServiceUnavailable, r.status, r.body)
		require.Equal(t, "1", r.header.Get("Retry-After"))
	}
	release()

	// The refusals spent no budget of one: a wrong password is still
	// counted as the first failure, and the right one then gets in.
	r = do(t, signedIn, e.srv.URL, "/account/password",
		url.Values{"current_password": {"a wrong password"}, "new_password": {newPassword}}, nil)
	require.Equal(t, http.StatusUnprocessableEntity, r.status, r.body)
	r = logIn(t, e.srv.URL, "fin@example.com", testPassword, nil)
	require.Equal(t, http.StatusSeeOther, r.status, r.body)
}

// TestBusyHasherErrorRetryAfter: retryAfter, which the 503 of a busy
// hasher is sent with, rounds the error's own hint up to whole seconds and
// falls back to the generic wait for other unavailable errors.
func TestBusyHasherErrorRetryAfter(t *testing.T) {
	t.Parallel()
	require.Equal(t, "1", retryAfter(hintedErr{time.Second}))
	require.Equal(t, "2", retryAfter(hintedErr{1500 * time.Millisecond}))
	require.Equal(t, "1", retryAfter(hintedErr{0}), "never less than a second")
	require.Equal(t, retryAfterUnavailable, retryAfter(gw.Errorf(gw.EUNAVAILABLE, "down")))
	require.Equal(t, "3", retryAfter(errors.Join(errors.New("wrapped"), hintedErr{3 * time.Second})))
}

// hintedErr is an error with a retry-after hint, shaped as the account
// module's busy-hasher error.
type hintedErr struct{ after time.Duration }

func (e hintedErr) Error() string             { return "busy" }
func (e hintedErr) RetryAfter() time.Duration { return e.after }
