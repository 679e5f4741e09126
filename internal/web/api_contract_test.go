package web

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"
	"github.com/pb33f/libopenapi-validator/config"
	"github.com/stretchr/testify/require"

	"github.com/groundwork-dev/groundwork/internal/gw"
)

// testSpecValidator is a validator of requests against openapi.json with format
// assertions on (email, uuid, date-time), as the server's own check runs.
func testSpecValidator(t *testing.T) validator.Validator {
	t.Helper()
	doc, err := libopenapi.NewDocument(openAPIDocument)
	require.NoError(t, err)
	v, errs := validator.NewValidator(doc, config.WithFormatAssertions())
	require.Empty(t, errs)
	return v
}

// specAccepts reports whether openapi.json accepts the request.
func specAccepts(t *testing.T, v validator.Validator, method, path, ctype, body string) bool {
	t.Helper()
	req, err := http.NewRequest(method, "http://localhost:8080"+path, strings.NewReader(body))
	require.NoError(t, err)
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	req.Header.Set("Authorization", "Bearer gw_test")
	ok, _ := v.ValidateHttpRequestSync(req)
	return ok
}

// apiError decodes an error response.
func apiError(t *testing.T, body []byte) errorDetail {
	t.Helper()
	var resp errorResponse
	require.NoError(t, json.Unmarshal(body, &resp), "%s", body)
	return resp.Error
}

// TestContactsAPIMergePatch: PATCH is a JSON Merge Patch (RFC 7396): null
// clears an optional field, null for the name and a body that is not an
// object are 422s naming what is wrong; POST reads null as "none" (issue 20
// item 1, issue 17 item 12).
func TestContactsAPIMergePatch(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	owner := e.user("owner@acme.example")
	acme, _ := e.org(owner.ID, "Acme")
	_, key := e.apiKey(acme.ID, "ci", gw.RoleMember)
	c := newAPIClient(t, e, key)
	const js, mp = "application/json", "application/merge-patch+json"

	status, body := c.do("POST", "/api/v1/contacts", js,
		`{"name":"Ada","email":"ada@example.com","phone":"+44 1","company":"AE","tags":["vip"],"custom":{"a":1,"b":"x"}}`, true)
	require.Equal(t, http.StatusCreated, status, "%s", body)
	var ada contactJSON
	require.NoError(t, json.Unmarshal(body, &ada))
	path := "/api/v1/contacts/" + ada.ID

	// As a merge patch, custom merges: null removes a field, others are kept.
	status, body = c.do("PATCH", path, mp, `{"custom":{"a":null,"c":true}}`, true)
	require.Equal(t, http.StatusOK, status, "%s", body)
	var got contactJSON
	require.NoError(t, json.Unmarshal(body, &got))
	require.Equal(t, map[string]any{"b": "x", "c": true}, got.Custom)

	// null clears every optional field.
	status, body = c.do("PATCH", path, js, `{"email":null,"phone":null,"company":null,"tags":null,"custom":null}`, true)
	require.Equal(t, http.StatusOK, status, "%s", body)
	got = contactJSON{}
	require.NoError(t, json.Unmarshal(body, &got))
	require.Equal(t, "Ada", got.Name)
	require.Empty(t, got.Email)
	require.Empty(t, got.Phone)
	require.Empty(t, got.Company)
	require.Empty(t, got.Tags)
	require.Empty(t, got.Custom)

	refused := []struct {
		name, method, path, ctype, body string
		field, message                  string
	}{
		{"null name on patch", "PATCH", path, mp, `{"name":null}`, "name", ""},
		{"null name on create", "POST", "/api/v1/contacts", js, `{"name":null}`, "name", ""},
		{"null body", "PATCH", path, js, `null`, "", "must be a JSON object"},
		{"array body", "PATCH", path, js, `[1,2]`, "", "must be a JSON object"},
		{"string body", "POST", "/api/v1/contacts", js, `"x"`, "", "must be a JSON object"},
	}
	for _, tt := range refused {
		status, body := c.do(tt.method, tt.path, tt.ctype, tt.body, false)
		require.Equal(t, http.StatusUnprocessableEntity, status, "%s: %s", tt.name, body)
		d := apiError(t, body)
		require.Equal(t, gw.EINVALID, d.Code, tt.name)
		if tt.field != "" {
			require.Contains(t, d.Fields, tt.field, tt.name)
		}
		require.Contains(t, d.Message, tt.message, tt.name)
		require.NotContains(t, d.Message, "not valid JSON", tt.name)
	}

	// POST reads null for an optional field as none.
	status, body = c.do("POST", "/api/v1/contacts", js, `{"name":"Bo","email":null,"tags":null,"custom":null}`, true)
	require.Equal(t, http.StatusCreated, status, "%s", body)
	require.Contains(t, string(body), `"tags":[]`)
}

// TestAPIErrorsNameEveryField: one 422 names every bad field, in API words
// (issue 17 item 12).
func TestAPIErrorsNameEveryField(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	owner := e.user("owner@acme.example")
	acme, _ := e.org(owner.ID, "Acme")
	_, key := e.apiKey(acme.ID, "ci", gw.RoleMember)
	c := newAPIClient(t, e, key)

	status, body := c.do("POST", "/api/v1/contacts", "application/json", `{"name":42,"tags":"vip","nick":"x"}`, false)
	require.Equal(t, http.StatusUnprocessableEntity, status, "%s", body)
	d := apiError(t, body)
	require.Len(t, d.Fields, 3, "%s", body)
	require.Contains(t, d.Fields, "name")
	require.Contains(t, d.Fields, "tags")
	require.Contains(t, d.Fields, "nick")

	status, body = c.do("POST", "/api/v1/contacts", "application/json", `{"name":"","email":"x"}`, false)
	require.Equal(t, http.StatusUnprocessableEntity, status, "%s", body)
	d = apiError(t, body)
	require.NotContains(t, d.Message, "highlighted")
	require.Contains(t, d.Fields, "name")
	require.Contains(t, d.Fields, "email")
}

// TestAPIQueryParameters: unknown, empty and repeated query parameters are
// refused with a 422 naming each (issue 20 items 2 and 3).
func TestAPIQueryParameters(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	owner := e.user("owner@acme.example")
	acme, _ := e.org(owner.ID, "Acme")
	_, key := e.apiKey(acme.ID, "ci", gw.RoleAdmin)
	c := newAPIClient(t, e, key)

	tests := []struct {
		path   string
		fields []string
	}{
		{"/api/v1/contacts?limit=1&bogus=1", []string{"bogus"}},
		{"/api/v1/audit-events?bogus=1", []string{"bogus"}},
		{"/api/v1/exports?x=1", []string{"x"}},
		{"/api/v1/contacts?limit=", []string{"limit"}},
		{"/api/v1/contacts?limit=1&limit=2", []string{"limit"}},
		{"/api/v1/audit-events?since=&until=&actor=", []string{"since", "until", "actor"}},
		{"/api/v1/contacts?q=a%01", []string{"q"}},
		{"/api/v1/audit-events?action=%15", []string{"action"}},
	}
	for _, tt := range tests {
		status, body := c.do("GET", tt.path, "", "", false)
		require.Equal(t, http.StatusUnprocessableEntity, status, "%s: %s", tt.path, body)
		d := apiError(t, body)
		for _, f := range tt.fields {
			require.Contains(t, d.Fields, f, "%s: %s", tt.path, body)
		}
		require.Len(t, d.Fields, len(tt.fields), "%s: %s", tt.path, body)
		require.NotContains(t, d.Fields["action"], "at most", "a one-character action is not too long")
	}
	status, body := c.do("GET", "/api/v1/contacts?limit=1&q=ada", "", "", true)
	require.Equal(t, http.StatusOK, status, "%s", body)
}

// TestAPIBearerSchemeIsCaseInsensitive: "bearer" and "BEARER" are "Bearer"
// (RFC 9110, section 11.1; issue 20 item 6).
func TestAPIBearerSchemeIsCaseInsensitive(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	owner := e.user("owner@acme.example")
	acme, _ := e.org(owner.ID, "Acme")
	_, key := e.apiKey(acme.ID, "ci", gw.RoleMember)
	for _, scheme := range []string{"Bearer ", "bearer ", "BEARER ", "bEaReR  "} {
		req, err := http.NewRequest("GET", e.srv.URL+"/api/v1/contacts", nil)
		require.NoError(t, err)
		req.Header.Set("Authorization", scheme+key)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode, "%q", scheme)
	}
	for _, auth := range []string{"Basic " + key, "Bearer", "Bearer ", key} {
		req, err := http.NewRequest("GET", e.srv.URL+"/api/v1/contacts", nil)
		require.NoError(t, err)
		req.Header.Set("Authorization", auth)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusUnauthorized, resp.StatusCode, "%q", auth)
	}
}

// TestOpenAPIStatesTheServersRules: the rules the issue found missing from
// the spec are in it (issue 20 items 4 and 5): what the server refuses, the
// spec refuses too.
func TestOpenAPIStatesTheServersRules(t *testing.T) {
	t.Parallel()
	v := testSpecValidator(t)
	const js = "application/json"
	refused := []struct{ method, path, body string }{
		{"POST", "/api/v1/contacts", `{"name":"a\u0097b"}`},
		{"POST", "/api/v1/contacts", `{"name":"a\u202eb"}`},
		{"POST", "/api/v1/contacts", `{"name":"A","company":"x\ny"}`},
		{"POST", "/api/v1/contacts", `{"name":"A","custom":{"a\tb":1}}`},
		{"POST", "/api/v1/contacts", `{"name":"A","tags":[""]}`},
		{"POST", "/api/v1/contacts", `{"name":"A","tags":["` + strings.Repeat("t", 41) + `"]}`},
		{"POST", "/api/v1/contacts", `{"name":"A","tags":[` + strings.Repeat(`"t",`, 20) + `"u"]}`},
		{"POST", "/api/v1/contacts", `{"name":"A","email":"not-an-email"}`},
		{"POST", "/api/v1/contacts", `{"name":"A","phone":"(."}`},
		{"PATCH", "/api/v1/contacts/01970e3c-6f1a-7b2e-9c4d-5e6f7a8b9c0d", `{"name":null}`},
		{"GET", "/api/v1/contacts?q=a%00", ""},
		{"GET", "/api/v1/audit-events?action=%15", ""},
	}
	for _, tt := range refused {
		require.False(t, specAccepts(t, v, tt.method, tt.path, js, tt.body), "%s %s %s", tt.method, tt.path, tt.body)
	}
	accepted := []struct{ method, path, body string }{
		{"POST", "/api/v1/contacts", `{"name":"Ada \u200d Lovelace","email":"","phone":"+44 (0) 20","tags":["vip"],"custom":{"a":null}}`},
		{"POST", "/api/v1/contacts", `{"name":"A","email":"ada@example.com","company":null,"tags":null,"custom":null}`},
		{"PATCH", "/api/v1/contacts/01970e3c-6f1a-7b2e-9c4d-5e6f7a8b9c0d", `{"email":null}`},
		{"GET", "/api/v1/contacts?q=ada&limit=5", ""},
	}
	for _, tt := range accepted {
		require.True(t, specAccepts(t, v, tt.method, tt.path, js, tt.body), "%s %s %s", tt.method, tt.path, tt.body)
	}
	require.True(t, specAccepts(t, v, "PATCH", "/api/v1/contacts/01970e3c-6f1a-7b2e-9c4d-5e6f7a8b9c0d",
		"application/merge-patch+json", `{"custom":{"a":null}}`), "PATCH takes a merge patch")
}
