package web

import (
	"net/http"
	"strconv"
	"time"
)

// deprecation announces that an API operation is going away (docs/api.md,
// "Versioning and deprecation"): every response of the operation carries
// the Deprecation header (RFC 9745) and the Sunset header (RFC 8594), and
// the operation is marked deprecated: true in openapi.json
// (TestDeprecatedOperationsMatchTheDocument holds the two together).
type deprecation struct {
	// Since is when the operation was deprecated.
	Since time.Time
	// Sunset is when it stops working: at least six months after Since.
	Sunset time.Time
	// Link, optional, is a page about the change (Link rel="deprecation").
	Link string
}

// apiDeprecations lists the deprecated API operations by route pattern
// ("GET /api/v1/..."). None is deprecated yet; adding one here is how an
// operation is announced as going away.
var apiDeprecations = map[string]deprecation{}

// minSunset is the shortest notice between Deprecation and Sunset.
const minSunset = 6 * 30 * 24 * time.Hour

// withDeprecation sets d's headers on every response of next, refusals
// (401, 429) included, so that any client of the operation learns of it.
func withDeprecation(d deprecation, next http.Handler) http.Handler {
	dep := "@" + strconv.FormatInt(d.Since.Unix(), 10) // an RFC 9651 date
	sunset := d.Sunset.UTC().Format(http.TimeFormat)   // an HTTP-date
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Deprecation", dep)
		h.Set("Sunset", sunset)
		if d.Link != "" {
			h.Add("Link", "<"+d.Link+`>; rel="deprecation"; type="text/html"`)
		}
		next.ServeHTTP(w, r)
	})
}
