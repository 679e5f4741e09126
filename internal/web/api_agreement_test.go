package web

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/groundwork-dev/groundwork/internal/gw"
)

// limitCase is a value just inside or just outside one limit of a schema.
type limitCase struct {
	field, why string
	body       string // a ContactCreate body, or "" for a query
	query      string // a query string of path
	path       string
	ok         bool
}

// emailOfLen is a valid email address of n characters (n ≥ 6).
func emailOfLen(n int) string {
	local := strings.Repeat("a", min(64, n-5))
	domain := n - len(local) - 1 // "x.com"-like labels of at most 63
	var labels []string
	for domain > 0 {
		l := min(63, domain)
		if domain-l == 1 { // a label cannot be empty
			l--
		}
		labels = append(labels, strings.Repeat("b", l))
		domain -= l + 1
	}
	return local + "@" + strings.Join(labels, ".")
}

// limitCases walks the properties of ContactCreate and the query parameters
// of the list operations in openapi.json and returns, for each limit it
// states, a value just inside it and one just outside. It fails the test for
// a property or parameter it does not know how to exercise, so that a new
// one cannot go unchecked.
func limitCases(t *testing.T) []limitCase {
	t.Helper()
	var spec struct {
		Components struct {
			Schemas    map[string]map[string]any `json:"schemas"`
			Parameters map[string]struct {
				Name   string         `json:"name"`
				Schema map[string]any `json:"schema"`
			} `json:"parameters"`
		} `json:"components"`
	}
	require.NoError(t, json.Unmarshal(openAPIDocument, &spec))
	schemas := spec.Components.Schemas
	deref := func(s map[string]any) map[string]any {
		if ref, ok := s["$ref"].(string); ok {
			return schemas[strings.TrimPrefix(ref, "#/components/schemas/")]
		}
		return s
	}
	num := func(s map[string]any, k string) (int, bool) {
		f, ok := s[k].(float64)
		return int(f), ok
	}
	// base is a valid string for a field, repeated to a length.
	base := map[string]string{"name": "a", "company": "a", "phone": "1", "email": ""}
	str := func(field string, n int) string {
		if field == "email" {
			return emailOfLen(n)
		}
		return strings.Repeat(base[field], n)
	}
	body := func(field string, v any) string {
		m := map[string]any{"name": "Ada", field: v}
		b, err := json.Marshal(m)
		require.NoError(t, err)
		return string(b)
	}
	var cases []limitCase
	add := func(field, why string, v any, ok bool) {
		cases = append(cases, limitCase{field: field, why: why, body: body(field, v), ok: ok})
	}
	props := deref(schemas["ContactCreate"])["properties"].(map[string]any)
	for field, raw := range props {
		s := deref(raw.(map[string]any))
		checked := false
		if n, ok := num(s, "maxLength"); ok {
			add(field, "maxLength", str(field, n), true)
			add(field, "maxLength+1", str(field, n+1), false)
			checked = true
		}
		if n, ok := num(s, "minLength"); ok {
			add(field, "minLength", str(field, n), true)
			add(field, "minLength-1", str(field, n-1), false)
		}
		if _, ok := s["pattern"]; ok {
			add(field, "pattern: a control character", str(field, 1)+"\u0085"+str(field, 1), false)
			add(field, "pattern: a tab", str(field, 1)+"\t"+str(field, 1), false)
		}
		if field == "name" {
			add(field, "pattern: a direction override", "a\u202eb", false)
			add(field, "pattern: a joiner is fine", "a\u200db", true)
		}
		if field == "phone" {
			add(field, "pattern: no digit", "(.", false)
			add(field, "pattern: a digit", "(1)", true)
		}
		if field == "email" {
			add(field, "format", "ada@example", true)
			add(field, "format: no @", "ada.example.com", false)
			add(field, "format: a quoted local part", `"ada"@example.com`, false)
			add(field, "format: two dots", "a..b@example.com", false)
			add(field, "format: none", "", true)
		}
		if n, ok := num(s, "maxItems"); ok { // tags
			tags := make([]string, n+1)
			for i := range tags {
				tags[i] = fmt.Sprintf("t%d", i)
			}
			add(field, "maxItems", tags[:n], true)
			add(field, "maxItems+1", tags, false)
			items := s["items"].(map[string]any)
			m, _ := num(items, "maxLength")
			add(field, "items.maxLength", []string{strings.Repeat("t", m)}, true)
			add(field, "items.maxLength+1", []string{strings.Repeat("t", m+1)}, false)
			add(field, "items.minLength-1", []string{""}, false)
			add(field, "items.pattern", []string{"a\nb"}, false)
			checked = true
		}
		if n, ok := num(s, "maxProperties"); ok { // custom
			custom := map[string]any{}
			for i := range n {
				custom[fmt.Sprintf("k%d", i)] = i
			}
			add(field, "maxProperties", custom, true)
			custom["one_more"] = true
			add(field, "maxProperties+1", custom, false)
			names := s["propertyNames"].(map[string]any)
			m, _ := num(names, "maxLength")
			add(field, "propertyNames.maxLength", map[string]any{strings.Repeat("k", m): 1}, true)
			add(field, "propertyNames.maxLength+1", map[string]any{strings.Repeat("k", m+1): 1}, false)
			add(field, "propertyNames.minLength-1", map[string]any{"": 1}, false)
			add(field, "propertyNames.pattern", map[string]any{"a\tb": 1}, false)
			values := s["additionalProperties"].(map[string]any)
			v, _ := num(values, "maxLength")
			add(field, "values.maxLength", map[string]any{"k": strings.Repeat("v", v)}, true)
			add(field, "values.maxLength+1", map[string]any{"k": strings.Repeat("v", v+1)}, false)
			add(field, "values: an object", map[string]any{"k": map[string]any{}}, false)
			checked = true
		}
		require.True(t, checked, "property %s of ContactCreate has no length or count limit the test knows", field)
	}
	// Query parameters.
	params := spec.Components.Parameters
	query := func(path, name, v, why string, ok bool) {
		cases = append(cases, limitCase{field: name, why: why, path: path, query: url.Values{name: {v}}.Encode(), ok: ok})
	}
	for _, p := range []struct{ param, path string }{
		{"Query", "/api/v1/contacts"}, {"Limit", "/api/v1/contacts"},
		{"AuditAction", "/api/v1/audit-events"}, {"Limit", "/api/v1/audit-events"},
	} {
		s := params[p.param].Schema
		name := params[p.param].Name
		if n, ok := num(s, "maxLength"); ok {
			query(p.path, name, strings.Repeat("a", n), "maxLength", true)
			query(p.path, name, strings.Repeat("a", n+1), "maxLength+1", false)
			query(p.path, name, "a\x15", "pattern", false)
		}
		if n, ok := num(s, "minimum"); ok {
			query(p.path, name, fmt.Sprint(n), "minimum", true)
			query(p.path, name, fmt.Sprint(n-1), "minimum-1", false)
		}
		if n, ok := num(s, "maximum"); ok {
			query(p.path, name, fmt.Sprint(n), "maximum", true)
			query(p.path, name, fmt.Sprint(n+1), "maximum+1", false)
		}
	}
	return cases
}

// TestOpenAPIAndServerAgreeOnLimits proves that the spec and the server's
// own rules (the handlers without the spec check in front) agree on a value
// just inside and just outside each limit the spec states, and that the
// server as deployed (with the check) answers each refusal with a 422 naming
// the field.
func TestOpenAPIAndServerAgreeOnLimits(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	owner := e.user("owner@acme.example")
	acme, _ := e.org(owner.ID, "Acme")
	_, key := e.apiKey(acme.ID, "ci", gw.RoleAdmin)
	c := newAPIClient(t, e, key)
	v := testSpecValidator(t)
	s := newServer(e.deps)
	ctx := gw.WithScope(context.Background(), e.scope(owner.ID, acme.ID))
	handlers := map[string]http.Handler{
		"/api/v1/contacts":      s.apiCreateContact(),
		"/api/v1/audit-events":  s.apiListAuditEvents(),
		"list /api/v1/contacts": s.apiListContacts(),
	}

	cases := limitCases(t)
	require.Greater(t, len(cases), 50)
	for _, tc := range cases {
		name := fmt.Sprintf("%s %s ok=%v", tc.field, tc.why, tc.ok)
		var method, target, handler, ctype string
		if tc.body != "" {
			method, target, handler, ctype = "POST", "/api/v1/contacts", "/api/v1/contacts", "application/json"
		} else {
			method, target, handler = "GET", tc.path+"?"+tc.query, tc.path
			if tc.path == "/api/v1/contacts" {
				handler = "list /api/v1/contacts"
			}
		}
		require.Equal(t, tc.ok, specAccepts(t, v, method, target, ctype, tc.body), "spec: %s", name)

		// The handler alone.
		r := httptest.NewRequestWithContext(ctx, method, target, strings.NewReader(tc.body))
		if ctype != "" {
			r.Header.Set("Content-Type", ctype)
		}
		w := httptest.NewRecorder()
		handlers[handler].ServeHTTP(w, r)
		if tc.ok {
			require.Less(t, w.Code, 300, "server: %s: %s", name, w.Body)
		} else {
			require.Equal(t, http.StatusUnprocessableEntity, w.Code, "server: %s: %s", name, w.Body)
		}

		// The server as deployed.
		status, body := c.do(method, target, ctype, tc.body, tc.ok)
		if tc.ok {
			require.Less(t, status, 300, "deployed: %s: %s", name, body)
			continue
		}
		require.Equal(t, http.StatusUnprocessableEntity, status, "deployed: %s: %s", name, body)
		require.Contains(t, apiError(t, body).Fields, tc.field, "deployed: %s: %s", name, body)
	}
	t.Logf("%d limit cases: spec, handler and server agree", len(cases))
}
