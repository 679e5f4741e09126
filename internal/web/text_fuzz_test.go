package web

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"unicode/utf8"
)

// fuzzServer is the middleware stack around two handlers that decode what
// the fuzzer sends as the real handlers do: a form (parseForm) and a JSON
// contact (decodeJSON). Whatever they get, they answer 2xx, 4xx or 413,
// never 5xx, never panic, and what reaches a handler is storable text (a
// handler that sees anything else says so in the X-Unstorable header).
func fuzzServer() http.Handler {
	s := newServer(Deps{MaxBodyBytes: 1 << 16})
	mux := http.NewServeMux()
	mux.Handle("POST /form", s.errorHandler(func(w http.ResponseWriter, r *http.Request) error {
		f, err := parseForm(r, "email", "name", "password")
		if err != nil {
			return err
		}
		for k, v := range f.Values {
			if !storable(v) {
				w.Header().Set("X-Unstorable", k)
			}
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	}))
	mux.Handle("POST /json", s.errorHandler(func(w http.ResponseWriter, r *http.Request) error {
		var body contactBody
		if err := decodeJSON(r, &body); err != nil {
			return err
		}
		if body.Name.Set && !utf8.ValidString(body.Name.V) {
			w.Header().Set("X-Unstorable", "name")
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	}))
	return s.wrap(mux, []string{"POST /form", "POST /json"})
}

func FuzzFormDecoding(f *testing.F) {
	for _, seed := range []string{
		"email=a%40example.com&password=x", "email=a%00b", "name=%FF%FE", "user=%zz", "a=1&a=2&=&&",
		"name=" + strings.Repeat("x", 100), "%E2%80%AEname=evil", "email=\x00", "name=\xff",
	} {
		f.Add(seed, "/form?q=1")
	}
	f.Add("name=x", "/form?q=%00")
	f.Add("name=x", "/form?q=%zz")
	h := fuzzServer()
	f.Fuzz(func(t *testing.T, body, target string) {
		r, err := http.NewRequest(http.MethodPost, "http://example.com/form", strings.NewReader(body))
		if err != nil {
			t.Skip()
		}
		if u, err := r.URL.Parse(target); err == nil && strings.HasPrefix(target, "/form") {
			r.URL = u
		}
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code >= 500 || w.Header().Get("X-Unstorable") != "" {
			t.Fatalf("POST %s with %q: %d %s %s", target, body, w.Code, w.Header().Get("X-Unstorable"), w.Body)
		}
	})
}

func FuzzJSONDecoding(f *testing.F) {
	for _, seed := range []string{
		`{"name":"Ada"}`, `{"name":"A\u0000"}`, "{\"name\":\"A\xff\"}", `{"custom":{"k\u0000":"v"}}`,
		`{"tags":["a","b"]}`, `[]`, `"x"`, `null`, `{"name":1}`, `{"bogus":true}`, `{"name":"a"} {}`, ``,
		`{"name":"\ud800"}`, `{"name":"\u202eevil"}`,
	} {
		f.Add(seed)
	}
	h := fuzzServer()
	f.Fuzz(func(t *testing.T, body string) {
		r := httptest.NewRequest(http.MethodPost, "/json", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code >= 500 || w.Header().Get("X-Unstorable") != "" {
			t.Fatalf("POST /json with %q: %d %s %s", body, w.Code, w.Header().Get("X-Unstorable"), w.Body)
		}
	})
}
