package web

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"strings"
	"testing"

	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"
	"github.com/stretchr/testify/require"

	"github.com/groundwork-dev/groundwork/internal/gw"
)

// apiClient calls /api/v1 with an API key and checks every response it
// gets against the OpenAPI document.
type apiClient struct {
	t   *testing.T
	e   *env
	key string
	v   validator.Validator
	// lastHeader is the header of the last response.
	lastHeader http.Header
}

func newAPIClient(t *testing.T, e *env, key string) *apiClient {
	t.Helper()
	doc, err := libopenapi.NewDocument(openAPIDocument)
	require.NoError(t, err)
	v, errs := validator.NewValidator(doc)
	require.Empty(t, errs)
	ok, verrs := v.ValidateDocument()
	require.True(t, ok, "openapi.json is a valid OpenAPI document: %v", verrs)
	return &apiClient{t: t, e: e, key: key, v: v}
}

// do sends the request and returns status and body, after validating the
// response (and, when validRequest, the request) against openapi.json.
func (c *apiClient) do(method, path, ctype, body string, validRequest bool) (int, []byte) {
	c.t.Helper()
	return c.doWith(method, path, ctype, body, nil, validRequest)
}

// doWith is do with more request headers; an Authorization header
// among them replaces the key ("" sends none).
func (c *apiClient) doWith(method, path, ctype, body string, header http.Header, validRequest bool) (int, []byte) {
	c.t.Helper()
	req, err := http.NewRequest(method, c.e.srv.URL+path, strings.NewReader(body))
	require.NoError(c.t, err)
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	req.Header.Set("Authorization", "Bearer "+c.key)
	maps.Copy(req.Header, header) // an Authorization of "" sends none
	if req.Header.Get("Authorization") == "" {
		req.Header.Del("Authorization")
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(c.t, err)
	defer resp.Body.Close()
	c.lastHeader = resp.Header
	b, err := io.ReadAll(resp.Body)
	require.NoError(c.t, err)

	// Validate against the spec using the path the document knows.
	vreq, err := http.NewRequest(method, "http://api.test"+path, strings.NewReader(body))
	require.NoError(c.t, err)
	if ctype != "" {
		vreq.Header.Set("Content-Type", ctype)
	}
	vreq.Header.Set("Authorization", "Bearer "+c.key)
	maps.Copy(vreq.Header, header)
	resp.Body = io.NopCloser(bytes.NewReader(b))
	if validRequest {
		ok, verrs := c.v.ValidateHttpRequestResponse(vreq, resp)
		require.True(c.t, ok, "%s %s → %d %s: %s", method, path, resp.StatusCode, b, describe(verrs))
	} else {
		ok, verrs := c.v.ValidateHttpResponse(vreq, resp)
		require.True(c.t, ok, "%s %s → %d %s: %s", method, path, resp.StatusCode, b, describe(verrs))
	}
	return resp.StatusCode, b
}

func describe[T interface{ Error() string }](errs []T) string {
	var parts []string
	for _, e := range errs {
		parts = append(parts, e.Error())
	}
	return strings.Join(parts, "; ")
}

func TestContactsAPIMatchesOpenAPI(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	owner := e.user("owner@acme.example")
	acme, _ := e.org(owner.ID, "Acme")
	_, key := e.apiKey(acme.ID, "ci", gw.RoleMember)
	c := newAPIClient(t, e, key)
	const js = "application/json"

	status, body := c.do("POST", "/api/v1/contacts", js,
		`{"name":"Ada Lovelace","email":"ada@example.com","phone":"+44 20 1234","company":"Analytical","tags":["vip","math"],"custom":{"tier":"gold","score":9}}`, true)
	require.Equal(t, http.StatusCreated, status, "%s", body)
	var created contactJSON
	require.NoError(t, json.Unmarshal(body, &created))
	require.Equal(t, "Ada Lovelace", created.Name)
	require.Equal(t, []string{"vip", "math"}, created.Tags)

	status, body = c.do("GET", "/api/v1/contacts/"+created.ID, "", "", true)
	require.Equal(t, http.StatusOK, status)
	require.Contains(t, string(body), `"company":"Analytical"`)

	status, body = c.do("PATCH", "/api/v1/contacts/"+created.ID, js, `{"company":"Difference Engine"}`, true)
	require.Equal(t, http.StatusOK, status)
	var patched contactJSON
	require.NoError(t, json.Unmarshal(body, &patched))
	require.Equal(t, "Difference Engine", patched.Company)
	require.Equal(t, "ada@example.com", patched.Email, "absent fields are unchanged")

	for i := range 3 {
		status, _ = c.do("POST", "/api/v1/contacts", js, `{"name":"Extra `+string(rune('A'+i))+`"}`, true)
		require.Equal(t, http.StatusCreated, status)
	}
	status, body = c.do("GET", "/api/v1/contacts?limit=2", "", "", true)
	require.Equal(t, http.StatusOK, status)
	var page contactList
	require.NoError(t, json.Unmarshal(body, &page))
	require.Len(t, page.Data, 2)
	require.NotNil(t, page.NextCursor)
	status, body = c.do("GET", "/api/v1/contacts?limit=2&cursor="+*page.NextCursor, "", "", true)
	require.Equal(t, http.StatusOK, status)
	var page2 contactList
	require.NoError(t, json.Unmarshal(body, &page2))
	require.Len(t, page2.Data, 2)
	require.Nil(t, page2.NextCursor, "four contacts make two pages of two")
	require.NotEqual(t, page.Data[0].ID, page2.Data[0].ID)

	status, body = c.do("GET", "/api/v1/contacts?q=lovelace", "", "", true)
	require.Equal(t, http.StatusOK, status)
	require.Contains(t, string(body), created.ID)

	status, _ = c.do("DELETE", "/api/v1/contacts/"+created.ID, "", "", true)
	require.Equal(t, http.StatusNoContent, status)
	status, _ = c.do("GET", "/api/v1/contacts/"+created.ID, "", "", true)
	require.Equal(t, http.StatusNotFound, status)
}

func TestContactsAPIBadInput(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	owner := e.user("owner@acme.example")
	acme, _ := e.org(owner.ID, "Acme")
	_, key := e.apiKey(acme.ID, "ci", gw.RoleMember)
	c := newAPIClient(t, e, key)
	const js = "application/json"

	tests := []struct {
		name, method, path, ctype, body string
		status                          int
		code, field                     string
	}{
		{"validation", "POST", "/api/v1/contacts", js, `{"name":"","email":"not-an-email"}`, 422, gw.EINVALID, "email"},
		{"unknown field", "POST", "/api/v1/contacts", js, `{"name":"A","nickname":"x"}`, 422, gw.EINVALID, "nickname"},
		{"wrong type", "POST", "/api/v1/contacts", js, `{"name":42}`, 422, gw.EINVALID, "name"},
		{"malformed json", "POST", "/api/v1/contacts", js, `{"name":`, 400, gw.EMALFORMED, ""},
		{"two values", "POST", "/api/v1/contacts", js, `{"name":"A"}{"name":"B"}`, 400, gw.EMALFORMED, ""},
		{"not json", "POST", "/api/v1/contacts", "text/plain", `name=A`, 415, gw.EUNSUPPORTED, ""},
		{"oversized", "POST", "/api/v1/contacts", js, `{"name":"` + strings.Repeat("a", 2<<20) + `"}`, 413, gw.ETOOLARGE, ""},
		{"invalid id", "GET", "/api/v1/contacts/not-a-uuid", "", "", 404, gw.ENOTFOUND, ""},
		{"unknown id", "GET", "/api/v1/contacts/01890000-0000-7000-8000-000000000000", "", "", 404, gw.ENOTFOUND, ""},
		{"bad limit", "GET", "/api/v1/contacts?limit=0", "", "", 422, gw.EINVALID, "limit"},
		{"bad cursor", "GET", "/api/v1/contacts?cursor=not-a-cursor!", "", "", 422, gw.EINVALID, "cursor"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := c.do(tt.method, tt.path, tt.ctype, tt.body, false)
			require.Equal(t, tt.status, status, "%s", body)
			var resp errorResponse
			require.NoError(t, json.Unmarshal(body, &resp))
			require.Equal(t, tt.code, resp.Error.Code)
			require.NotEmpty(t, resp.Error.Message)
			require.NotEmpty(t, resp.Error.RequestID)
			if tt.field != "" {
				require.Contains(t, resp.Error.Fields, tt.field)
			}
		})
	}

	// Nothing was partially written by the refused requests.
	status, body := c.do("GET", "/api/v1/contacts", "", "", true)
	require.Equal(t, http.StatusOK, status)
	require.JSONEq(t, `{"data":[],"next_cursor":null}`, string(body))

	// A revoked key is refused.
	k, revoked := e.apiKey(acme.ID, "old", gw.RoleMember)
	require.NoError(t, e.orgs.RevokeAPIKey(context.Background(), e.scope(owner.ID, acme.ID), k.ID))
	rc := newAPIClient(t, e, revoked)
	status, _ = rc.do("GET", "/api/v1/contacts", "", "", true)
	require.Equal(t, http.StatusUnauthorized, status)
}
