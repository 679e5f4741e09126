package web

import (
	"errors"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/groundwork-dev/groundwork/internal/gw"
)

// storable reports whether s is text PostgreSQL can store: valid UTF-8
// without NUL. Anything else fails in the database (SQLSTATE 22021), so it
// is refused at the door instead.
func storable(s string) bool {
	return utf8.ValidString(s) && !strings.ContainsRune(s, 0)
}

// storableValues reports whether every key and value of v is storable.
func storableValues(v url.Values) bool {
	for k, vs := range v {
		if !storable(k) {
			return false
		}
		for _, s := range vs {
			if !storable(s) {
				return false
			}
		}
	}
	return true
}

// errUnstorableText is the answer to a request carrying text that is not
// UTF-8 or holds NUL.
var errUnstorableText = gw.Errorf(gw.EMALFORMED, "The request holds a NUL character or bytes that are not UTF-8.")

// refuseUnstorableText answers 400 to a request whose path, query string or
// URL-encoded form holds a NUL character or bytes that are not UTF-8, and
// to a form that cannot be parsed, before any handler (or the database)
// sees it. It parses a URL-encoded form body itself (within the body
// limit), so handlers that read the form with r.FormValue get it checked
// too. JSON bodies are checked by decodeJSON.
func (s *server) refuseUnstorableText(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		query, err := url.ParseQuery(r.URL.RawQuery)
		if err != nil {
			s.serveError(w, r, gw.Errorf(gw.EMALFORMED, "The query string could not be read."))
			return
		}
		if !storable(r.URL.Path) || !storableValues(query) {
			s.serveError(w, r, errUnstorableText)
			return
		}
		if isURLEncodedForm(r) {
			if err := r.ParseForm(); err != nil {
				if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
					s.serveError(w, r, err)
					return
				}
				s.serveError(w, r, gw.Errorf(gw.EMALFORMED, "The form could not be read."))
				return
			}
			if !storableValues(r.PostForm) {
				s.serveError(w, r, errUnstorableText)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// isURLEncodedForm reports whether r carries an
// application/x-www-form-urlencoded body.
func isURLEncodedForm(r *http.Request) bool {
	switch r.Method {
	case http.MethodPost, http.MethodPut, http.MethodPatch:
	default:
		return false
	}
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return err == nil && mt == "application/x-www-form-urlencoded"
}
