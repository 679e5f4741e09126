package web

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"sort"
	"strings"
	"testing"

	validator "github.com/pb33f/libopenapi-validator"
	"github.com/stretchr/testify/require"

	"github.com/groundwork-dev/groundwork/internal/gw"
	"github.com/groundwork-dev/groundwork/internal/idempotency"
)

// limitCase is a value just inside or just outside one limit of the
// OpenAPI document, sent to one operation as a body property, a query
// parameter or a header.
type limitCase struct {
	op         string // "POST /api/v1/contacts", as in the document
	in         string // "body", "query" or "header"
	field, why string // the property or parameter, and the limit (keyword path)
	target     string // path and query string
	ctype      string
	body       string
	header     http.Header
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

// The patterns of openapi.json the limit walk knows how to exercise.
const (
	patternPlainText = `^[^\x00-\x1f\x7f-\x9f]*$`
	patternNoNUL     = `^[^\x00]*$`
	patternPhone     = `^([ +().-]*[0-9][0-9 +().-]*)?$`
	patternEmail     = `^[^"\[@]+@[^"\[@]*[^"\[@.]$`
	patternASCII     = `^[\x20-\x7e]*$`
)

// valCase is one value for a schema and the keyword path it exercises.
type valCase struct {
	kw string
	v  any
	ok bool
}

// specWalk walks openapi.json for the limits of request bodies, query
// parameters and headers.
type specWalk struct {
	t      *testing.T
	doc    map[string]any
	header bool // walking a header: each value new (Idempotency-Keys)
	uniq   int
}

func (w *specWalk) deref(s map[string]any) map[string]any {
	ref, ok := s["$ref"].(string)
	if !ok {
		return s
	}
	node := any(w.doc)
	for _, part := range strings.Split(strings.TrimPrefix(ref, "#/"), "/") {
		node = node.(map[string]any)[part]
	}
	return node.(map[string]any)
}

// limitKeywords are the schema keywords that limit a value.
var limitKeywords = []string{"maxLength", "minLength", "pattern", "format", "enum", "const", "minimum", "maximum",
	"exclusiveMinimum", "exclusiveMaximum", "multipleOf", "maxItems", "minItems", "uniqueItems",
	"maxProperties", "minProperties", "required"}

// keywords lists the keyword paths of the limits in s ("maxLength",
// "items.pattern", "anyOf.format", ...).
func (w *specWalk) keywords(s map[string]any, prefix string) []string {
	s = w.deref(s)
	var out []string
	for _, k := range limitKeywords {
		if _, ok := s[k]; ok {
			out = append(out, prefix+k)
		}
	}
	for _, k := range []string{"items", "propertyNames", "additionalProperties"} {
		if sub, ok := s[k].(map[string]any); ok {
			out = append(out, w.keywords(sub, prefix+k+".")...)
		}
	}
	if alts, ok := s["anyOf"].([]any); ok {
		for _, a := range alts {
			out = append(out, w.keywords(a.(map[string]any), prefix+"anyOf.")...)
		}
	}
	return out
}

// str is a valid string of n characters for s.
func (w *specWalk) str(s map[string]any, n int) string {
	if w.header { // an Idempotency-Key: each one new
		w.uniq++
		d := fmt.Sprintf("%0*d", max(n, 1), w.uniq)
		return d[len(d)-n:]
	}
	if s["pattern"] == patternPhone {
		return strings.Repeat("1", n)
	}
	return strings.Repeat("a", n)
}

// values returns, for each limit of s, a value just inside it and one just
// outside it; it fails the test on a limit it does not know how to
// exercise, so that a new one cannot go unchecked.
func (w *specWalk) values(s map[string]any, prefix string) []valCase {
	s = w.deref(s)
	var out []valCase
	add := func(kw string, v any, ok bool) { out = append(out, valCase{prefix + kw, v, ok}) }
	num := func(k string) (int, bool) {
		f, ok := s[k].(float64)
		return int(f), ok
	}
	if alts, ok := s["anyOf"].([]any); ok { // email: "" or an address
		for _, a := range alts {
			a := a.(map[string]any)
			if c, ok := a["const"]; ok {
				add("anyOf.const", c, true)
			}
			if a["format"] == "email" {
				require.Equal(w.t, patternEmail, a["pattern"], "an email without its pattern")
				add("anyOf.format", "ada@example", true)
				add("anyOf.format", "ada.example.com", false)
				add("anyOf.format", "a..b@example.com", false)
				add("anyOf.pattern", `"ada"@example.com`, false)
				add("anyOf.pattern", "ada@[192.0.2.1]", false)
			}
		}
		if n, ok := num("maxLength"); ok {
			add("maxLength", emailOfLen(n), true)
			add("maxLength", emailOfLen(n+1), false)
		}
		return out
	}
	if n, ok := num("maxLength"); ok {
		add("maxLength", w.str(s, n), true)
		add("maxLength", w.str(s, n+1), false)
	}
	if n, ok := num("minLength"); ok && n > 0 {
		add("minLength", w.str(s, n), true)
		add("minLength", w.str(s, n-1), false)
	}
	if p, ok := s["pattern"].(string); ok {
		switch {
		case p == patternPlainText || strings.HasPrefix(p, `^[^\x00-\x1f\x7f-\x9f`):
			add("pattern", "Zoë 日本", true)
			add("pattern", "a\x15b", false)
			add("pattern", "a\tb", false)
			add("pattern", "a\u0085b", false)
			if p != patternPlainText { // a name: no direction-changing or invisible characters
				add("pattern", "a\u202eb", false)
				add("pattern", "a\u200bb", false)
				add("pattern", "a\u200db", true) // a joiner, as in emoji
			}
		case p == patternNoNUL:
			add("pattern", "a\tb\nc", true)
			add("pattern", "a\x00b", false)
		case p == patternPhone:
			add("pattern", "(1)", true)
			add("pattern", "(.", false)
			add("pattern", "1a", false)
		case p == patternASCII:
			add("pattern", w.str(s, 3)+" ~", true)
			add("pattern", "é"+w.str(s, 3), false)
		default:
			w.t.Fatalf("%spattern %q: the limit walk does not know how to exercise it", prefix, p)
		}
	}
	if f, ok := s["format"].(string); ok {
		switch f {
		case "uuid":
			add("format", gw.NewID(), true)
			add("format", "not-a-uuid", false)
		case "date-time":
			add("format", "2026-01-02T03:04:05Z", true)
			add("format", "2026-01-02", false)
		default:
			w.t.Fatalf("%sformat %q: the limit walk does not know how to exercise it", prefix, f)
		}
	}
	if e, ok := s["enum"].([]any); ok {
		for _, v := range e {
			add("enum", v, true)
		}
		add("enum", "bogus", false)
	}
	if n, ok := num("minimum"); ok {
		add("minimum", n, true)
		add("minimum", n-1, false)
	}
	if n, ok := num("maximum"); ok {
		add("maximum", n, true)
		add("maximum", n+1, false)
	}
	if items, ok := s["items"].(map[string]any); ok {
		for _, c := range w.values(items, "items.") {
			add(c.kw, []any{c.v}, c.ok)
		}
		if n, ok := num("maxItems"); ok {
			many := make([]any, n+1)
			for i := range many {
				many[i] = fmt.Sprintf("t%d", i)
			}
			add("maxItems", many[:n], true)
			add("maxItems", many, false)
		}
	}
	if names, ok := s["propertyNames"].(map[string]any); ok {
		for _, c := range w.values(names, "propertyNames.") {
			add(c.kw, map[string]any{c.v.(string): 1}, c.ok)
		}
	}
	if values, ok := s["additionalProperties"].(map[string]any); ok {
		for _, c := range w.values(values, "additionalProperties.") {
			add(c.kw, map[string]any{"k": c.v}, c.ok)
		}
		add("additionalProperties.type", map[string]any{"k": map[string]any{}}, false)
	}
	if n, ok := num("maxProperties"); ok {
		m := map[string]any{}
		for i := range n {
			m[fmt.Sprintf("k%d", i)] = i
		}
		add("maxProperties", maps.Clone(m), true)
		m["one_more"] = true
		add("maxProperties", m, false)
	}
	return out
}

// baseValue is a valid value of a required property.
func (w *specWalk) baseValue(s map[string]any) any {
	s = w.deref(s)
	if e, ok := s["enum"].([]any); ok {
		return e[0]
	}
	if n, ok := s["minimum"].(float64); ok {
		return int(n)
	}
	return "Ada"
}

// operation is one operation of the document with what it takes.
type operation struct {
	method, path string
	params       []map[string]any
	bodyType     string
	body         map[string]any // the JSON body's schema; nil for none
}

// operations lists the document's operations.
func (w *specWalk) operations() []operation {
	var ops []operation
	for path, raw := range w.doc["paths"].(map[string]any) {
		item := raw.(map[string]any)
		var common []any
		if ps, ok := item["parameters"].([]any); ok {
			common = ps
		}
		for method, raw := range item {
			if method == "parameters" {
				continue
			}
			o := raw.(map[string]any)
			op := operation{method: strings.ToUpper(method), path: path}
			ps, _ := o["parameters"].([]any)
			for _, p := range append(slices.Clone(common), ps...) {
				op.params = append(op.params, w.deref(p.(map[string]any)))
			}
			if rb, ok := o["requestBody"].(map[string]any); ok {
				for _, ct := range slices.Sorted(maps.Keys(rb["content"].(map[string]any))) {
					op.bodyType = ct
					if ct == "application/json" {
						op.body = w.deref(rb["content"].(map[string]any)[ct].(map[string]any)["schema"].(map[string]any))
						break
					}
				}
			}
			ops = append(ops, op)
		}
	}
	sort.Slice(ops, func(i, j int) bool { return ops[i].path+ops[i].method < ops[j].path+ops[j].method })
	return ops
}

// limitCases walks every operation of openapi.json: each limit of each
// property of its JSON body (and the body's required properties and
// refusal of unknown ones), of each query parameter and of each header
// gets a value just inside it and one just outside. Path parameters are
// left out: a malformed id is the handler's 404, as the document says.
// It returns the cases and the keyword paths it found, by operation.
func limitCases(t *testing.T, contactID string) ([]limitCase, map[string][]string) {
	t.Helper()
	w := &specWalk{t: t}
	require.NoError(t, json.Unmarshal(openAPIDocument, &w.doc))
	var cases []limitCase
	found := map[string][]string{}
	for _, op := range w.operations() {
		name := op.method + " " + op.path
		path := strings.ReplaceAll(op.path, "{id}", contactID)
		var base map[string]any
		baseBody, ctype := "", op.bodyType
		switch {
		case op.body != nil:
			base = map[string]any{}
			req, _ := op.body["required"].([]any)
			props, _ := op.body["properties"].(map[string]any)
			for _, r := range req {
				base[r.(string)] = w.baseValue(props[r.(string)].(map[string]any))
			}
			baseBody = genJSON(base)
		case op.bodyType == "text/csv":
			baseBody = "name,email\nAda,ada@example.com\n"
		}
		bodyWith := func(field string, v any) string {
			m := maps.Clone(base)
			m[field] = v
			return genJSON(m)
		}
		if op.body != nil {
			props, _ := op.body["properties"].(map[string]any)
			for _, field := range slices.Sorted(maps.Keys(props)) {
				s := props[field].(map[string]any)
				for _, kw := range w.keywords(s, "") {
					found[name] = append(found[name], "body "+field+" "+kw)
				}
				for _, c := range w.values(s, "") {
					cases = append(cases, limitCase{op: name, in: "body", field: field, why: c.kw, target: path,
						ctype: ctype, body: bodyWith(field, c.v), ok: c.ok})
				}
			}
			if req, ok := op.body["required"].([]any); ok {
				for _, r := range req {
					found[name] = append(found[name], "body "+r.(string)+" required")
					m := maps.Clone(base)
					delete(m, r.(string))
					cases = append(cases, limitCase{op: name, in: "body", field: r.(string), why: "required", target: path,
						ctype: ctype, body: genJSON(m), ok: false})
				}
			}
			if op.body["additionalProperties"] == false {
				found[name] = append(found[name], "body bogus additionalProperties")
				cases = append(cases, limitCase{op: name, in: "body", field: "bogus", why: "additionalProperties", target: path,
					ctype: ctype, body: bodyWith("bogus", 1), ok: false})
			}
		}
		for _, p := range op.params {
			in, pname := p["in"].(string), p["name"].(string)
			if in == "path" {
				continue
			}
			require.Contains(t, []string{"query", "header"}, in, "%s: parameter %s in %s", name, pname, in)
			s := p["schema"].(map[string]any)
			for _, kw := range w.keywords(s, "") {
				found[name] = append(found[name], in+" "+pname+" "+kw)
			}
			w.header = in == "header"
			for _, c := range w.values(s, "") {
				v := fmt.Sprint(c.v)
				lc := limitCase{op: name, in: in, field: pname, why: c.kw, target: path, ctype: ctype, body: baseBody, ok: c.ok}
				if in == "query" {
					lc.target += "?" + url.Values{pname: {v}}.Encode()
				} else {
					lc.header = http.Header{http.CanonicalHeaderKey(pname): {v}}
				}
				cases = append(cases, lc)
			}
		}
	}
	return cases, found
}

// specAcceptsWith reports whether openapi.json accepts the request.
func specAcceptsWith(t *testing.T, v validator.Validator, tc limitCase) bool {
	t.Helper()
	req, err := http.NewRequest(strings.Fields(tc.op)[0], "http://localhost:8080"+tc.target, strings.NewReader(tc.body))
	require.NoError(t, err)
	maps.Copy(req.Header, tc.header)
	if tc.ctype != "" {
		req.Header.Set("Content-Type", tc.ctype)
	}
	req.Header.Set("Authorization", "Bearer gw_test")
	ok, _ := v.ValidateHttpRequestSync(req)
	return ok
}

// TestOpenAPIAndServerAgreeOnLimits proves, for every limit the document
// states on any operation's body, query or headers, that the document, the
// server's own rules (the handlers without the document's check in front)
// and the server as deployed agree on a value just inside and just outside
// it, and that the deployed server answers each refusal with a 422 naming
// the field. It fails when an operation states a limit that no case
// exercises, or when an operation with limits has no handler here.
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

	status, body := c.do("POST", "/api/v1/contacts", "application/json", `{"name":"Seed"}`, true)
	require.Equal(t, http.StatusCreated, status, "%s", body)
	var seed contactJSON
	require.NoError(t, json.Unmarshal(body, &seed))

	// The handlers alone: as routes.go registers them inside rt.api.
	alone := http.NewServeMux()
	for pattern, h := range map[string]http.Handler{
		"GET /api/v1/contacts":           s.apiListContacts(),
		"POST /api/v1/contacts":          s.idempotentCreate(s.apiCreateContact(), s.replayContactCreate),
		"PATCH /api/v1/contacts/{id}":    s.apiUpdateContact(),
		"GET /api/v1/audit-events":       s.apiListAuditEvents(),
		"POST /api/v1/exports":           s.idempotentCreate(s.apiCreateExport(), s.replayExportCreate),
		"PUT /api/v1/export-schedule":    s.apiSetExportSchedule(),
		"POST /api/v1/imports":           s.idempotentUpload(s.apiCreateImport(), s.replayImportCreate),
		"GET /api/v1/exports":            s.apiListExports(),
		"GET /api/v1/imports":            s.apiListImports(),
		"GET /api/v1/export-schedule":    s.apiGetExportSchedule(),
		"DELETE /api/v1/export-schedule": s.apiDeleteExportSchedule(),
	} {
		alone.Handle(pattern, h)
	}

	cases, found := limitCases(t, seed.ID)
	// Every keyword path found is exercised by a case of its operation.
	exercised := map[string]bool{}
	for _, tc := range cases {
		exercised[tc.op+" "+tc.in+" "+tc.field+" "+tc.why] = true
	}
	var missing []string
	for op, kws := range found {
		for _, kw := range kws {
			if !exercised[op+" "+kw] {
				missing = append(missing, op+" "+kw)
			}
		}
	}
	require.Empty(t, missing, "limits of openapi.json that no case exercises")
	ops := map[string]int{}
	for _, tc := range cases {
		ops[tc.op]++
	}
	for _, op := range []string{"GET /api/v1/contacts", "POST /api/v1/contacts", "PATCH /api/v1/contacts/{id}",
		"GET /api/v1/audit-events", "POST /api/v1/exports", "PUT /api/v1/export-schedule", "POST /api/v1/imports"} {
		require.Positive(t, ops[op], "no limit case for %s", op)
	}

	for _, tc := range cases {
		name := fmt.Sprintf("%s %s %s %s ok=%v", tc.op, tc.in, tc.field, tc.why, tc.ok)
		method := strings.Fields(tc.op)[0]
		// libopenapi-validator reads an empty header as one not sent, so it
		// cannot see an empty Idempotency-Key break minLength 1; the
		// handler and the deployed server are still checked below.
		if !(tc.in == "header" && tc.header.Get(tc.field) == "") {
			require.Equal(t, tc.ok, specAcceptsWith(t, v, tc), "spec: %s: %s %s", name, tc.target, tc.body)
		}

		// The handler alone.
		r := httptest.NewRequestWithContext(ctx, method, tc.target, strings.NewReader(tc.body))
		maps.Copy(r.Header, tc.header)
		if tc.ctype != "" {
			r.Header.Set("Content-Type", tc.ctype)
		}
		_, pattern := alone.Handler(r)
		require.NotEmpty(t, pattern, "%s has limits: add its handler to this test", tc.op)
		w := httptest.NewRecorder()
		alone.ServeHTTP(w, r) // sets the path's values
		if tc.ok {
			require.True(t, w.Code < 300 || w.Code == http.StatusConflict, "server: %s: %d %s", name, w.Code, w.Body)
		} else {
			require.Equal(t, http.StatusUnprocessableEntity, w.Code, "server: %s: %s %s: %s", name, tc.target, tc.body, w.Body)
		}

		// The server as deployed.
		status, body := c.doWith(method, tc.target, tc.ctype, tc.body, tc.header, tc.ok)
		if tc.ok {
			require.True(t, status < 300 || status == http.StatusConflict, "deployed: %s: %d %s", name, status, body)
			continue
		}
		require.Equal(t, http.StatusUnprocessableEntity, status, "deployed: %s: %s", name, body)
		require.Contains(t, apiError(t, body).Fields, tc.field, "deployed: %s: %s", name, body)
	}
	t.Logf("%d limit cases over %d operations: spec, handler and server agree", len(cases), len(ops))
}

// TestOpenAPIStatesTheIdempotencyKeyRule: the document refuses what the
// server refuses in an Idempotency-Key, a character that is not printable
// ASCII (issue 20: the document allowed it).
func TestOpenAPIStatesTheIdempotencyKeyRule(t *testing.T) {
	t.Parallel()
	v := testSpecValidator(t)
	for key, ok := range map[string]bool{"order-42 ~": true, "ordér-42": false, "日本": false} {
		tc := limitCase{op: "POST /api/v1/contacts", target: "/api/v1/contacts", ctype: "application/json",
			body: `{"name":"Ada"}`, header: http.Header{"Idempotency-Key": {key}}}
		require.Equal(t, ok, specAcceptsWith(t, v, tc), "%q", key)
		require.Equal(t, ok, idempotency.CheckValue(key) == nil, "%q", key)
	}
}
