package web

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/groundwork-dev/groundwork/internal/gw"
)

// TestNULAndInvalidUTF8AreRefusedBeforeTheDatabase: text PostgreSQL cannot
// store (NUL, bytes that are not UTF-8) is refused as a client error
// wherever a request carries it (form, JSON body, query string, path),
// never answered 500: a log-in with a NUL in its email used to reach the
// database and fail there.
func TestNULAndInvalidUTF8AreRefusedBeforeTheDatabase(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	owner := e.user("owner@example.com")
	acme, _ := e.org(owner.ID, "Acme")
	_, key := e.apiKey(acme.ID, "ci", gw.RoleAdmin)
	browser := e.login(owner.Email)

	const form = "application/x-www-form-urlencoded"
	tests := []struct {
		name         string
		client       *http.Client
		bearer       bool
		method, path string
		ctype, body  string
		wantStatus   int
	}{
		{"login email with NUL", e.client(), false, "POST", "/login", form, "email=a%00%40example.com&password=x", 400},
		{"login email not UTF-8", e.client(), false, "POST", "/login", form, "email=%FF%40example.com&password=x", 400},
		{"signup email with NUL", e.client(), false, "POST", "/signup", form, "email=b%00%40example.com&password=long+enough+password", 400},
		{"forgot password with NUL", e.client(), false, "POST", "/forgot-password", form, "email=c%00%40example.com", 400},
		{"form field not parsed by the handler", browser, false, "POST", "/o/" + acme.Slug + "/members/" + owner.ID + "/role", form, "role=admin%00", 400},
		{"malformed form", browser, false, "POST", "/o/" + acme.Slug + "/transfer", form, "user=%zz", 400},
		{"org name with NUL", browser, false, "POST", "/orgs", form, "name=Ac%00me", 400},
		{"org slug with NUL", browser, false, "GET", "/o/ac%00me/contacts", "", "", 400},
		{"org slug not UTF-8", browser, false, "GET", "/o/ac%C3me/contacts", "", "", 400},
		{"page query with NUL", browser, false, "GET", "/o/" + acme.Slug + "/contacts?q=a%00", "", "", 400},
		{"token with NUL", e.client(), false, "GET", "/verify-email?token=%00", "", "", 400},
		{"invitation token with NUL", browser, false, "GET", "/invitations/abc%00def", "", "", 400},
		{"api query not UTF-8", nil, true, "GET", "/api/v1/contacts?q=%FF", "", "", 400},
		{"api audit filter with NUL", nil, true, "GET", "/api/v1/audit-events?action=%00", "", "", 400},
		{"api path with NUL", nil, true, "GET", "/api/v1/contacts/%00", "", "", 400},
		{"json escape NUL in name", nil, true, "POST", "/api/v1/contacts", "application/json", `{"name":"A\u0000"}`, 422},
		{"json escape NUL in custom value", nil, true, "POST", "/api/v1/contacts", "application/json", `{"name":"A","custom":{"k":"v\u0000"}}`, 422},
		{"json escape NUL in custom key", nil, true, "POST", "/api/v1/contacts", "application/json", `{"name":"A","custom":{"k\u0000":"v"}}`, 422},
		{"json bytes not UTF-8", nil, true, "POST", "/api/v1/contacts", "application/json", "{\"name\":\"A\xff\"}", 400},
		{"json patch NUL in tags", nil, true, "PATCH", "/api/v1/contacts/" + gw.NewID(), "application/json", `{"tags":["\u0000"]}`, 422},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest(tt.method, e.srv.URL+tt.path, strings.NewReader(tt.body))
			require.NoError(t, err)
			if tt.ctype != "" {
				req.Header.Set("Content-Type", tt.ctype)
			}
			c := tt.client
			if tt.bearer {
				c = http.DefaultClient
				req.Header.Set("Authorization", "Bearer "+key)
			}
			resp, err := c.Do(req)
			require.NoError(t, err)
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			require.Equal(t, tt.wantStatus, resp.StatusCode, "%s", b)
		})
	}
	require.Empty(t, e.logs.withMsg(t, "internal error"), "nothing reached the database and failed there")
}
