package web

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/stretchr/testify/require"
)

// TestErrorPages: failures answered before any page handler runs (an
// unknown URL, a wrong method, a body over the limit, a cross-origin form)
// get the HTML error page, with a way back, when a browser asks for a page,
// and the JSON error body when an API client asks. serveError writes both.
func TestErrorPages(t *testing.T) {
	t.Parallel()
	fx := newPageFixture(t, newEnv(t))
	fx.run(t, errorPageScenarios())
}

// wayBack is the link home every HTML error page has.
const wayBack = `<a href="/">Back to the start</a>`

// jsonAccept is an API client's Accept header.
var jsonAccept = http.Header{"Accept": {"application/json"}}

// crossSite are the headers of a form a browser posts from another site.
var crossSite = http.Header{"Origin": {"https://evil.example"}, "Sec-Fetch-Site": {"cross-site"}}

// withHeaders merges header sets.
func withHeaders(hs ...http.Header) http.Header {
	out := http.Header{}
	for _, h := range hs {
		for k, v := range h {
			out[k] = v
		}
	}
	return out
}

// jsonErrorOf checks that r is a JSON error with code and returns it.
func jsonErrorOf(t *testing.T, r pageResponse, code string) errorDetail {
	t.Helper()
	var body errorResponse
	require.NoError(t, json.Unmarshal([]byte(r.body), &body), r.body)
	require.Equal(t, code, body.Error.Code)
	require.Equal(t, r.header.Get(requestIDHeader), body.Error.RequestID)
	return body.Error
}

func errorPageScenarios() []scenario {
	huge := strings.Repeat("x", 1<<20) // Deps.MaxBodyBytes of the test server is 1 MiB
	return []scenario{
		{name: "unknown URL", path: "/no/such/page", wantStatus: http.StatusNotFound,
			wantText: []string{"<h1>Not Found</h1>", notFoundHint, wayBack, `href="/login"`}},
		{name: "unknown URL signed in", as: "member", path: "/o/{org}/no-such-page", wantStatus: http.StatusNotFound,
			wantText: []string{"<h1>Not Found</h1>", notFoundHint, wayBack}},
		{name: "unknown URL from an API client", path: "/no/such/page", header: jsonAccept,
			wantStatus: http.StatusNotFound,
			check:      func(t *testing.T, _ *pageFixture, r pageResponse) { jsonErrorOf(t, r, "not_found") }},
		{name: "unknown API URL from a browser", path: "/api/v1/nothing", wantStatus: http.StatusNotFound,
			check: func(t *testing.T, _ *pageFixture, r pageResponse) { jsonErrorOf(t, r, "not_found") }},
		{name: "wrong method", method: http.MethodPut, path: "/login", wantStatus: http.StatusMethodNotAllowed,
			wantText: []string{"<h1>Method Not Allowed</h1>", "Method PUT is not allowed here; allowed: GET, HEAD, POST.", wayBack},
			check: func(t *testing.T, _ *pageFixture, r pageResponse) {
				require.Equal(t, "GET, HEAD, POST", r.header.Get("Allow"))
			}},
		{name: "wrong method from an API client", method: http.MethodPut, path: "/api/v1/contacts",
			wantStatus: http.StatusMethodNotAllowed,
			check: func(t *testing.T, _ *pageFixture, r pageResponse) {
				require.Contains(t, jsonErrorOf(t, r, codeMethodNotAllowed).Message, "Method PUT is not allowed here")
			}},
		{name: "cross-origin form", as: "owner", method: http.MethodPost, path: "/orgs", header: crossSite,
			form: url.Values{"name": {"Planted Org"}}, wantStatus: http.StatusForbidden,
			wantText: []string{"<h1>Forbidden</h1>", "Cross-origin requests that change data are refused.", wayBack},
			check: func(t *testing.T, fx *pageFixture, _ pageResponse) {
				require.NotContains(t, fx.follow(t, "owner", "/orgs"), "Planted Org", "nothing was created")
			}},
		{name: "cross-origin request from a script", as: "owner", method: http.MethodPost, path: "/orgs",
			header: withHeaders(crossSite, jsonAccept), form: url.Values{"name": {"Planted Org"}},
			wantStatus: http.StatusForbidden,
			check:      func(t *testing.T, _ *pageFixture, r pageResponse) { jsonErrorOf(t, r, "forbidden") }},
		{name: "missing static file", path: "/static/missing.css", wantStatus: http.StatusNotFound,
			wantText: []string{"<h1>Not Found</h1>", notFoundHint, wayBack}},
		{name: "static directory is not listed", path: "/static/", wantStatus: http.StatusNotFound,
			wantText: []string{notFoundHint}, notText: []string{`href="app.css"`}},
		{name: "oversized form", as: "owner", method: http.MethodPost, path: "/orgs", form: url.Values{"name": {huge}},
			wantStatus: http.StatusRequestEntityTooLarge,
			wantText:   []string{"<h1>Request Entity Too Large</h1>", "The request body must not exceed 1048576 bytes.", wayBack},
			notText:    []string{"xxxxxxxx"}},
		{name: "oversized API body", method: http.MethodPost, path: "/api/v1/contacts", header: jsonAccept,
			form: url.Values{"name": {huge}}, wantStatus: http.StatusRequestEntityTooLarge,
			check: func(t *testing.T, _ *pageFixture, r pageResponse) { jsonErrorOf(t, r, "too_large") }},
	}
}

// TestStreamedOversizedFormIs413: a form whose length is not declared
// (chunked) and runs over the body limit is refused by the handler's
// reading of it, not by the body-limit middleware; it is a 413 page too,
// not a reported 500.
func TestStreamedOversizedFormIs413(t *testing.T) {
	t.Parallel()
	fx := newPageFixture(t, newEnv(t))
	c := fx.client(t, "owner")
	for _, path := range []string{"/orgs", "/o/" + fx.acme.Slug + "/contacts", "/o/" + fx.acme.Slug + "/leave"} {
		body := io.MultiReader(strings.NewReader("name="), strings.NewReader(strings.Repeat("x", 2<<20)))
		req, err := http.NewRequest(http.MethodPost, fx.e.srv.URL+path, struct{ io.Reader }{body})
		require.NoError(t, err)
		req.ContentLength = -1 // streamed (chunked): no declared length
		req.Header.Set("Accept", browserAccept)
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", fx.e.srv.URL)
		req.Header.Set("Sec-Fetch-Site", "same-origin")
		resp, err := c.Do(req)
		require.NoError(t, err)
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.NoError(t, err)
		require.Equal(t, http.StatusRequestEntityTooLarge, resp.StatusCode, "%s: %s", path, b)
		require.Contains(t, string(b), "The request body must not exceed 1048576 bytes.", path)
		require.Contains(t, string(b), wayBack, path)
	}
	require.Empty(t, fx.e.logs.withMsg(t, "internal error"), "a 413 is not an internal error")
}

// failingStore is a session store that cannot be reached.
type failingStore struct{}

func (failingStore) Find(string) ([]byte, bool, error) {
	return nil, false, errors.New("dial tcp 10.0.0.9:5432: connection refused")
}
func (failingStore) Commit(string, []byte, time.Time) error { return errors.New("commit: unreachable") }
func (failingStore) Delete(string) error                    { return errors.New("delete: unreachable") }

// TestSessionStoreFailureIsServeErrors: when the session store fails, the
// page is answered by serveError (an HTML 500 with the request ID, the
// error logged once and not shown), not by scs's plain-text default.
func TestSessionStoreFailureIsServeErrors(t *testing.T) {
	t.Parallel()
	logger, logs := testLogger()
	sm := scs.New()
	sm.Store = failingStore{}
	h := NewServer(Deps{Logger: logger, Sessions: sm})

	r := httptest.NewRequest(http.MethodGet, "/login", nil)
	r.Header.Set("Accept", browserAccept)
	r.AddCookie(&http.Cookie{Name: sm.Cookie.Name, Value: "some-token"})
	w := serve(h, r)
	require.Equal(t, http.StatusInternalServerError, w.Code)
	require.Equal(t, "text/html; charset=utf-8", w.Header().Get("Content-Type"))
	body := w.Body.String()
	require.Contains(t, body, internalMessage)
	require.Contains(t, body, w.Header().Get(requestIDHeader))
	require.Contains(t, body, wayBack)
	require.NotContains(t, body, "10.0.0.9")
	logged := logs.withMsg(t, "internal error")
	require.Len(t, logged, 1)
	require.Contains(t, logged[0]["error"], "connection refused")
}
