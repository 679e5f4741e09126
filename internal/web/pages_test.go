package web

import (
	"cmp"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/groundwork-dev/groundwork/internal/account"
	"github.com/groundwork-dev/groundwork/internal/gw"
	"github.com/groundwork-dev/groundwork/internal/mailtest"
	"github.com/groundwork-dev/groundwork/internal/org"
)

// Page scenarios: each page route of routes.go is called as the callers
// that matter, and what it answers is checked, in tables like PocketBase's
// tests.ApiScenario and pkgsite's serverTestCase. The tables live in
// pages_*_test.go, one per group of pages; pageScenarioTables lists them,
// and TestEveryPageHasAScenario fails for a page route that no table
// calls. (TestEveryRouteRefusesOutsiders, the route-matrix sweep, covers
// refusals of every route besides.)

// scenario is one request to a page and what it must answer.
type scenario struct {
	name string
	// as names the caller: "" is an anonymous visitor with no cookies;
	// otherwise a caller of the fixture (owner, admin, member, viewer,
	// outsider) or one that setup added (pageFixture.addUser).
	as string
	// method is GET when empty.
	method string
	// path, query included, may hold {placeholders} of the fixture's vars:
	// {org} (Acme's slug), {other} (the outsider's organisation), {<name>_id}
	// (a caller's user ID), and whatever setup added.
	path string
	// form is posted as a browser posts a form; its values may hold
	// placeholders.
	form url.Values
	// header adds to or replaces the browser's headers.
	header http.Header
	// setup runs before the request: it may create what the request acts
	// on and add vars and callers.
	setup func(t *testing.T, fx *pageFixture)

	wantStatus int
	// wantLocation is the redirect's Location; a trailing "*" matches any
	// rest. Empty: not checked.
	wantLocation string
	// wantText must all be in the body, notText none of it; placeholders
	// are expanded in both.
	wantText, notText []string
	// check, if set, checks more after the request.
	check func(t *testing.T, fx *pageFixture, r pageResponse)
}

// browserAccept is the Accept header of a browser's page request.
const browserAccept = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"

// pageFixture is the world the scenarios of one table run in: one server
// (env), the organisation Acme owned by owner with an admin, a member and a
// viewer, and an outsider who owns another organisation. Scenarios of a
// table run in order and share it; one that changes a caller's session or
// membership for good uses a caller its setup adds.
type pageFixture struct {
	e       *env
	acme    org.Org
	other   org.Org
	scopes  map[string]gw.Scope // each member's scope in Acme, by caller
	users   map[string]account.User
	clients map[string]*http.Client // signed in on first use
	vars    map[string]string
}

// newPageFixture builds the fixture on e, with an admin, a member and a
// viewer in Acme.
func newPageFixture(t *testing.T, e *env) *pageFixture {
	t.Helper()
	return newPageFixtureWith(t, e, gw.RoleAdmin, gw.RoleMember, gw.RoleViewer)
}

// newPageFixtureWith builds the fixture on e, with one member of Acme of
// each of roles besides the owner (fewer fit the free plan's seats).
func newPageFixtureWith(t *testing.T, e *env, roles ...gw.Role) *pageFixture {
	t.Helper()
	fx := &pageFixture{e: e, scopes: map[string]gw.Scope{}, users: map[string]account.User{},
		clients: map[string]*http.Client{}, vars: map[string]string{}}
	owner := fx.addUser(t, "owner", "owner@acme.example")
	var ownerScope gw.Scope
	fx.acme, ownerScope = e.org(owner.ID, "Acme")
	fx.scopes["owner"] = ownerScope
	for _, role := range roles {
		name := string(role)
		fx.scopes[name] = e.join(ownerScope, fx.addUser(t, name, name+"@acme.example"), role)
	}
	outsider := fx.addUser(t, "outsider", "outsider@globex.example")
	fx.other, _ = e.org(outsider.ID, "Globex")
	fx.vars["org"], fx.vars["other"] = fx.acme.Slug, fx.other.Slug
	fx.vars["missing"] = gw.NewID() // an ID nothing has
	return fx
}

// addUser creates a verified user with testPassword as caller name, with
// the var {name_id} holding its ID. It is signed in when a scenario first
// calls as it.
func (fx *pageFixture) addUser(t *testing.T, name, email string) account.User {
	t.Helper()
	u := fx.e.user(email)
	fx.users[name] = u
	fx.vars[name+"_id"] = u.ID
	return u
}

// client returns caller name's client: a fresh cookie-less one for "", a
// signed-in one for a user (signed in once, then kept), or one setup put
// in clients.
func (fx *pageFixture) client(t *testing.T, name string) *http.Client {
	t.Helper()
	if name == "" {
		return fx.e.client()
	}
	if c, ok := fx.clients[name]; ok {
		return c
	}
	u, ok := fx.users[name]
	require.True(t, ok, "no caller %q in the fixture", name)
	c := fx.e.login(u.Email)
	fx.clients[name] = c
	return c
}

// addVisitor adds caller name: a browser with its own cookies that is not
// signed in (yet), for flows over several requests such as signing in.
func (fx *pageFixture) addVisitor(name string) {
	fx.clients[name] = fx.e.client()
}

// placeholderRE matches a {placeholder}.
var placeholderRE = regexp.MustCompile(`\{[a-z0-9_]+\}`)

// expand replaces the placeholders of s with the fixture's vars; an
// unknown one fails the test.
func (fx *pageFixture) expand(t *testing.T, s string) string {
	t.Helper()
	return placeholderRE.ReplaceAllStringFunc(s, func(p string) string {
		v, ok := fx.vars[strings.Trim(p, "{}")]
		require.True(t, ok, "unknown placeholder %s in %q", p, s)
		return v
	})
}

// mailLink waits for the email to to whose subject contains subject and
// returns its first link, whose token a scenario then follows as to would.
func (fx *pageFixture) mailLink(t *testing.T, to, subject string) *url.URL {
	t.Helper()
	link := mailtest.FirstLink(fx.e.mail.WaitFor(t, to, subject).Text)
	u, err := url.Parse(link)
	require.NoError(t, err, "link %q", link)
	return u
}

// pageResponse is what a scenario's request got.
type pageResponse struct {
	status   int
	location string
	header   http.Header
	body     string
	// html says the request was a browser's for a page (wantsHTML), so
	// that an error must be answered with the HTML error page.
	html bool
}

// request sends one request as a browser does: Accept asks for HTML, and a
// POST is a same-origin form (Origin and Sec-Fetch-Site: same-origin, as
// http.CrossOriginProtection expects of a browser). header adds to or
// replaces those headers.
func (fx *pageFixture) request(t *testing.T, c *http.Client, method, path string, form url.Values, header http.Header) pageResponse {
	t.Helper()
	var body io.Reader
	if method != http.MethodGet && method != http.MethodHead {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, fx.e.srv.URL+path, body)
	require.NoError(t, err)
	req.Header.Set("Accept", browserAccept)
	req.Header.Set("User-Agent", "Mozilla/5.0 (scenario test)")
	if body != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", fx.e.srv.URL)
		req.Header.Set("Sec-Fetch-Site", "same-origin")
	}
	for k, v := range header {
		req.Header[k] = v
	}
	html := wantsHTML(req)
	resp, err := c.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return pageResponse{status: resp.StatusCode, location: resp.Header.Get("Location"), header: resp.Header,
		body: string(b), html: html}
}

// run runs the scenarios in order, each as a subtest.
func (fx *pageFixture) run(t *testing.T, scenarios []scenario) {
	t.Helper()
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) { fx.runScenario(t, sc) })
	}
}

func (fx *pageFixture) runScenario(t *testing.T, sc scenario) {
	if sc.setup != nil {
		sc.setup(t, fx)
	}
	form := url.Values{}
	for k, vs := range sc.form {
		for _, v := range vs {
			form.Add(k, fx.expand(t, v))
		}
	}
	method := cmp.Or(sc.method, http.MethodGet)
	path := fx.expand(t, sc.path)
	r := fx.request(t, fx.client(t, sc.as), method, path, form, sc.header)

	desc := method + " " + path + " as " + cmp.Or(sc.as, "anonymous")
	require.Equal(t, sc.wantStatus, r.status, "%s answered:\n%s", desc, r.body)
	if sc.wantLocation != "" {
		want := fx.expand(t, sc.wantLocation)
		if prefix, ok := strings.CutSuffix(want, "*"); ok {
			require.True(t, strings.HasPrefix(r.location, prefix), "%s: Location %q, want %s*", desc, r.location, prefix)
		} else {
			require.Equal(t, want, r.location, desc)
		}
	}
	if r.status >= 300 && r.status < 400 {
		require.NotEmpty(t, r.location, "%s: a redirect without Location", desc)
	}
	for _, s := range sc.wantText {
		require.Contains(t, r.body, fx.expand(t, s), desc)
	}
	for _, s := range sc.notText {
		require.NotContains(t, r.body, fx.expand(t, s), desc)
	}
	if r.status >= 400 {
		if r.html {
			require.Equal(t, "text/html; charset=utf-8", r.header.Get("Content-Type"), "%s: a browser gets an HTML page", desc)
		} else {
			require.Equal(t, "application/json", r.header.Get("Content-Type"), "%s: an API client gets JSON", desc)
		}
	}
	if sc.check != nil {
		sc.check(t, fx, r)
	}
}

// follow GETs path as caller name and returns the body, requiring 200: for
// checks after a scenario (say, that a flash message shows).
func (fx *pageFixture) follow(t *testing.T, name, path string) string {
	t.Helper()
	r := fx.request(t, fx.client(t, name), http.MethodGet, fx.expand(t, path), nil, nil)
	require.Equal(t, http.StatusOK, r.status, "GET %s as %s:\n%s", path, name, r.body)
	return r.body
}

// pageScenarioTables are every table of page scenarios, by group.
func pageScenarioTables() map[string][]scenario {
	return map[string][]scenario{
		"auth":            authScenarios(),
		"account":         accountScenarios(),
		"sso":             ssoScenarios(),
		"passkeys":        passkeyScenarios(),
		"passkeys off":    passkeysOffScenarios(),
		"org sso":         orgSSOScenarios(),
		"orgs":            orgScenarios(),
		"members":         memberScenarios(),
		"api keys":        apiKeyScenarios(),
		"scim":            scimScenarios(),
		"audit":           auditScenarios(),
		"contacts":        contactScenarios(),
		"exports":         exportScenarios(),
		"imports":         importScenarios(),
		"billing":         billingScenarios(),
		"billing dunning": billingDunningScenarios(),
		"errors":          errorPageScenarios(),
	}
}

// TestEveryPageHasAScenario fails for a page route (Access page, user or
// org) of routes.go that no scenario calls, so that a new page comes with
// its scenarios. A scenario's route is the one the server's own mux picks
// for its method and path.
func TestEveryPageHasAScenario(t *testing.T) {
	t.Parallel()
	mux := http.NewServeMux()
	var pages []string
	for _, r := range Routes(Deps{}) {
		switch r.Access {
		case AccessPage, AccessUser, AccessOrg:
			mux.Handle(r.Pattern, http.NotFoundHandler())
			pages = append(pages, r.Pattern)
		}
	}
	require.Greater(t, len(pages), 40, "the page routes were enumerated")

	covered := map[string]int{}
	for group, table := range pageScenarioTables() {
		names := map[string]bool{}
		for _, sc := range table {
			require.False(t, names[sc.name], "%s: two scenarios named %q", group, sc.name)
			names[sc.name] = true
			require.NotZero(t, sc.wantStatus, "%s/%s: no wantStatus", group, sc.name)
			path := placeholderRE.ReplaceAllString(sc.path, "x")
			_, pattern := mux.Handler(httptest.NewRequest(cmp.Or(sc.method, http.MethodGet), path, nil))
			if group == "errors" {
				continue // they call unknown URLs and wrong methods on purpose
			}
			require.NotEmpty(t, pattern, "%s/%s: %s %s is no page route", group, sc.name, sc.method, sc.path)
			covered[pattern]++
		}
	}
	var missing []string
	for _, p := range pages {
		if covered[p] == 0 {
			missing = append(missing, p)
		}
	}
	require.Empty(t, missing, "page routes without a scenario: add them to a table in pages_*_test.go")
}
