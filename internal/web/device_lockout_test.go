package web

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/groundwork-dev/groundwork/internal/account"
	"github.com/groundwork-dev/groundwork/internal/ratelimit"
)

// loginFrom posts the log-in form through c (nil: a fresh browser without
// cookies) as a client at ip behind the trusted proxy (trustProxy).
func loginFrom(t *testing.T, e *env, c *http.Client, ip, email, password string) response {
	t.Helper()
	return do(t, c, e.srv.URL, "/login", url.Values{"email": {email}, "password": {password}}, fromIP(ip))
}

// loginWithDeviceCookie is loginFrom for a fresh browser that sends the
// device cookie value, as a forger would.
func loginWithDeviceCookie(t *testing.T, e *env, value, ip, email, password string) response {
	t.Helper()
	h := fromIP(ip)
	h.Set("Cookie", deviceCookieName+"="+value)
	return do(t, nil, e.srv.URL, "/login", url.Values{"email": {email}, "password": {password}}, h)
}

// deviceCookie returns the device cookie c's jar holds for /login, failing
// the test when there is none.
func deviceCookie(t *testing.T, e *env, c *http.Client) string {
	t.Helper()
	u, err := url.Parse(e.srv.URL + deviceCookiePath)
	require.NoError(t, err)
	for _, ck := range c.Jar.Cookies(u) {
		if ck.Name == deviceCookieName {
			return ck.Value
		}
	}
	t.Fatalf("no %s cookie for %s", deviceCookieName, u)
	return ""
}

// TestDeviceCookieKeepsTheOwnerInWhileTheAccountIsLockedOut proves the
// fix for account lockout: an attacker who spends an account's log-in
// budget with wrong passwords from many IPs (each IP limited on its own by
// login-account-ip, all of them together by login-account) locks out every
// browser that has not signed in to the account before, even with the
// right password, but not the owner's browser, whose device cookie (set at
// its earlier log-in, only for /login) exempts it from both per-account
// budgets, from any IP. A forged, tampered or another account's device
// cookie gives no exemption.
func TestDeviceCookieKeepsTheOwnerInWhileTheAccountIsLockedOut(t *testing.T) {
	t.Parallel()
	accountIPLimit, accountLimit := ratelimit.Limit{Count: 2, Period: time.Hour}, ratelimit.Limit{Count: 6, Period: time.Hour}
	opt, reg := limits(ratelimit.Policies{ratelimit.LoginAccountIP: accountIPLimit, ratelimit.LoginAccount: accountLimit,
		ratelimit.LoginDevice: {Count: 3, Period: time.Hour}, ratelimit.LoginIP: {Count: 100, Period: time.Hour}})
	e := newEnv(t, opt, trustProxy)
	e.user("owner@example.com")
	e.user("other@example.com")
	const ownerIP = "203.0.113.10"

	// The owner signs in once from their browser, which keeps a device
	// cookie sent only to /login.
	owner := e.client()
	r := loginFrom(t, e, owner, ownerIP, "owner@example.com", testPassword)
	require.Equal(t, http.StatusSeeOther, r.status, r.body)
	var set *http.Cookie
	for _, ck := range (&http.Response{Header: r.header}).Cookies() {
		if ck.Name == deviceCookieName {
			set = ck
		}
	}
	require.NotNil(t, set, "a successful log-in sets the device cookie: %v", r.header.Values("Set-Cookie"))
	require.Equal(t, "/login", set.Path)
	require.True(t, set.HttpOnly)
	require.Equal(t, http.SameSiteLaxMode, set.SameSite)
	require.Equal(t, int(account.DeviceTokenTTL/time.Second), set.MaxAge)
	token := deviceCookie(t, e, owner)
	require.Equal(t, set.Value, token)
	accountURL, err := url.Parse(e.srv.URL + "/account")
	require.NoError(t, err)
	for _, ck := range owner.Jar.Cookies(accountURL) {
		require.NotEqual(t, deviceCookieName, ck.Name, "the device cookie is not sent outside /login")
	}
	// Another account's device cookie, from another browser.
	otherToken := deviceCookie(t, e, e.login("other@example.com"))

	// The attacker guesses from many IPs: each IP has login-account-ip's
	// budget for the account, and all of them login-account's.
	attackers := []string{"198.51.100.1", "198.51.100.2", "198.51.100.3"}
	for _, ip := range attackers {
		for i := range accountIPLimit.Count {
			r := loginFrom(t, e, nil, ip, "owner@example.com", "guess")
			require.Equal(t, http.StatusUnauthorized, r.status, "%s, guess %d: %s", ip, i+1, r.body)
		}
	}
	requireLimited(t, loginFrom(t, e, nil, attackers[0], "owner@example.com", "guess"), ratelimit.LoginAccountIP, accountIPLimit)
	requireLimited(t, loginFrom(t, e, nil, "198.51.100.4", "owner@example.com", "guess"), ratelimit.LoginAccount, accountLimit)

	// Now a browser that never signed in is refused even with the right
	// password, from the owner's own IP too.
	for _, ip := range []string{ownerIP, "198.51.100.5"} {
		requireLimited(t, loginFrom(t, e, nil, ip, "OWNER@example.com", testPassword), ratelimit.LoginAccount, accountLimit)
	}

	// A forged device cookie gives no exemption: garbage, the owner's
	// token tampered with (a character of its nonce changed), or a valid
	// token of another account.
	tampered := []byte(token)
	tampered[20] = map[bool]byte{true: 'B', false: 'A'}[tampered[20] == 'A']
	for name, value := range map[string]string{
		"garbage":          "garbage",
		"empty":            "",
		"tampered":         string(tampered),
		"truncated":        token[:len(token)-8],
		"another account":  otherToken,
		"several forgings": "garbage." + string(tampered) + "." + otherToken,
	} {
		r := loginWithDeviceCookie(t, e, value, ownerIP, "owner@example.com", testPassword)
		require.Equal(t, http.StatusTooManyRequests, r.status, "%s: %s", name, r.body)
		require.Contains(t, r.header.Values("RateLimit"), `"login-account";r=0;t=`+r.header.Get("Retry-After"), name)
	}

	// The owner's browser still gets in with the right password, from any
	// IP, even one whose login-account-ip budget the attacker spent.
	for _, ip := range []string{ownerIP, attackers[0]} {
		r := loginFrom(t, e, owner, ip, "owner@example.com", testPassword)
		require.Equal(t, http.StatusSeeOther, r.status, "%s: %s", ip, r.body)
		require.Equal(t, "/orgs", r.header.Get("Location"))
	}
	// The exemption is the token, not the browser: the owner's cookie,
	// among other tokens, works when sent by hand; the case of the email
	// does not matter.
	r = loginWithDeviceCookie(t, e, "garbage."+otherToken+"."+deviceCookie(t, e, owner), ownerIP, " Owner@Example.com", testPassword)
	require.Equal(t, http.StatusSeeOther, r.status, r.body)

	require.Equal(t, 0.0, counter(t, reg, "groundwork_ratelimit_rejected_total", ratelimit.LoginDevice),
		"the owner's device was never limited")
}

// TestDeviceFailuresCountOnTheDeviceBudget proves that a browser holding
// an account's device cookie has its wrong passwords limited by
// login-device, its own budget: once spent it is refused (even with the
// right password) while the account's budget is untouched, so a fresh
// browser still has all of login-account's tries, and another device of
// the same account has its own budget.
func TestDeviceFailuresCountOnTheDeviceBudget(t *testing.T) {
	t.Parallel()
	deviceLimit, accountLimit := ratelimit.Limit{Count: 2, Period: time.Hour}, ratelimit.Limit{Count: 3, Period: time.Hour}
	opt, _ := limits(ratelimit.Policies{ratelimit.LoginDevice: deviceLimit, ratelimit.LoginAccount: accountLimit,
		ratelimit.LoginAccountIP: {Count: 100, Period: time.Hour}})
	e := newEnv(t, opt, trustProxy)
	e.user("gia@example.com")
	const ip = "203.0.113.20"
	laptop, phone := e.client(), e.client()
	for _, c := range []*http.Client{laptop, phone} {
		require.Equal(t, http.StatusSeeOther, loginFrom(t, e, c, ip, "gia@example.com", testPassword).status)
		deviceCookie(t, e, c)
	}

	for i := range deviceLimit.Count {
		r := loginFrom(t, e, laptop, ip, "gia@example.com", "typo")
		require.Equal(t, http.StatusUnauthorized, r.status, "laptop failure %d: %s", i+1, r.body)
	}
	requireLimited(t, loginFrom(t, e, laptop, ip, "gia@example.com", "typo"), ratelimit.LoginDevice, deviceLimit)
	requireLimited(t, loginFrom(t, e, laptop, ip, "gia@example.com", testPassword), ratelimit.LoginDevice, deviceLimit)

	// The phone is another device, with its own budget.
	require.Equal(t, http.StatusUnauthorized, loginFrom(t, e, phone, ip, "gia@example.com", "typo").status)
	require.Equal(t, http.StatusSeeOther, loginFrom(t, e, phone, ip, "gia@example.com", testPassword).status)

	// The devices' failures did not touch the account's budget: a fresh
	// browser has all its tries.
	for i := range accountLimit.Count {
		r := loginFrom(t, e, nil, ip, "gia@example.com", "guess")
		require.Equal(t, http.StatusUnauthorized, r.status, "fresh browser failure %d: %s", i+1, r.body)
	}
	requireLimited(t, loginFrom(t, e, nil, ip, "gia@example.com", "guess"), ratelimit.LoginAccount, accountLimit)
}

// TestLoginAccountIPLimitsOneIPOnly proves that login-account-ip stops
// one IP's failures for an account without locking the account: the same
// account still signs in, and may still fail, from other IPs until
// login-account is spent; and the spent IP may still try other accounts.
func TestLoginAccountIPLimitsOneIPOnly(t *testing.T) {
	t.Parallel()
	accountIPLimit, accountLimit := ratelimit.Limit{Count: 2, Period: time.Hour}, ratelimit.Limit{Count: 5, Period: time.Hour}
	opt, _ := limits(ratelimit.Policies{ratelimit.LoginAccountIP: accountIPLimit, ratelimit.LoginAccount: accountLimit})
	e := newEnv(t, opt, trustProxy)
	e.user("hal@example.com")
	e.user("ida@example.com")

	for range accountIPLimit.Count {
		require.Equal(t, http.StatusUnauthorized, loginFrom(t, e, nil, "198.51.100.1", "hal@example.com", "guess").status)
	}
	// That IP is stopped for hal, even with the right password.
	requireLimited(t, loginFrom(t, e, nil, "198.51.100.1", "hal@example.com", testPassword), ratelimit.LoginAccountIP, accountIPLimit)
	requireLimited(t, loginFrom(t, e, nil, "198.51.100.1", "hal@example.com", "guess"), ratelimit.LoginAccountIP, accountIPLimit)
	// But not for another account.
	require.Equal(t, http.StatusUnauthorized, loginFrom(t, e, nil, "198.51.100.1", "ida@example.com", "guess").status)
	// And hal signs in from elsewhere: the account is not locked.
	require.Equal(t, http.StatusSeeOther, loginFrom(t, e, nil, "198.51.100.2", "hal@example.com", testPassword).status)

	// Failures from other IPs go on counting against the account: 2 spent,
	// 3 more (two IPs) spend it, and then every new browser is refused.
	for range accountIPLimit.Count {
		require.Equal(t, http.StatusUnauthorized, loginFrom(t, e, nil, "198.51.100.2", "hal@example.com", "guess").status)
	}
	require.Equal(t, http.StatusUnauthorized, loginFrom(t, e, nil, "198.51.100.3", "hal@example.com", "guess").status)
	requireLimited(t, loginFrom(t, e, nil, "198.51.100.4", "hal@example.com", testPassword), ratelimit.LoginAccount, accountLimit)
	// ida's budget is her own.
	require.Equal(t, http.StatusSeeOther, loginFrom(t, e, nil, "198.51.100.4", "ida@example.com", testPassword).status)

	// The 429s say which budget was spent.
	lines := e.logs.withMsg(t, "rate limited")
	require.Len(t, lines, 3)
	require.Equal(t, []any{"login-account-ip", "login-account-ip", "login-account"},
		[]any{lines[0]["policy"], lines[1]["policy"], lines[2]["policy"]})
	require.Equal(t, "198.51.100.1", lines[0]["client_ip"])
	e.logs.mu.Lock()
	logged := e.logs.buf.String()
	e.logs.mu.Unlock()
	require.False(t, strings.Contains(logged, "hal@example.com"), "the key (an email) is not logged")
}
