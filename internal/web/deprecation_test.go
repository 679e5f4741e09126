package web

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/groundwork-dev/groundwork/internal/authz"
	"github.com/groundwork-dev/groundwork/internal/gw"
)

// TestDeprecatedAPIRouteAnnouncesItsSunset: a route listed in the router's
// deprecations answers with the Deprecation (RFC 9745) and Sunset (RFC 8594)
// headers, refusals included; another route does not.
func TestDeprecatedAPIRouteAnnouncesItsSunset(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	owner := e.user("owner@acme.example")
	acme, _ := e.org(owner.ID, "Acme")
	_, key := e.apiKey(acme.ID, "ci", gw.RoleMember)
	s := newServer(e.deps)
	since := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	sunset := time.Date(2026, 9, 1, 0, 0, 0, 0, time.UTC)
	mux := http.NewServeMux()
	rt := &router{mux: mux, s: s, deprecations: map[string]deprecation{
		"GET /api/v1/contacts": {Since: since, Sunset: sunset, Link: "/docs/api#versioning"},
	}}
	rt.api("GET /api/v1/contacts", authz.ContactsRead, s.apiListContacts())
	rt.api("GET /api/v1/contacts/{id}", authz.ContactsRead, s.apiGetContact())

	call := func(path, auth string) *httptest.ResponseRecorder {
		r := httptest.NewRequest("GET", path, nil)
		if auth != "" {
			r.Header.Set("Authorization", auth)
		}
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, r)
		return w
	}
	for _, auth := range []string{"Bearer " + key, "", "Bearer gw_bogus"} {
		w := call("/api/v1/contacts", auth)
		if auth == "Bearer "+key {
			require.Equal(t, http.StatusOK, w.Code, "%s", w.Body)
		} else {
			require.Equal(t, http.StatusUnauthorized, w.Code, "%s", w.Body)
		}
		require.Equal(t, "@1772323200", w.Header().Get("Deprecation"))
		require.Equal(t, "Tue, 01 Sep 2026 00:00:00 GMT", w.Header().Get("Sunset"))
		require.Equal(t, `</docs/api#versioning>; rel="deprecation"; type="text/html"`, w.Header().Get("Link"))
	}
	w := call("/api/v1/contacts/"+gw.NewID(), "Bearer "+key)
	require.Equal(t, http.StatusNotFound, w.Code)
	require.Empty(t, w.Header().Get("Deprecation"))
	require.Empty(t, w.Header().Get("Sunset"))
}

// TestDeprecatedOperationsMatchTheDocument: the operations marked
// deprecated: true in openapi.json are exactly the routes in
// apiDeprecations, each with at least six months' notice.
func TestDeprecatedOperationsMatchTheDocument(t *testing.T) {
	t.Parallel()
	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	require.NoError(t, json.Unmarshal(openAPIDocument, &doc))
	inDoc := map[string]bool{}
	for path, ops := range doc.Paths {
		for method, raw := range ops {
			var op struct {
				Deprecated bool `json:"deprecated"`
			}
			if method == "parameters" || json.Unmarshal(raw, &op) != nil || !op.Deprecated {
				continue
			}
			inDoc[strings.ToUpper(method)+" "+path] = true
		}
	}
	for pattern, d := range apiDeprecations {
		require.True(t, inDoc[pattern], "%s is deprecated in apiDeprecations but not in openapi.json", pattern)
		require.GreaterOrEqual(t, d.Sunset.Sub(d.Since), minSunset, "%s: its Sunset is less than six months after its Deprecation", pattern)
	}
	for pattern := range inDoc {
		_, ok := apiDeprecations[pattern]
		require.True(t, ok, "%s is deprecated in openapi.json but sends no Deprecation header: list it in apiDeprecations", pattern)
	}
}
