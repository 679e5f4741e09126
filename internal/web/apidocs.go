package web

import (
	_ "embed"
	"net/http"
	"strings"
)

// apiDocsPage is the API reference page: Redoc, from /static, renders
// openapi.json in the browser. It holds no inline script.
//
//go:embed apidocs.html
var apiDocsPage []byte

// apiDocsCSP is the app's CSP relaxed for the API reference page only, for
// two things Redoc does that the app's pages do not:
//   - its styled-components insert <style> elements at run time, which
//     style-src 'self' refuses: inline styles are allowed;
//   - its search index runs in a worker that it starts from a blob: URL
//     of its own code, which the default (script-src 'self') refuses:
//     worker-src allows blob: (only the app's own scripts can make one).
//
// Scripts still load from the app's origin only, and nothing is loaded from
// another origin (scripts/vendor-redoc.sh drops the one CDN image).
func apiDocsCSP(formActions []string) string {
	return strings.Replace(contentSecurityPolicy(formActions),
		"style-src 'self'", "style-src 'self' 'unsafe-inline'; worker-src 'self' blob:", 1)
}

// handleAPIDocs serves the API reference page at /api/docs, public like
// the OpenAPI document it renders.
func (s *server) handleAPIDocs() http.Handler {
	csp := apiDocsCSP(s.d.FormActionOrigins)
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", csp)
		h.Set("Content-Type", "text/html; charset=utf-8")
		h.Set("Cache-Control", "public, max-age=300")
		_, _ = w.Write(apiDocsPage)
	})
}
