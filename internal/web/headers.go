package web

import (
	"net/http"
	"strings"
)

// contentSecurityPolicy allows only the app's own scripts, styles and
// images, forms that post to the app, and no framing. Pages carry no inline
// script or style. formActions are further origins a form may post to or be
// redirected to: a form answered with a redirect to Stripe Checkout or the
// Customer Portal is governed by form-action too.
func contentSecurityPolicy(formActions []string) string {
	return "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
		"object-src 'none'; base-uri 'none'; form-action " + strings.Join(append([]string{"'self'"}, formActions...), " ") +
		"; frame-ancestors 'none'"
}

// strictTransportSecurity tells browsers to use only HTTPS for two years,
// subdomains included. Sent in production only: a development server on
// http://localhost must stay reachable.
const strictTransportSecurity = "max-age=63072000; includeSubDomains"

// securityHeaders sets the security headers on every response: CSP,
// nosniff, referrer and permissions policies, no framing, a separate
// browsing context group, and HSTS when production is true. They are set
// before the handler runs, so error responses carry them too.
func securityHeaders(production bool, formActions []string) func(http.Handler) http.Handler {
	values := map[string][]string{
		"Content-Security-Policy":    {contentSecurityPolicy(formActions)},
		"X-Content-Type-Options":     {"nosniff"},
		"Referrer-Policy":            {"strict-origin-when-cross-origin"},
		"Permissions-Policy":         {"camera=(), microphone=(), geolocation=(), payment=()"},
		"X-Frame-Options":            {"DENY"},
		"Cross-Origin-Opener-Policy": {"same-origin"},
	}
	if production {
		values["Strict-Transport-Security"] = []string{strictTransportSecurity}
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			h := w.Header()
			for k, v := range values {
				// Shared by every response: assigned with a full slice
				// expression, so that an append copies instead of writing
				// into them.
				h[k] = v[:len(v):len(v)]
			}
			next.ServeHTTP(w, r)
		})
	}
}

// securityHeaderNames are the headers securityHeaders may set.
var securityHeaderNames = map[string]bool{
	"Content-Security-Policy": true, "X-Content-Type-Options": true, "Referrer-Policy": true,
	"Permissions-Policy": true, "X-Frame-Options": true, "Cross-Origin-Opener-Policy": true,
	"Strict-Transport-Security": true,
}

// keepOnlySecurityHeaders deletes every header of h but the security
// headers: code that discards a response's headers (a panic's 500) keeps
// those set above the handler.
func keepOnlySecurityHeaders(h http.Header) {
	for k := range h {
		if !securityHeaderNames[k] {
			delete(h, k)
		}
	}
}
