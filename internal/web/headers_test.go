package web

import (
	"io/fs"
	"net/http"
	"net/http/httptest"
	"regexp"
	"testing"

	"github.com/stretchr/testify/require"
)

// securityHeadersWant are the headers every response carries.
var securityHeadersWant = map[string]string{
	"Content-Security-Policy":    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
	"X-Content-Type-Options":     "nosniff",
	"Referrer-Policy":            "strict-origin-when-cross-origin",
	"Permissions-Policy":         "camera=(), microphone=(), geolocation=(), payment=()",
	"X-Frame-Options":            "DENY",
	"Cross-Origin-Opener-Policy": "same-origin",
}

func TestSecurityHeaders(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for _, tt := range []struct {
		name   string
		path   string
		header http.Header
		status int
	}{
		{"page", "/login", http.Header{"Accept": {"text/html"}}, http.StatusOK},
		{"static file", "/static/app.css", nil, http.StatusOK},
		{"API error", "/api/v1/contacts", nil, http.StatusUnauthorized},
		{"HTML error", "/invitations/nope", http.Header{"Accept": {"text/html"}}, http.StatusUnprocessableEntity},
		{"unmatched route", "/nope", nil, http.StatusNotFound},
		{"operations", "/healthz", nil, http.StatusOK},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := do(t, nil, e.srv.URL, tt.path, nil, tt.header)
			require.Equal(t, tt.status, r.status, r.body)
			for k, v := range securityHeadersWant {
				require.Equal(t, []string{v}, r.header.Values(k), k)
			}
			require.Empty(t, r.header.Get("Strict-Transport-Security"), "no HSTS outside production")
		})
	}
}

// Forms may be redirected to the configured origins (Stripe Checkout and
// the Customer Portal), and nowhere else.
func TestSecurityHeadersFormActionOrigins(t *testing.T) {
	t.Parallel()
	h := wrap(http.NotFoundHandler(), Deps{FormActionOrigins: []string{"https://checkout.stripe.com", "https://billing.stripe.com"}}, nil)
	w := serve(h, httptest.NewRequest(http.MethodGet, "/", nil))
	require.Contains(t, w.Header().Get("Content-Security-Policy"),
		"; form-action 'self' https://checkout.stripe.com https://billing.stripe.com; ")
}

func TestSecurityHeadersHSTSInProduction(t *testing.T) {
	t.Parallel()
	for _, production := range []bool{false, true} {
		h := wrap(http.NotFoundHandler(), Deps{Production: production}, nil)
		w := serve(h, httptest.NewRequest(http.MethodGet, "/", nil))
		for k, v := range securityHeadersWant {
			require.Equal(t, v, w.Header().Get(k), k)
		}
		if production {
			require.Equal(t, "max-age=63072000; includeSubDomains", w.Header().Get("Strict-Transport-Security"))
		} else {
			require.Empty(t, w.Header().Values("Strict-Transport-Security"))
		}
	}
}

// TestTemplatesNeedNoInlineCode: the CSP allows no inline script or style,
// so templates must not use style attributes, inline <script> or <style>,
// event handler attributes or javascript: URLs.
func TestTemplatesNeedNoInlineCode(t *testing.T) {
	t.Parallel()
	inline := regexp.MustCompile(`(?i)\sstyle\s*=|<style|<script(?:\s[^>]*)?>\s*[^<\s]|\son[a-z]+\s*=|javascript:`)
	n := 0
	err := fs.WalkDir(templateFiles, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(templateFiles, path)
		require.NoError(t, err)
		require.Empty(t, inline.FindAllString(string(b), -1), "%s has inline code the CSP blocks", path)
		n++
		return nil
	})
	require.NoError(t, err)
	require.Positive(t, n)
}
