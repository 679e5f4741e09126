package web

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"

	"github.com/groundwork-dev/groundwork/internal/gw"
)

// The query string of an /api/v1 request is checked against the OpenAPI
// document before the handler runs: a parameter the operation does not
// declare, a declared one sent empty (?limit=) or sent twice is refused
// with 422, naming every such parameter. The pages, which share handlers
// with the API (the contacts list), stay lenient: browsers' forms send
// empty inputs.

// queryParams maps each operation of the OpenAPI document ("GET
// /api/v1/contacts") to the names of the query parameters it declares.
var queryParams = sync.OnceValue(func() map[string]map[string]bool {
	m, err := declaredQueryParams(openAPIDocument)
	if err != nil {
		panic(fmt.Errorf("read openapi.json: %w", err)) // the embedded document is tested
	}
	return m
})

// declaredQueryParams reads the query parameters of every operation of the
// OpenAPI document doc, path-level ones included, following
// #/components/parameters references.
func declaredQueryParams(doc []byte) (map[string]map[string]bool, error) {
	type param struct {
		Ref  string `json:"$ref"`
		Name string `json:"name"`
		In   string `json:"in"`
	}
	var spec struct {
		Paths      map[string]map[string]json.RawMessage `json:"paths"`
		Components struct {
			Parameters map[string]param `json:"parameters"`
		} `json:"components"`
	}
	if err := json.Unmarshal(doc, &spec); err != nil {
		return nil, err
	}
	resolve := func(p param) param {
		if name, ok := strings.CutPrefix(p.Ref, "#/components/parameters/"); ok {
			return spec.Components.Parameters[name]
		}
		return p
	}
	out := map[string]map[string]bool{}
	for path, item := range spec.Paths {
		var shared []param
		if raw, ok := item["parameters"]; ok {
			if err := json.Unmarshal(raw, &shared); err != nil {
				return nil, err
			}
		}
		for method, raw := range item {
			if method == "parameters" || method == "summary" || method == "description" {
				continue
			}
			var op struct {
				Parameters []param `json:"parameters"`
			}
			if err := json.Unmarshal(raw, &op); err != nil {
				return nil, err
			}
			names := map[string]bool{}
			for _, p := range append(append([]param{}, shared...), op.Parameters...) {
				if p = resolve(p); p.In == "query" {
					names[p.Name] = true
				}
			}
			out[strings.ToUpper(method)+" "+path] = names
		}
	}
	return out, nil
}

// checkQuery refuses, with one 422 naming each, the query parameters of r
// that the operation pattern (a route pattern, "GET /api/v1/contacts") does
// not declare, and declared ones sent empty or more than once.
func checkQuery(pattern string, r *http.Request) error {
	if r.URL.RawQuery == "" {
		return nil
	}
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return gw.Errorf(gw.EMALFORMED, "The query string could not be read.")
	}
	declared := queryParams()[pattern]
	fields := map[string]string{}
	for name, values := range q {
		switch {
		case !declared[name]:
			fields[name] = "Unknown parameter."
		case len(values) > 1:
			fields[name] = "Give this parameter once."
		case values[0] == "":
			fields[name] = "Must not be empty; leave the parameter out instead."
		}
	}
	if len(fields) > 0 {
		return &gw.Error{Code: gw.EINVALID, Message: "Some query parameters are invalid; see fields.", Fields: fields}
	}
	return nil
}

// withQueryCheck answers r with checkQuery's error, if any, before next.
func (s *server) withQueryCheck(pattern string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := checkQuery(pattern, r); err != nil {
			s.serveError(w, r, err)
			return
		}
		next.ServeHTTP(w, r)
	})
}
