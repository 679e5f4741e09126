package web

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/groundwork-dev/groundwork/internal/account"
	"github.com/groundwork-dev/groundwork/internal/mailtest"
)

// raceRounds is how many times each way of ending a session races requests
// in flight with the session's token.
const raceRounds = 10

// sessionEnder is one way a user ends a session that someone else holds a
// copy of the cookie of.
type sessionEnder struct {
	name string
	// ownSession: the copy is of the victim's own session (log-out);
	// otherwise of another session of the victim's.
	ownSession bool
	// prepare, if set, runs before the race; its result goes to end.
	prepare func(t *testing.T, e *env, email string) string
	// end ends the stolen session from the victim's client.
	end func(t *testing.T, e *env, victim *http.Client, stolen, prepared string)
}

// TestRevokedSessionsStayRevokedUnderConcurrentRequests: a client that keeps
// sending a copy of a user's session cookie, from 1 to 4 threads, is signed
// out by each of the ways of ending a session, whatever requests were in
// flight: no request that starts after the revocation answered is signed in,
// the token is dead afterwards, and every session still signed in is listed
// on the account page. The race is run raceRounds times for each.
func TestRevokedSessionsStayRevokedUnderConcurrentRequests(t *testing.T) {
	t.Parallel()
	const newPassword = "a brand new horse battery staple"
	postOK := func(t *testing.T, e *env, c *http.Client, path string, form url.Values) {
		t.Helper()
		resp, err := c.PostForm(e.srv.URL+path, form)
		require.NoError(t, err)
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.Equal(t, http.StatusSeeOther, resp.StatusCode, "POST %s: %s", path, body)
	}
	enders := []sessionEnder{
		{name: "sign out everywhere else", end: func(t *testing.T, e *env, victim *http.Client, _, _ string) {
			postOK(t, e, victim, "/account/sessions/revoke-others", nil)
		}},
		{name: "sign out that session", end: func(t *testing.T, e *env, victim *http.Client, stolen, _ string) {
			postOK(t, e, victim, "/account/sessions/"+account.SessionID(stolen)+"/revoke", nil)
		}},
		{name: "change password", end: func(t *testing.T, e *env, victim *http.Client, _, _ string) {
			postOK(t, e, victim, "/account/password", url.Values{"current_password": {testPassword}, "new_password": {newPassword}})
		}},
		{name: "reset password",
			prepare: func(t *testing.T, e *env, email string) string {
				postForm(t, e, e.client(), "/forgot-password", url.Values{"email": {email}})
				link := mailtest.FirstLink(e.mail.WaitFor(t, email, "Reset your password").Text)
				u, err := url.Parse(link)
				require.NoError(t, err)
				return u.Query().Get("token")
			},
			end: func(t *testing.T, e *env, _ *http.Client, _, token string) {
				postOK(t, e, e.client(), "/reset-password", url.Values{"token": {token}, "password": {newPassword}})
			}},
		{name: "log out", ownSession: true, end: func(t *testing.T, e *env, victim *http.Client, _, _ string) {
			postOK(t, e, victim, "/logout", nil)
		}},
	}
	for _, ender := range enders {
		t.Run(ender.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			for round := range raceRounds {
				email := fmt.Sprintf("victim%d@example.com", round)
				u := e.user(email)
				victim := e.login(email)
				stolen := e.sessionToken(victim)
				if !ender.ownSession {
					stolen = e.sessionToken(e.login(email))
				}
				var prepared string
				if ender.prepare != nil {
					prepared = ender.prepare(t, e, email)
				}
				attackers := round%4 + 1
				late := e.raceSession(t, stolen, attackers, func() { ender.end(t, e, victim, stolen, prepared) })
				require.Zero(t, late, "round %d, %d threads: requests sent after the sign-out were signed in", round, attackers)
				require.False(t, e.signedIn(t, stolen), "round %d, %d threads: the stolen session came back", round, attackers)

				// Every session still signed in is listed.
				listed, err := e.accounts.Sessions(context.Background(), u.ID)
				require.NoError(t, err)
				for _, token := range []string{stolen, e.sessionToken(victim)} {
					if token != "" && e.signedIn(t, token) {
						require.True(t, slices.ContainsFunc(listed, func(s account.Session) bool { return s.ID == account.SessionID(token) }),
							"round %d: a signed-in session is not listed", round)
					}
				}
			}
		})
	}
}

// raceSession sends GET /orgs with the session token from n goroutines in a
// loop while end runs, and until each has sent a few requests more after
// it. It returns how many requests that started after end returned were
// answered as signed in.
func (e *env) raceSession(t *testing.T, token string, n int, end func()) (late int) {
	t.Helper()
	client := &http.Client{
		Transport:     &http.Transport{MaxIdleConnsPerHost: n},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	defer client.CloseIdleConnections()
	var (
		ended, stop  atomic.Bool
		sent, after  atomic.Int64
		lateSignedIn atomic.Int64
		wg           sync.WaitGroup
		failure      atomic.Value
	)
	for range n {
		wg.Go(func() {
			for !stop.Load() {
				started := ended.Load()
				status, err := e.getWithSession(client, token)
				if err != nil {
					failure.Store(err)
					return
				}
				sent.Add(1)
				if started {
					after.Add(1)
					if status == http.StatusOK {
						lateSignedIn.Add(1)
					}
				}
			}
		})
	}
	waitFor := func(c *atomic.Int64, want int64) {
		for c.Load() < want && failure.Load() == nil {
			time.Sleep(time.Millisecond)
		}
	}
	waitFor(&sent, int64(2*n))
	end()
	ended.Store(true)
	waitFor(&after, int64(3*n))
	stop.Store(true)
	wg.Wait()
	if err, _ := failure.Load().(error); err != nil {
		t.Fatalf("request with the stolen session: %v", err)
	}
	return int(lateSignedIn.Load())
}

// getWithSession sends GET /orgs with only the session cookie token, as a
// client that ignores what the server sets, and returns the status.
func (e *env) getWithSession(c *http.Client, token string) (int, error) {
	req, err := http.NewRequest(http.MethodGet, e.srv.URL+"/orgs", nil)
	if err != nil {
		return 0, err
	}
	req.AddCookie(&http.Cookie{Name: e.deps.Sessions.Cookie.Name, Value: token})
	resp, err := c.Do(req)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}

// signedIn reports whether a request with the session token is signed in.
func (e *env) signedIn(t *testing.T, token string) bool {
	t.Helper()
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	status, err := e.getWithSession(c, token)
	require.NoError(t, err)
	if status != http.StatusOK {
		require.Equal(t, http.StatusSeeOther, status)
	}
	return status == http.StatusOK
}

// sessionToken is the session token in client c's cookie jar ("" if none).
func (e *env) sessionToken(c *http.Client) string {
	u, _ := url.Parse(e.srv.URL)
	for _, ck := range c.Jar.Cookies(u) {
		if ck.Name == e.deps.Sessions.Cookie.Name {
			return ck.Value
		}
	}
	return ""
}

// postForm posts form with c and fails unless the answer is a redirect.
func postForm(t *testing.T, e *env, c *http.Client, path string, form url.Values) string {
	t.Helper()
	resp, err := c.PostForm(e.srv.URL+path, form)
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Less(t, resp.StatusCode, 400, "POST %s: %s", path, body)
	return strings.TrimSpace(string(body))
}
