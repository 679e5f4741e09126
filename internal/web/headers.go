package web

import "net/http"

// contentSecurityPolicy allows only the app's own scripts, styles and
// images (plus data: images), no plugins, no <base>, forms that post back
// to the app, and no framing. Pages carry no inline script or style.
const contentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// strictTransportSecurity tells browsers to use only HTTPS for two years,
// subdomains included. Sent in production only: a development server on
// http://localhost must stay reachable.
const strictTransportSecurity = "max-age=63072000; includeSubDomains"

// securityHeaders sets the security headers on every response: CSP,
// nosniff, referrer and permissions policies, no framing, a separate
// browsing context group, and HSTS when production is true. They are set
// before the handler runs, so error responses carry them too.
func securityHeaders(production bool) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			setSecurityHeaders(w.Header(), production)
			next.ServeHTTP(w, r)
		})
	}
}

// securityHeaderValues are the headers securityHeaders sets, by canonical
// name. The slices are shared by every response (assigned, not copied, to
// save allocations); their capacity equals their length, so a later Add
// copies instead of writing into them.
var securityHeaderValues = map[string][]string{
	"Content-Security-Policy":    {contentSecurityPolicy},
	"X-Content-Type-Options":     {"nosniff"},
	"Referrer-Policy":            {"strict-origin-when-cross-origin"},
	"Permissions-Policy":         {"camera=(), microphone=(), geolocation=(), payment=()"},
	"X-Frame-Options":            {"DENY"},
	"Cross-Origin-Opener-Policy": {"same-origin"},
}

// hstsValue is the Strict-Transport-Security header's value.
var hstsValue = []string{strictTransportSecurity}

// setSecurityHeaders sets the headers of securityHeaders on h; code that
// clears a response's headers calls it to put them back.
func setSecurityHeaders(h http.Header, production bool) {
	for k, v := range securityHeaderValues {
		h[k] = v[:len(v):len(v)]
	}
	if production {
		h["Strict-Transport-Security"] = hstsValue[:1:1]
	}
}
