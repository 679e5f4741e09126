package web

import (
	"encoding/json"
	"fmt"
	"maps"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/groundwork-dev/groundwork/internal/gw"
)

// genRounds is how many rounds TestAPIGeneratedRequests runs: 20 in make
// test, GROUNDWORK_API_GEN_ROUNDS in make fuzz (a longer run).
func genRounds() int {
	if n, err := strconv.Atoi(os.Getenv("GROUNDWORK_API_GEN_ROUNDS")); err == nil && n > 0 {
		return n
	}
	return 20
}

// genReq is one generated request and what it must get.
type genReq struct {
	kind, method, path, ctype, body string
	valid                           bool // must be accepted (2xx) and be a request the spec accepts
	// header holds more request headers.
	header http.Header
	// also lists the other answers a valid request may get: the state of
	// the organisation decides them (a 409 while an export is running, a
	// 404 for a schedule that is not set).
	also []int
}

// gen makes requests from the rules of openapi.json: valid ones within
// every limit, and mutations of them that break exactly one rule.
type gen struct {
	r  *rand.Rand
	id string // an existing contact
	// exportID and importID are an existing export and import.
	exportID, importID string
}

var genLetters = []rune("abcdefghijklmnopqrstuvwxyzÀéñßøΩжअ日本 -'")

func (g *gen) text(min, max int) string {
	n := min + g.r.IntN(max-min+1)
	rs := make([]rune, n)
	for i := range rs {
		rs[i] = genLetters[g.r.IntN(len(genLetters))]
	}
	s := strings.TrimSpace(string(rs))
	if s == "" {
		s = "x"
	}
	return s
}

func (g *gen) validContact(create bool) map[string]any {
	m := map[string]any{}
	if create || g.r.IntN(2) == 0 {
		m["name"] = g.text(1, 200)
	}
	if g.r.IntN(2) == 0 {
		m["email"] = []any{"", nil, fmt.Sprintf("u%d@example.com", g.r.IntN(1e6)), "a.b+c@sub.example.org"}[g.r.IntN(4)]
	}
	if g.r.IntN(2) == 0 {
		m["phone"] = []any{"", nil, "+44 20 " + strconv.Itoa(g.r.IntN(1e6)), "(555) 123-4567"}[g.r.IntN(4)]
	}
	if g.r.IntN(2) == 0 {
		m["company"] = []any{"", nil, g.text(0, 200)}[g.r.IntN(3)]
	}
	if g.r.IntN(2) == 0 {
		var tags []any
		for i := range g.r.IntN(21) {
			tags = append(tags, fmt.Sprintf("t%d-%s", i, g.text(1, 10)))
		}
		if g.r.IntN(5) == 0 {
			m["tags"] = nil
		} else {
			m["tags"] = tags
		}
	}
	if g.r.IntN(2) == 0 {
		custom := map[string]any{}
		for i := range g.r.IntN(6) {
			custom[fmt.Sprintf("k%d", i)] = []any{g.text(0, 50), float64(g.r.IntN(1e6)), true, nil}[g.r.IntN(4)]
		}
		m["custom"] = custom
	}
	return m
}

func genJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// valid returns a request the spec and the server accept.
func (g *gen) valid() genReq {
	if n := g.r.IntN(16); n >= 5 {
		ops := slices.Sorted(maps.Keys(g.validOthers()))
		return g.validOthers()[ops[g.r.IntN(len(ops))]]()
	}
	switch g.r.IntN(5) {
	case 0:
		return genReq{"create", "POST", "/api/v1/contacts", "application/json", genJSON(g.validContact(true)), true, nil, nil}
	case 1:
		ct := []string{"application/json", "application/merge-patch+json"}[g.r.IntN(2)]
		return genReq{"patch", "PATCH", "/api/v1/contacts/" + g.id, ct, genJSON(g.validContact(false)), true, nil, nil}
	case 2:
		q := url.Values{}
		if g.r.IntN(2) == 0 {
			q.Set("q", g.text(1, 200))
		}
		if g.r.IntN(2) == 0 {
			q.Set("limit", strconv.Itoa(1+g.r.IntN(200)))
		}
		return genReq{"list", "GET", "/api/v1/contacts?" + q.Encode(), "", "", true, nil, nil}
	case 3:
		q := url.Values{}
		if g.r.IntN(2) == 0 {
			q.Set("action", []string{"contact.created", "member.*", g.text(1, 100)}[g.r.IntN(3)])
		}
		if g.r.IntN(2) == 0 {
			q.Set("since", "2026-01-02T03:04:05Z")
		}
		if g.r.IntN(2) == 0 {
			q.Set("limit", strconv.Itoa(1+g.r.IntN(200)))
		}
		return genReq{"audit", "GET", "/api/v1/audit-events?" + q.Encode(), "", "", true, nil, nil}
	default:
		return genReq{"get", "GET", "/api/v1/contacts/" + g.id, "", "", true, nil, nil}
	}
}

const csvType = "text/csv"

// validExport is a valid ExportCreate body.
func (g *gen) validExport() map[string]any {
	m := map[string]any{}
	if g.r.IntN(2) == 0 {
		m["format"] = []string{"csv", "jsonl"}[g.r.IntN(2)]
	}
	if g.r.IntN(2) == 0 {
		m["packaging"] = []string{"gzip", "zip"}[g.r.IntN(2)]
	}
	if g.r.IntN(2) == 0 {
		all := []string{"contacts", "members", "audit_events"}
		m["tables"] = all[:g.r.IntN(4)]
	}
	return m
}

// validSchedule is a valid ExportScheduleSet body.
func (g *gen) validSchedule() map[string]any {
	m := g.validExport()
	m["frequency"] = []string{"daily", "weekly"}[g.r.IntN(2)]
	m["hour"] = g.r.IntN(24)
	if g.r.IntN(2) == 0 {
		m["weekday"] = g.r.IntN(7)
	}
	if g.r.IntN(2) == 0 {
		m["timezone"] = []string{"UTC", "Europe/Paris", "America/New_York", "Asia/Kolkata"}[g.r.IntN(4)]
	}
	return m
}

// validCSV is a small valid import file.
func (g *gen) validCSV() string {
	var b strings.Builder
	b.WriteString("name,email,tags\n")
	for i := range 1 + g.r.IntN(3) {
		fmt.Fprintf(&b, "%s,u%d-%d@example.com,vip\n", strings.ReplaceAll(g.text(1, 30), ",", ""), i, g.r.IntN(1e6))
	}
	return b.String()
}

// validOthers are valid requests for the operations besides the contacts'
// and the audit log's, by operation.
func (g *gen) validOthers() map[string]func() genReq {
	get := func(kind, path string, also ...int) func() genReq {
		return func() genReq { return genReq{kind, "GET", path, "", "", true, nil, also} }
	}
	return map[string]func() genReq{
		"GET /api/v1/openapi.json":    get("openapi", "/api/v1/openapi.json"),
		"GET /api/v1/exports":         get("list exports", "/api/v1/exports"),
		"GET /api/v1/exports/{id}":    get("get export", "/api/v1/exports/"+g.exportID),
		"GET /api/v1/imports":         get("list imports", "/api/v1/imports"),
		"GET /api/v1/imports/{id}":    get("get import", "/api/v1/imports/"+g.importID),
		"GET /api/v1/export-schedule": get("get schedule", "/api/v1/export-schedule", http.StatusNotFound),
		"POST /api/v1/exports/{id}/cancel": func() genReq {
			return genReq{"cancel export", "POST", "/api/v1/exports/" + g.exportID + "/cancel", "", "", true, nil, []int{http.StatusConflict}}
		},
		"POST /api/v1/exports": func() genReq {
			return genReq{"create export", "POST", "/api/v1/exports", "application/json", genJSON(g.validExport()), true, nil, []int{http.StatusConflict}}
		},
		"PUT /api/v1/export-schedule": func() genReq {
			return genReq{"set schedule", "PUT", "/api/v1/export-schedule", "application/json", genJSON(g.validSchedule()), true, nil, nil}
		},
		"DELETE /api/v1/export-schedule": func() genReq {
			return genReq{"delete schedule", "DELETE", "/api/v1/export-schedule", "", "", true, nil, []int{http.StatusNotFound}}
		},
		"POST /api/v1/imports": func() genReq {
			q := url.Values{}
			if g.r.IntN(2) == 0 {
				q.Set("mode", []string{"all_or_nothing", "skip_invalid"}[g.r.IntN(2)])
			}
			if g.r.IntN(2) == 0 {
				q.Set("file_name", g.text(1, 40)+".csv")
			}
			var h http.Header
			if g.r.IntN(2) == 0 {
				h = http.Header{"Idempotency-Key": {fmt.Sprintf("imp-%d", g.r.Uint64())}}
			}
			return genReq{"create import", "POST", "/api/v1/imports?" + q.Encode(), csvType, g.validCSV(), true, h, []int{http.StatusConflict}}
		},
	}
}

// mutateOther breaks one rule of a request to an operation besides the
// contacts'.
func (g *gen) mutateOther() genReq {
	bad := func(kind, method, path, ctype, body string) genReq {
		return genReq{kind, method, path, ctype, body, false, nil, nil}
	}
	switch g.r.IntN(9) {
	case 0: // every operation but the public document refuses an unknown parameter
		ops := slices.Sorted(maps.Keys(g.validOthers()))
		ops = slices.DeleteFunc(ops, func(op string) bool { return op == "GET /api/v1/openapi.json" })
		r := g.validOthers()[ops[g.r.IntN(len(ops))]]()
		sep := "?"
		if strings.Contains(r.path, "?") {
			sep = "&"
		}
		r.path += sep + url.QueryEscape(g.text(1, 5)+"x") + "=1"
		r.kind, r.valid, r.also = "unknown query parameter", false, nil
		return r
	case 1:
		path := []string{"/api/v1/exports/", "/api/v1/imports/", "/api/v1/contacts/"}[g.r.IntN(3)] + []string{"x", "123", "not-an-id"}[g.r.IntN(3)]
		return bad("malformed id", "GET", path, "", "")
	case 2:
		return bad("malformed id", "POST", "/api/v1/exports/"+[]string{"x", "123"}[g.r.IntN(2)]+"/cancel", "", "")
	case 3:
		m := g.validExport()
		switch g.r.IntN(4) {
		case 0:
			m["format"] = []any{"xml", "", 1}[g.r.IntN(3)]
		case 1:
			m["packaging"] = "tar"
		case 2:
			m["tables"] = []any{"contacts", "invoices"}
		default:
			m["compress"] = true
		}
		return bad("bad export", "POST", "/api/v1/exports", "application/json", genJSON(m))
	case 4:
		m := g.validSchedule()
		switch g.r.IntN(5) {
		case 0:
			m["hour"] = []any{24, -1, "3", 1.5}[g.r.IntN(4)]
		case 1:
			m["weekday"] = []any{7, -1}[g.r.IntN(2)]
		case 2:
			m["frequency"] = []any{"monthly", "", nil}[g.r.IntN(3)]
		case 3:
			delete(m, []string{"frequency", "hour"}[g.r.IntN(2)])
		default:
			m["timezone"] = []any{"Mars/Olympus", "Local", 3}[g.r.IntN(3)]
		}
		return bad("bad schedule", "PUT", "/api/v1/export-schedule", "application/json", genJSON(m))
	case 5:
		return bad("bad import mode", "POST", "/api/v1/imports?mode="+[]string{"all", "bogus", "SKIP_INVALID"}[g.r.IntN(3)], csvType, g.validCSV())
	case 6:
		ct := []string{"application/json", "text/plain", "multipart/form-data; boundary=x"}[g.r.IntN(3)]
		return bad("wrong media type", "POST", "/api/v1/imports", ct, g.validCSV())
	case 7:
		if g.r.IntN(2) == 0 {
			return bad("wrong media type", "POST", "/api/v1/exports", "text/plain", "{}")
		}
		return bad("wrong media type", "PUT", "/api/v1/export-schedule", "text/plain", genJSON(g.validSchedule()))
	default:
		r := genReq{"bad Idempotency-Key", "POST", "/api/v1/contacts", "application/json", `{"name":"Ada"}`, false, nil, nil}
		r.header = http.Header{"Idempotency-Key": {[]string{"clé", strings.Repeat("k", 256), "日本"}[g.r.IntN(3)]}}
		return r
	}
}

// mutate breaks one rule of a valid request; kind says which.
func (g *gen) mutate() genReq {
	if g.r.IntN(5) < 2 {
		return g.mutateOther()
	}
	c := g.validContact(true)
	fields := []string{"name", "email", "phone", "company", "tags", "custom"}
	f := fields[g.r.IntN(len(fields))]
	post := func(kind string, body string) genReq {
		return genReq{kind, "POST", "/api/v1/contacts", "application/json", body, false, nil, nil}
	}
	switch g.r.IntN(14) {
	case 0:
		delete(c, "name")
		return post("missing name", genJSON(c))
	case 1:
		c[f] = []any{42, true, map[string]any{"x": 1}, []any{1}}[g.r.IntN(4)]
		if f == "custom" {
			c[f] = []any{42, true, []any{1}}[g.r.IntN(3)]
		}
		return post("wrong type", genJSON(c))
	case 2:
		c["nickname"] = "x"
		return post("unknown field", genJSON(c))
	case 3:
		limits := map[string]int{"name": 200, "email": 254, "phone": 40, "company": 200}
		if f == "tags" || f == "custom" {
			f = "name"
		}
		c[f] = strings.Repeat("1", limits[f]+1+g.r.IntN(10))
		return post("too long", genJSON(c))
	case 4:
		if f == "email" || f == "tags" || f == "custom" {
			f = "company"
		}
		c[f] = "a" + string(rune([]int{0, 1, 9, 10, 13, 0x1b, 0x7f, 0x85, 0x9f}[g.r.IntN(9)])) + "1"
		return post("control character", genJSON(c))
	case 5:
		tags := make([]string, 21+g.r.IntN(5))
		for i := range tags {
			tags[i] = "t" + strconv.Itoa(i)
		}
		c["tags"] = tags
		return post("too many tags", genJSON(c))
	case 6:
		return post("not an object", []string{`[]`, `[1,2]`, `"x"`, `null`, `1`, `true`}[g.r.IntN(6)])
	case 7:
		b := genJSON(c)
		return post("malformed JSON", b[:g.r.IntN(len(b))])
	case 8:
		r := post("wrong media type", genJSON(c))
		r.ctype = []string{"text/plain", "application/xml", "multipart/form-data; boundary=x"}[g.r.IntN(3)]
		return r
	case 9:
		return genReq{"unknown query parameter", "GET", "/api/v1/contacts?limit=1&" + url.QueryEscape(g.text(1, 5)+"x") + "=1", "", "", false, nil, nil}
	case 10:
		p := []string{"limit", "q", "cursor"}[g.r.IntN(3)]
		return genReq{"empty query value", "GET", "/api/v1/contacts?" + p + "=", "", "", false, nil, nil}
	case 11:
		v := []string{"0", "201", "-1", "abc", "1.5", "1e3"}[g.r.IntN(6)]
		return genReq{"bad limit", "GET", "/api/v1/audit-events?limit=" + v, "", "", false, nil, nil}
	case 12:
		return genReq{"null name", "PATCH", "/api/v1/contacts/" + g.id, "application/merge-patch+json", `{"name":null}`, false, nil, nil}
	default:
		c["email"] = []string{"ada", "ada@", "@example.com", "a..b@example.com", `"a"@example.com`, "ada@-x.com"}[g.r.IntN(6)]
		return post("bad email", genJSON(c))
	}
}

// specOperations lists the operations of openapi.json ("GET
// /api/v1/contacts/{id}") and whether each is public.
func specOperations(t *testing.T) map[string]bool {
	t.Helper()
	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	require.NoError(t, json.Unmarshal(openAPIDocument, &doc))
	ops := map[string]bool{}
	for path, item := range doc.Paths {
		for method, raw := range item {
			if method == "parameters" {
				continue
			}
			var op struct {
				Security *[]any `json:"security"`
			}
			require.NoError(t, json.Unmarshal(raw, &op))
			ops[strings.ToUpper(method)+" "+path] = op.Security != nil && len(*op.Security) == 0
		}
	}
	return ops
}

// opOf names the operation of openapi.json a request is for.
func opOf(ops map[string]bool, method, target string) string {
	path, _, _ := strings.Cut(target, "?")
	for op := range ops {
		m, tmpl, _ := strings.Cut(op, " ")
		if m != method {
			continue
		}
		ps, ts := strings.Split(path, "/"), strings.Split(tmpl, "/")
		if len(ps) != len(ts) {
			continue
		}
		match := true
		for i := range ts {
			if ts[i] != ps[i] && !strings.HasPrefix(ts[i], "{") {
				match = false
			}
		}
		if match {
			return op
		}
	}
	return ""
}

// TestAPIGeneratedRequests sends requests generated from the rules of
// openapi.json to every one of its operations: each valid one must be
// accepted (2xx, or the answer the organisation's state decides, such as a
// 409 while an export runs; its response as the spec says), each mutated
// one refused with a 4xx, none may get a 5xx. Each round also runs the
// stateful chains (create → read → patch → delete of a contact; an export
// requested, read and cancelled; a schedule set, read and deleted; an
// import uploaded and read). Then every operation is called without a key
// and with a bogus one (401 with WWW-Authenticate), and every write with a
// viewer's key (403). It fails when an operation of the document gets no
// valid request or no mutated one. The count is bounded (genRounds rounds);
// the totals go to the test log and to artifacts/api-generated-requests.txt.
func TestAPIGeneratedRequests(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	owner := e.user("owner@acme.example")
	acme, _ := e.org(owner.ID, "Acme")
	_, key := e.apiKey(acme.ID, "ci", gw.RoleAdmin)
	_, viewerKey := e.apiKey(acme.ID, "viewer", gw.RoleViewer)
	c := newAPIClient(t, e, key)
	ops := specOperations(t)

	idOf := func(body []byte) string {
		var v struct {
			ID string `json:"id"`
		}
		require.NoError(t, json.Unmarshal(body, &v), "%s", body)
		require.NotEmpty(t, v.ID, "%s", body)
		return v.ID
	}
	status, body := c.do("POST", "/api/v1/contacts", "application/json", `{"name":"Seed"}`, true)
	require.Equal(t, http.StatusCreated, status, "%s", body)
	seed := idOf(body)
	status, body = c.do("POST", "/api/v1/exports", "application/json", `{}`, true)
	require.Equal(t, http.StatusAccepted, status, "%s", body)
	exportID := idOf(body)
	status, body = c.do("POST", "/api/v1/exports/"+exportID+"/cancel", "", "", true)
	require.Equal(t, http.StatusOK, status, "%s", body) // else every new export waits for it: 409
	status, body = c.do("POST", "/api/v1/imports", csvType, "name\nSeed two\n", true)
	require.Equal(t, http.StatusAccepted, status, "%s", body)
	importID := idOf(body)

	seedN := uint64(20)
	if s, err := strconv.ParseUint(os.Getenv("GROUNDWORK_API_GEN_SEED"), 10, 64); err == nil {
		seedN = s
	}
	g := &gen{r: rand.New(rand.NewPCG(seedN, 2026)), id: seed, exportID: exportID, importID: importID}
	sent, accepted := 0, 0
	answers := map[string]int{} // "kind → status", of valid requests not answered 2xx and of refusals
	validOps, mutatedOps := map[string]int{}, map[string]int{}
	send := func(req genReq) (int, []byte) {
		t.Helper()
		op := opOf(ops, req.method, req.path)
		require.NotEmpty(t, op, "%s %s is no operation of the document", req.method, req.path)
		status, body := c.doWith(req.method, req.path, req.ctype, req.body, req.header, req.valid)
		sent++
		require.Less(t, status, 500, "%s %s %s: %s", req.method, req.path, req.body, body)
		if req.valid {
			validOps[op]++
			if status >= 300 {
				require.Contains(t, req.also, status, "valid %s: %s %s %s: %s", req.kind, req.method, req.path, req.body, body)
				answers[fmt.Sprintf("valid %s → %d", req.kind, status)]++
			}
			accepted++
			return status, body
		}
		mutatedOps[op]++
		require.GreaterOrEqual(t, status, 400, "mutated %s: %s %s %s: %s", req.kind, req.method, req.path, req.body, body)
		answers[fmt.Sprintf("refused %s → %d", req.kind, status)]++
		return status, body
	}
	step := func(kind, method, path, ctype, body string, want ...int) []byte {
		t.Helper()
		status, b := send(genReq{"chain " + kind, method, path, ctype, body, true, nil, want})
		if status != want[0] {
			require.Contains(t, want[1:], status, "chain %s: %s %s: %s", kind, method, path, b)
		}
		return b
	}

	for range genRounds() {
		// The stateful chains.
		b := step("contact", "POST", "/api/v1/contacts", "application/json", genJSON(g.validContact(true)), http.StatusCreated)
		path := "/api/v1/contacts/" + idOf(b)
		step("contact", "GET", path, "", "", http.StatusOK)
		patch := g.validContact(false)
		patch["name"] = "Patched " + g.text(1, 20)
		b = step("contact", "PATCH", path, "application/merge-patch+json", genJSON(patch), http.StatusOK)
		var got contactJSON
		require.NoError(t, json.Unmarshal(b, &got))
		require.Equal(t, strings.TrimSpace(patch["name"].(string)), got.Name)
		b = step("contact", "GET", path, "", "", http.StatusOK)
		require.NoError(t, json.Unmarshal(b, &got))
		require.Equal(t, strings.TrimSpace(patch["name"].(string)), got.Name)
		step("contact", "DELETE", path, "", "", http.StatusNoContent)
		step("contact", "GET", path, "", "", http.StatusNotFound)
		step("contact", "DELETE", path, "", "", http.StatusNotFound)

		if st, b := send(genReq{"chain export", "POST", "/api/v1/exports", "application/json", genJSON(g.validExport()), true, nil,
			[]int{http.StatusConflict}}); st == http.StatusAccepted {
			path := "/api/v1/exports/" + idOf(b)
			step("export", "GET", path, "", "", http.StatusOK)
			step("export", "POST", path+"/cancel", "", "", http.StatusOK, http.StatusConflict) // 409: it finished first
			step("export", "GET", "/api/v1/exports", "", "", http.StatusOK)
		}

		step("schedule", "PUT", "/api/v1/export-schedule", "application/json", genJSON(g.validSchedule()), http.StatusOK)
		step("schedule", "GET", "/api/v1/export-schedule", "", "", http.StatusOK)
		step("schedule", "DELETE", "/api/v1/export-schedule", "", "", http.StatusNoContent)
		step("schedule", "GET", "/api/v1/export-schedule", "", "", http.StatusNotFound)
		step("schedule", "DELETE", "/api/v1/export-schedule", "", "", http.StatusNotFound)

		// One import at a time: while one is queued or running, the upload
		// is a 409 and the chain reads the first one.
		imported := importID
		if st, b := send(genReq{"chain import", "POST", "/api/v1/imports", csvType, g.validCSV(), true, nil,
			[]int{http.StatusConflict}}); st == http.StatusAccepted {
			imported = idOf(b)
		}
		step("import", "GET", "/api/v1/imports/"+imported, "", "", http.StatusOK)
		step("import", "GET", "/api/v1/imports", "", "", http.StatusOK)

		for i := range 25 {
			if i%2 == 0 {
				req := g.valid()
				if st, b := send(req); req.kind == "create export" && st == http.StatusAccepted {
					// Cancelled at once, so that the next request is not a 409.
					step("export", "POST", "/api/v1/exports/"+idOf(b)+"/cancel", "", "", http.StatusOK, http.StatusConflict)
				}
			} else {
				send(g.mutate())
			}
		}
	}

	// Every operation, without a key, with a bogus one and, for writes,
	// with a viewer's.
	others := g.validOthers()
	template := func(op string) genReq {
		if f, ok := others[op]; ok {
			return f()
		}
		path := strings.ReplaceAll(strings.SplitN(op, " ", 2)[1], "{id}", seed)
		switch op {
		case "POST /api/v1/contacts", "PATCH /api/v1/contacts/{id}":
			return genReq{"write", strings.Fields(op)[0], path, "application/json", `{"name":"Ada"}`, true, nil, nil}
		}
		return genReq{"call", strings.Fields(op)[0], path, "", "", true, nil, nil}
	}
	viewer := newAPIClient(t, e, viewerKey)
	unauthorized, forbidden := 0, 0
	for _, op := range slices.Sorted(maps.Keys(ops)) {
		if ops[op] { // public: the document itself
			continue
		}
		req := template(op)
		// One unknown parameter each: every operation gets a mutation.
		m := req
		m.path += map[bool]string{true: "&", false: "?"}[strings.Contains(m.path, "?")] + "bogus=1"
		m.kind, m.valid, m.also = "unknown query parameter", false, nil
		send(m)
		for _, auth := range []string{"", "Bearer gw_bogus0000000000000000", "Basic " + key} {
			status, body := c.doWith(req.method, req.path, req.ctype, req.body, http.Header{"Authorization": {auth}}, false)
			sent++
			require.Equal(t, http.StatusUnauthorized, status, "%s with %q: %s", op, auth, body)
			require.Contains(t, c.lastHeader.Get("WWW-Authenticate"), "Bearer", "%s with %q", op, auth)
			unauthorized++
		}
		if req.method != "GET" {
			status, body := viewer.doWith(req.method, req.path, req.ctype, req.body, nil, false)
			sent++
			require.Equal(t, http.StatusForbidden, status, "a viewer's %s: %s", op, body)
			forbidden++
		}
	}
	answers["no key, a bogus key, another scheme → 401"] = unauthorized
	answers["a viewer's write → 403"] = forbidden

	var missing []string
	for op, public := range ops {
		if validOps[op] == 0 {
			missing = append(missing, op+" (no valid request)")
		}
		if mutatedOps[op] == 0 && !public { // the public document takes no input
			missing = append(missing, op+" (no mutated request)")
		}
	}
	require.Empty(t, missing, "operations of openapi.json the generated requests leave out")

	var b strings.Builder
	fmt.Fprintf(&b, "generated API requests (seed %d, %d rounds): %d sent to %d operations, %d valid accepted, %d refused, 0 server errors\n",
		seedN, genRounds(), sent, len(ops), accepted, sent-accepted)
	for _, k := range slices.Sorted(maps.Keys(answers)) {
		fmt.Fprintf(&b, "  %-55s %d\n", k, answers[k])
	}
	t.Log("\n" + b.String())
	if dir := filepath.Join("..", "..", "artifacts"); os.MkdirAll(dir, 0o755) == nil {
		_ = os.WriteFile(filepath.Join(dir, "api-generated-requests.txt"), []byte(b.String()), 0o644)
	}
}
