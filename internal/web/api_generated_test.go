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
}

// gen makes requests from the rules of openapi.json: valid ones within
// every limit, and mutations of them that break exactly one rule.
type gen struct {
	r  *rand.Rand
	id string // an existing contact
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
	switch g.r.IntN(5) {
	case 0:
		return genReq{"create", "POST", "/api/v1/contacts", "application/json", genJSON(g.validContact(true)), true}
	case 1:
		ct := []string{"application/json", "application/merge-patch+json"}[g.r.IntN(2)]
		return genReq{"patch", "PATCH", "/api/v1/contacts/" + g.id, ct, genJSON(g.validContact(false)), true}
	case 2:
		q := url.Values{}
		if g.r.IntN(2) == 0 {
			q.Set("q", g.text(1, 200))
		}
		if g.r.IntN(2) == 0 {
			q.Set("limit", strconv.Itoa(1+g.r.IntN(200)))
		}
		return genReq{"list", "GET", "/api/v1/contacts?" + q.Encode(), "", "", true}
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
		return genReq{"audit", "GET", "/api/v1/audit-events?" + q.Encode(), "", "", true}
	default:
		return genReq{"get", "GET", "/api/v1/contacts/" + g.id, "", "", true}
	}
}

// mutate breaks one rule of a valid request; kind says which.
func (g *gen) mutate() genReq {
	c := g.validContact(true)
	fields := []string{"name", "email", "phone", "company", "tags", "custom"}
	f := fields[g.r.IntN(len(fields))]
	post := func(kind string, body string) genReq {
		return genReq{kind, "POST", "/api/v1/contacts", "application/json", body, false}
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
		return genReq{"unknown query parameter", "GET", "/api/v1/contacts?limit=1&" + url.QueryEscape(g.text(1, 5)+"x") + "=1", "", "", false}
	case 10:
		p := []string{"limit", "q", "cursor"}[g.r.IntN(3)]
		return genReq{"empty query value", "GET", "/api/v1/contacts?" + p + "=", "", "", false}
	case 11:
		v := []string{"0", "201", "-1", "abc", "1.5", "1e3"}[g.r.IntN(6)]
		return genReq{"bad limit", "GET", "/api/v1/audit-events?limit=" + v, "", "", false}
	case 12:
		return genReq{"null name", "PATCH", "/api/v1/contacts/" + g.id, "application/merge-patch+json", `{"name":null}`, false}
	default:
		c["email"] = []string{"ada", "ada@", "@example.com", "a..b@example.com", `"a"@example.com`, "ada@-x.com"}[g.r.IntN(6)]
		return post("bad email", genJSON(c))
	}
}

// TestAPIGeneratedRequests sends requests generated from the rules of
// openapi.json: each valid one must be accepted (2xx, its response as the
// spec says), each mutated one refused with a 4xx, none may get a 5xx. The
// count is bounded (genRounds rounds of 25 requests); the totals go to the
// test log and to artifacts/api-generated-requests.txt.
func TestAPIGeneratedRequests(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	owner := e.user("owner@acme.example")
	acme, _ := e.org(owner.ID, "Acme")
	_, key := e.apiKey(acme.ID, "ci", gw.RoleAdmin)
	c := newAPIClient(t, e, key)
	status, body := c.do("POST", "/api/v1/contacts", "application/json", `{"name":"Seed"}`, true)
	require.Equal(t, http.StatusCreated, status, "%s", body)
	var seed contactJSON
	require.NoError(t, json.Unmarshal(body, &seed))

	seedN := uint64(20)
	if s, err := strconv.ParseUint(os.Getenv("GROUNDWORK_API_GEN_SEED"), 10, 64); err == nil {
		seedN = s
	}
	g := &gen{r: rand.New(rand.NewPCG(seedN, 2026)), id: seed.ID}
	sent, accepted := 0, 0
	refused := map[string]int{} // "kind → status"
	for range genRounds() {
		for i := range 25 {
			var req genReq
			if i%2 == 0 {
				req = g.valid()
			} else {
				req = g.mutate()
			}
			status, body := c.do(req.method, req.path, req.ctype, req.body, req.valid)
			sent++
			require.Less(t, status, 500, "%s %s %s: %s", req.method, req.path, req.body, body)
			if req.valid {
				require.Less(t, status, 300, "valid %s: %s %s %s: %s", req.kind, req.method, req.path, req.body, body)
				accepted++
				continue
			}
			require.GreaterOrEqual(t, status, 400, "mutated %s: %s %s %s: %s", req.kind, req.method, req.path, req.body, body)
			refused[fmt.Sprintf("%s → %d", req.kind, status)]++
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "generated API requests (seed %d): %d sent, %d valid accepted, %d mutated refused, 0 server errors\n",
		seedN, sent, accepted, sent-accepted)
	for _, k := range slices.Sorted(maps.Keys(refused)) {
		fmt.Fprintf(&b, "  refused %-40s %d\n", k, refused[k])
	}
	t.Log("\n" + b.String())
	if dir := filepath.Join("..", "..", "artifacts"); os.MkdirAll(dir, 0o755) == nil {
		_ = os.WriteFile(filepath.Join(dir, "api-generated-requests.txt"), []byte(b.String()), 0o644)
	}
}
