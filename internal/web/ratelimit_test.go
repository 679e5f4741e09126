package web

import (
	"context"
	"encoding/json"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/groundwork-dev/groundwork/internal/gw"
	"github.com/groundwork-dev/groundwork/internal/gwtest"
	"github.com/groundwork-dev/groundwork/internal/ratelimit"
	"github.com/groundwork-dev/groundwork/internal/redistest"
)

// limits returns a newEnv option that applies policies, kept in memory on a
// frozen clock, and the registry that counts rejections and errors. No
// budget refills during the test, however slow the machine, so the waits
// a test sees are exact: Retry-After is the policy's Period/Count.
func limits(policies ratelimit.Policies) (func(*Deps), *prometheus.Registry) {
	reg := prometheus.NewRegistry()
	clock := gwtest.NewClock(time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC))
	l := ratelimit.New(ratelimit.NewMemory(1000, clock), policies, ratelimit.NewMetrics(reg))
	return func(d *Deps) { d.RateLimiter = l }, reg
}

// counter returns the value of the counter name{policy}.
func counter(t *testing.T, reg *prometheus.Registry, name string, policy ratelimit.Policy) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "policy" && l.GetValue() == string(policy) {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	t.Fatalf("no %s{policy=%q}", name, policy)
	return 0
}

// response is a response read whole.
type response struct {
	status int
	header http.Header
	body   string
}

// do sends a request through c (nil: a fresh client) to base+path: a form
// POST when form is not nil, a GET otherwise.
func do(t *testing.T, c *http.Client, base, path string, form url.Values, header http.Header) response {
	t.Helper()
	if c == nil {
		c = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	method, body := http.MethodGet, io.Reader(nil)
	if form != nil {
		method, body = http.MethodPost, strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, base+path, body)
	require.NoError(t, err)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := c.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return response{status: resp.StatusCode, header: resp.Header, body: string(b)}
}

// logIn posts the log-in form as email with password.
func logIn(t *testing.T, base, email, password string, header http.Header) response {
	t.Helper()
	return do(t, nil, base, "/login", url.Values{"email": {email}, "password": {password}}, header)
}

// emissionSeconds is how many seconds one event of limit takes to come
// back: Period/Count, rounded up as Retry-After is.
func emissionSeconds(limit ratelimit.Limit) int {
	return int(math.Ceil((limit.Period / time.Duration(limit.Count)).Seconds()))
}

// requireLimited checks a 429 for policy on the frozen memory backend
// (limits): Retry-After is exactly one event's Period/Count, the RateLimit
// headers agree, and the body is a JSON error with code rate_limited.
func requireLimited(t *testing.T, r response, policy ratelimit.Policy, limit ratelimit.Limit) {
	t.Helper()
	want := emissionSeconds(limit)
	requireLimitedWithin(t, r, policy, limit, want, want)
}

// requireLimitedWithin is requireLimited with Retry-After anywhere in
// [minRetry, maxRetry] seconds, for a backend whose clock the test cannot
// hold still (Redis).
func requireLimitedWithin(t *testing.T, r response, policy ratelimit.Policy, limit ratelimit.Limit, minRetry, maxRetry int) {
	t.Helper()
	require.Equal(t, http.StatusTooManyRequests, r.status, r.body)
	retry := r.header.Get("Retry-After")
	require.NotEmpty(t, retry)
	secs, err := strconv.Atoi(retry)
	require.NoError(t, err, "Retry-After %q", retry)
	require.GreaterOrEqual(t, secs, minRetry, "one event comes back every Period/Count")
	require.LessOrEqual(t, secs, maxRetry, "one event comes back every Period/Count")
	require.Contains(t, r.header.Values("RateLimit-Policy"),
		`"`+string(policy)+`";q=`+itoa(limit.Count)+";w="+itoa(int(limit.Period/time.Second)))
	require.Contains(t, r.header.Values("RateLimit"), `"`+string(policy)+`";r=0;t=`+retry)
	var body errorResponse
	require.NoError(t, json.Unmarshal([]byte(r.body), &body), r.body)
	require.Equal(t, gw.ERATELIMIT, body.Error.Code)
	require.Contains(t, body.Error.Message, "try again in")
}

var itoa = strconv.Itoa

// hasPrefix reports whether one of values starts with prefix.
func hasPrefix(values []string, prefix string) bool {
	return slices.ContainsFunc(values, func(v string) bool { return strings.HasPrefix(v, prefix) })
}

// TestFailedLoginsLimitedPerIPAndAccount: the (n+1)th failed log-in of an
// account gets 429, whatever the password; another account on the same IP
// has its own budget, until the IP's own budget of failures runs out.
func TestFailedLoginsLimitedPerIPAndAccount(t *testing.T) {
	t.Parallel()
	ipLimit, accountLimit := ratelimit.Limit{Count: 5, Period: time.Hour}, ratelimit.Limit{Count: 3, Period: time.Hour}
	opt, reg := limits(ratelimit.Policies{ratelimit.LoginIP: ipLimit, ratelimit.LoginAccount: accountLimit})
	e := newEnv(t, opt)
	e.user("ada@example.com")
	e.user("bob@example.com")

	for i := range 3 {
		r := logIn(t, e.srv.URL, "ada@example.com", "wrong password", nil)
		require.Equal(t, http.StatusUnauthorized, r.status, "failure %d", i+1)
		require.Empty(t, r.header.Values("RateLimit"), "log-in budgets are only shown with a 429")
	}
	// The account is out of failures: even the right password, in any case,
	// is refused until one comes back.
	r := logIn(t, e.srv.URL, " ADA@example.com", testPassword, nil)
	requireLimited(t, r, ratelimit.LoginAccount, accountLimit)
	require.Equal(t, 1.0, counter(t, reg, "groundwork_ratelimit_rejected_total", ratelimit.LoginAccount))
	lines := e.logs.withMsg(t, "rate limited")
	require.Len(t, lines, 1)
	require.Equal(t, "login-account", lines[0]["policy"])
	require.Equal(t, "127.0.0.1", lines[0]["client_ip"])
	require.NotContains(t, e.logs.buf.String(), "ada@example.com", "the key (an email) is not logged")

	// A browser gets the HTML error page.
	r = logIn(t, e.srv.URL, "ada@example.com", testPassword, http.Header{"Accept": {"text/html"}})
	require.Equal(t, http.StatusTooManyRequests, r.status)
	require.Contains(t, r.header.Get("Content-Type"), "text/html")
	require.Contains(t, r.body, "Too many failed log-in attempts: try again in 20 minutes.")

	// Bob has his own account budget; the IP has had 3 failures (the
	// refused attempts did not count), so it allows 2 more.
	for i := range 2 {
		r := logIn(t, e.srv.URL, "bob@example.com", "wrong password", nil)
		require.Equal(t, http.StatusUnauthorized, r.status, "bob's failure %d", i+1)
	}
	r = logIn(t, e.srv.URL, "bob@example.com", "wrong password", nil)
	requireLimited(t, r, ratelimit.LoginIP, ipLimit)
	require.Equal(t, 1.0, counter(t, reg, "groundwork_ratelimit_rejected_total", ratelimit.LoginIP))
}

// TestSuccessfulLoginsDoNotCount: only failures use the budget.
func TestSuccessfulLoginsDoNotCount(t *testing.T) {
	t.Parallel()
	opt, _ := limits(ratelimit.Policies{ratelimit.LoginIP: {Count: 2, Period: time.Hour}, ratelimit.LoginAccount: {Count: 2, Period: time.Hour}})
	e := newEnv(t, opt)
	e.user("carol@example.com")
	for range 5 {
		e.login("carol@example.com")
	}
	for range 2 {
		require.Equal(t, http.StatusUnauthorized, logIn(t, e.srv.URL, "carol@example.com", "nope", nil).status)
	}
	require.Equal(t, http.StatusTooManyRequests, logIn(t, e.srv.URL, "carol@example.com", testPassword, nil).status)
}

// TestConcurrentFailedLoginsCannotOverrunTheBudget: attempts are counted
// before the password is checked, so parallel guesses get no extra tries.
func TestConcurrentFailedLoginsCannotOverrunTheBudget(t *testing.T) {
	t.Parallel()
	opt, _ := limits(ratelimit.Policies{ratelimit.LoginAccount: {Count: 3, Period: time.Hour}})
	e := newEnv(t, opt)
	e.user("dan@example.com")
	var mu sync.Mutex
	statuses := map[int]int{}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			r := logIn(t, e.srv.URL, "dan@example.com", "guess", nil)
			mu.Lock()
			statuses[r.status]++
			mu.Unlock()
		})
	}
	wg.Wait()
	require.Equal(t, map[int]int{http.StatusUnauthorized: 3, http.StatusTooManyRequests: 5}, statuses)
}

func TestTwoFactorFailuresLimitedPerAccount(t *testing.T) {
	t.Parallel()
	limit := ratelimit.Limit{Count: 2, Period: time.Hour}
	opt, _ := limits(ratelimit.Policies{ratelimit.TwoFactor: limit})
	e := newEnv(t, opt)
	u := e.user("erin@example.com")
	ctx := context.Background()
	secret, _, err := e.accounts.BeginTwoFactor(ctx, u.ID)
	require.NoError(t, err)
	code, err := totp.GenerateCode(secret, time.Now())
	require.NoError(t, err)
	_, err = e.accounts.EnableTwoFactor(ctx, u.ID, secret, code)
	require.NoError(t, err)

	c := e.client()
	r := do(t, c, e.srv.URL, "/login", url.Values{"email": {u.Email}, "password": {testPassword}}, nil)
	require.Equal(t, http.StatusSeeOther, r.status)
	for range 2 {
		r = do(t, c, e.srv.URL, "/login/two-factor", url.Values{"code": {"nope"}}, nil)
		require.Equal(t, http.StatusUnauthorized, r.status, r.body)
	}
	r = do(t, c, e.srv.URL, "/login/two-factor", url.Values{"code": {"nope"}}, nil)
	requireLimited(t, r, ratelimit.TwoFactor, limit)

	// A new password step does not reset the account's budget.
	c = e.client()
	require.Equal(t, http.StatusSeeOther, do(t, c, e.srv.URL, "/login", url.Values{"email": {u.Email}, "password": {testPassword}}, nil).status)
	require.Equal(t, http.StatusTooManyRequests, do(t, c, e.srv.URL, "/login/two-factor", url.Values{"code": {"nope"}}, nil).status)
}

func TestSignupAndEmailsLimited(t *testing.T) {
	t.Parallel()
	signup, perAddress := ratelimit.Limit{Count: 2, Period: time.Hour}, ratelimit.Limit{Count: 2, Period: time.Hour}
	opt, _ := limits(ratelimit.Policies{ratelimit.SignupIP: signup, ratelimit.EmailAddress: perAddress,
		ratelimit.EmailIP: {Count: 5, Period: time.Hour}})
	e := newEnv(t, opt)

	for i := range 2 {
		r := do(t, nil, e.srv.URL, "/signup", url.Values{"email": {"new" + itoa(i) + "@example.com"}, "password": {testPassword}}, nil)
		require.Equal(t, http.StatusOK, r.status, r.body)
		require.Contains(t, r.header.Values("RateLimit-Policy"), `"signup-ip";q=2;w=3600`)
		require.True(t, hasPrefix(r.header.Values("RateLimit"), `"signup-ip";r=`+itoa(1-i)+";t="), "%v", r.header)
	}
	r := do(t, nil, e.srv.URL, "/signup", url.Values{"email": {"new9@example.com"}, "password": {testPassword}}, nil)
	requireLimited(t, r, ratelimit.SignupIP, signup)

	// Password-reset and verification emails share a per-address budget.
	e.user("fay@example.com")
	require.Equal(t, http.StatusOK, do(t, nil, e.srv.URL, "/forgot-password", url.Values{"email": {"fay@example.com"}}, nil).status)
	require.Equal(t, http.StatusOK, do(t, nil, e.srv.URL, "/verify-email", url.Values{"email": {"Fay@Example.com"}}, nil).status)
	r = do(t, nil, e.srv.URL, "/forgot-password", url.Values{"email": {"fay@example.com"}}, nil)
	requireLimited(t, r, ratelimit.EmailAddress, perAddress)
	require.Equal(t, http.StatusOK, do(t, nil, e.srv.URL, "/forgot-password", url.Values{"email": {"gus@example.com"}}, nil).status,
		"another address has its own budget")
	// The per-IP budget (5) has been used 3 times (a refused request is
	// given back): two more emails, then 429.
	for _, addr := range []string{"hal@example.com", "ivy@example.com"} {
		require.Equal(t, http.StatusOK, do(t, nil, e.srv.URL, "/forgot-password", url.Values{"email": {addr}}, nil).status)
	}
	r = do(t, nil, e.srv.URL, "/forgot-password", url.Values{"email": {"jay@example.com"}}, nil)
	require.Equal(t, http.StatusTooManyRequests, r.status)
	require.Contains(t, r.header.Values("RateLimit"), `"email-ip";r=0;t=`+r.header.Get("Retry-After"))
}

func TestAPIKeyAndSearchLimited(t *testing.T) {
	t.Parallel()
	apiLimit, searchLimit := ratelimit.Limit{Count: 4, Period: time.Hour}, ratelimit.Limit{Count: 2, Period: time.Hour}
	orgLimit, authLimit := ratelimit.Limit{Count: 3, Period: time.Hour}, ratelimit.Limit{Count: 2, Period: time.Hour}
	opt, _ := limits(ratelimit.Policies{ratelimit.APIKey: apiLimit, ratelimit.Search: searchLimit,
		ratelimit.SearchOrg: orgLimit, ratelimit.APIAuthIP: authLimit})
	e := newEnv(t, opt)
	owner := e.user("owner@example.com")
	o, _ := e.org(owner.ID, "Acme")
	_, key := e.apiKey(o.ID, "k1", gw.RoleMember)
	_, key2 := e.apiKey(o.ID, "k2", gw.RoleMember)
	bearer := func(k string) http.Header { return http.Header{"Authorization": {"Bearer " + k}} }
	ownerClient := e.login("owner@example.com")
	pageSearch := func() response {
		return do(t, ownerClient, e.srv.URL, "/o/"+o.Slug+"/contacts?q=ada", nil, http.Header{"Accept": {"text/html"}})
	}

	// Searches: two per caller (user or key), three per organisation, the
	// API and the pages counted together.
	for i := range 2 {
		r := do(t, nil, e.srv.URL, "/api/v1/contacts?q=ada", nil, bearer(key))
		require.Equal(t, http.StatusOK, r.status, r.body)
		require.Contains(t, r.header.Values("RateLimit"), `"api-key";r=`+itoa(3-i)+";t="+itoa((i+1)*900))
		require.Contains(t, r.header.Values("RateLimit"), `"search";r=`+itoa(1-i)+";t="+itoa((i+1)*1800))
		require.Contains(t, r.header.Values("RateLimit"), `"search-org";r=`+itoa(2-i)+";t="+itoa((i+1)*1200))
	}
	requireLimited(t, do(t, nil, e.srv.URL, "/api/v1/contacts?q=x", nil, bearer(key)), ratelimit.Search, searchLimit)
	// One caller's spent budget does not block another's search.
	require.Equal(t, http.StatusOK, pageSearch().status, "the owner has a budget of their own")
	// The organisation's cap (3) is now spent, for every caller.
	requireLimited(t, do(t, nil, e.srv.URL, "/api/v1/contacts?q=x", nil, bearer(key2)), ratelimit.SearchOrg, orgLimit)
	page := pageSearch()
	require.Equal(t, http.StatusTooManyRequests, page.status)
	require.Contains(t, page.body, "Too many searches in this organisation")
	require.Equal(t, http.StatusOK, do(t, ownerClient, e.srv.URL, "/o/"+o.Slug+"/contacts", nil, nil).status,
		"listing without a query is not a search")

	// Per key: key has made 3 requests of 4 (a refused search still counts
	// as a request); a plain list is not a search.
	require.Equal(t, http.StatusOK, do(t, nil, e.srv.URL, "/api/v1/contacts", nil, bearer(key)).status)
	requireLimited(t, do(t, nil, e.srv.URL, "/api/v1/contacts", nil, bearer(key)), ratelimit.APIKey, apiLimit)
	require.Equal(t, http.StatusOK, do(t, nil, e.srv.URL, "/api/v1/contacts", nil, bearer(key2)).status, "another key has its own budget")

	// Failed key authentications (unknown, missing) spend the client IP's
	// budget, whatever key they try: 401 within it, then 429.
	require.Equal(t, http.StatusUnauthorized, do(t, nil, e.srv.URL, "/api/v1/contacts", nil, bearer("gw_nope")).status)
	require.Equal(t, http.StatusUnauthorized, do(t, nil, e.srv.URL, "/api/v1/contacts", nil, nil).status)
	requireLimited(t, do(t, nil, e.srv.URL, "/api/v1/contacts", nil, bearer("gw_other")), ratelimit.APIAuthIP, authLimit)
}

// TestTrustedProxyDecidesTheClientIP: behind a trusted proxy each client
// has its own budget; from an untrusted peer a forged X-Forwarded-For
// changes nothing.
func TestTrustedProxyDecidesTheClientIP(t *testing.T) {
	t.Parallel()
	policies := ratelimit.Policies{ratelimit.LoginIP: {Count: 2, Period: time.Hour}}
	xff := func(ip string) http.Header { return http.Header{"X-Forwarded-For": {ip}} }

	t.Run("trusted proxy", func(t *testing.T) {
		t.Parallel()
		opt, _ := limits(policies)
		e := newEnv(t, opt, func(d *Deps) { d.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")} })
		for range 2 {
			require.Equal(t, http.StatusUnauthorized, logIn(t, e.srv.URL, "x@example.com", "nope", xff("198.51.100.1")).status)
		}
		require.Equal(t, http.StatusTooManyRequests, logIn(t, e.srv.URL, "x@example.com", "nope", xff("198.51.100.1")).status)
		require.Equal(t, http.StatusUnauthorized, logIn(t, e.srv.URL, "x@example.com", "nope", xff("198.51.100.2")).status,
			"another client behind the proxy has its own budget")
		require.Equal(t, http.StatusTooManyRequests, logIn(t, e.srv.URL, "x@example.com", "nope", xff("6.6.6.6, 198.51.100.1")).status,
			"what the client put left of its own address is ignored")
		require.Equal(t, http.StatusUnauthorized, logIn(t, e.srv.URL, "x@example.com", "nope", xff("not an address")).status,
			"garbage is ignored: the proxy itself is the client")
		lines := e.logs.withMsg(t, "rate limited")
		require.Equal(t, "198.51.100.1", lines[0]["client_ip"])
	})
	t.Run("untrusted peer", func(t *testing.T) {
		t.Parallel()
		opt, _ := limits(policies)
		e := newEnv(t, opt)
		require.Equal(t, http.StatusUnauthorized, logIn(t, e.srv.URL, "x@example.com", "nope", xff("198.51.100.1")).status)
		require.Equal(t, http.StatusUnauthorized, logIn(t, e.srv.URL, "x@example.com", "nope", xff("198.51.100.2")).status)
		require.Equal(t, http.StatusTooManyRequests, logIn(t, e.srv.URL, "x@example.com", "nope", xff("198.51.100.3")).status,
			"a forged X-Forwarded-For does not buy a new budget")
	})
}

// TestRedisSharesBudgetsBetweenInstances: two servers, each with its own
// limiter, on one Redis allow one budget between them.
//
// Redis times budgets by its own clock, which the test cannot stop: the
// policy gives one event back every 8 hours, far longer than any run, so
// nothing refills mid-test, and Retry-After is checked against a range: at
// most Period/Count, and at least that less the time the test has taken.
func TestRedisSharesBudgetsBetweenInstances(t *testing.T) {
	t.Parallel()
	redis := redistest.Start(t)
	limit := ratelimit.Limit{Count: 3, Period: 24 * time.Hour}
	policies := ratelimit.Policies{ratelimit.LoginIP: limit}
	open := func() *ratelimit.Limiter {
		l, err := ratelimit.Open(redis.URL(), policies, nil)
		require.NoError(t, err)
		t.Cleanup(func() { _ = l.Close() })
		return l
	}
	e := newEnv(t, func(d *Deps) { d.RateLimiter = open() })
	d2 := e.deps
	d2.RateLimiter = open()
	second := httptest.NewServer(NewServer(d2))
	t.Cleanup(second.Close)

	start := time.Now()
	require.Equal(t, http.StatusUnauthorized, logIn(t, e.srv.URL, "x@example.com", "nope", nil).status)
	require.Equal(t, http.StatusUnauthorized, logIn(t, second.URL, "x@example.com", "nope", nil).status)
	require.Equal(t, http.StatusUnauthorized, logIn(t, e.srv.URL, "x@example.com", "nope", nil).status)
	emission := emissionSeconds(limit)
	// The least Retry-After can be: Period/Count less the time since the
	// first failure (less a second for Redis's clock and the rounding).
	least := func() int { return max(1, emission-int(time.Since(start).Seconds())-1) }
	r := logIn(t, second.URL, "x@example.com", "nope", nil)
	requireLimitedWithin(t, r, ratelimit.LoginIP, limit, least(), emission)
	r = logIn(t, e.srv.URL, "x@example.com", "nope", nil)
	requireLimitedWithin(t, r, ratelimit.LoginIP, limit, least(), emission)
}

// TestRedisDownFailsOpen: with Redis gone, requests go through; the error
// is logged, counted and reported to OnError.
func TestRedisDownFailsOpen(t *testing.T) {
	t.Parallel()
	redis := redistest.Start(t)
	reg := prometheus.NewRegistry()
	l, err := ratelimit.Open(redis.URL(), ratelimit.Policies{ratelimit.LoginIP: {Count: 1, Period: time.Hour}}, ratelimit.NewMetrics(reg))
	require.NoError(t, err)
	t.Cleanup(func() { _ = l.Close() })
	var mu sync.Mutex
	var reported []error
	var requestIDs []string
	e := newEnv(t, func(d *Deps) {
		d.RateLimiter = l
		d.OnError = func(ctx context.Context, err error) {
			mu.Lock()
			reported = append(reported, err)
			requestIDs = append(requestIDs, gw.RequestID(ctx))
			mu.Unlock()
		}
	})
	e.user("gil@example.com")
	require.Equal(t, http.StatusUnauthorized, logIn(t, e.srv.URL, "gil@example.com", "nope", nil).status)
	require.Equal(t, http.StatusTooManyRequests, logIn(t, e.srv.URL, "gil@example.com", "nope", nil).status)

	redis.Stop()
	require.Equal(t, http.StatusUnauthorized, logIn(t, e.srv.URL, "gil@example.com", "nope", nil).status, "let through")
	require.Equal(t, http.StatusSeeOther, logIn(t, e.srv.URL, "gil@example.com", testPassword, nil).status)
	mu.Lock()
	require.Len(t, reported, 2)
	require.Contains(t, reported[0].Error(), "rate limit login-ip")
	require.NotEmpty(t, requestIDs[0], "the hook gets the request's context")
	mu.Unlock()
	require.Equal(t, 2.0, counter(t, reg, "groundwork_ratelimit_errors_total", ratelimit.LoginIP))
	require.Len(t, e.logs.withMsg(t, "rate limit unavailable, request let through"), 2)
}

// TestAPIAuthBudgetIgnoresRequestsInFlight: failed API-key authentications
// are counted once they have failed, so a client IP with more requests in
// flight than its budget (a NAT, a load balancer, a busy integration) is not
// refused for requests that succeed; failures still spend it.
func TestAPIAuthBudgetIgnoresRequestsInFlight(t *testing.T) {
	t.Parallel()
	opt, _ := limits(ratelimit.Policies{ratelimit.APIAuthIP: {Count: 2, Period: time.Hour}})
	d := Deps{}
	opt(&d)
	s := newServer(d)
	release, entered := make(chan struct{}), make(chan struct{}, 8)
	h := s.limitFailuresAfter(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") == "" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		entered <- struct{}{}
		<-release
		w.WriteHeader(http.StatusOK)
	}), perClientIP(ratelimit.APIAuthIP))
	serve := func(auth string) int {
		r := httptest.NewRequest(http.MethodGet, "/api/v1/contacts", nil)
		r = r.WithContext(gw.WithClient(r.Context(), gw.Client{IP: "192.0.2.7"}))
		if auth != "" {
			r.Header.Set("Authorization", auth)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w.Code
	}

	// Five good requests in flight at once, more than the budget of 2.
	codes := make(chan int, 5)
	for range 5 {
		go func() { codes <- serve("Bearer good") }()
	}
	for range 5 { // every one reaches the handler while the others are in flight
		select {
		case <-entered:
		case code := <-codes:
			t.Fatalf("a request in flight was answered %d before any was released", code)
		}
	}
	close(release)
	for range 5 {
		require.Equal(t, http.StatusOK, <-codes)
	}
	// Failures spend the budget: two 401s, then 429.
	require.Equal(t, http.StatusUnauthorized, serve(""))
	require.Equal(t, http.StatusUnauthorized, serve(""))
	require.Equal(t, http.StatusTooManyRequests, serve(""))
	require.Equal(t, http.StatusTooManyRequests, serve("Bearer good"), "a spent budget refuses every request of the IP until it refills")
}
