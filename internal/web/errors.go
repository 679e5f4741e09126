package web

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/groundwork-dev/groundwork/internal/errtrack"
	"github.com/groundwork-dev/groundwork/internal/gw"
	"github.com/groundwork-dev/groundwork/internal/observe"
	"github.com/groundwork-dev/groundwork/internal/postgres"
)

// Errors are answered in one place. A handler returns its error to
// errorHandler (pkgsite's shape); middleware that refuses a request before
// any handler runs (an unknown URL, a wrong method, an oversized body, a
// cross-origin form, a rate limit, a panic) calls serveError itself. Either
// way serveError alone decides the status (httpStatus), the body (an HTML
// error page for a browser on a page, JSON for everyone else), and logs and
// reports a 5xx, so the answers cannot drift apart.

// internalMessage is the only message a caller sees for an internal error.
const internalMessage = "An internal error has occurred."

// notFoundHint is what an HTML 404 page says besides the error's own
// message: a missing page and one the caller may not see look the same.
const notFoundHint = "This page does not exist, or you do not have access to it."

// codeMethodNotAllowed is the error code of a 405 response. It is an HTTP
// routing outcome, not a kernel code.
const codeMethodNotAllowed = "method_not_allowed"

// httpStatus maps an error code to its HTTP status. It is the only such
// mapping; unknown codes are internal errors.
func httpStatus(code string) int {
	switch code {
	case gw.EINVALID:
		return http.StatusUnprocessableEntity
	case gw.EMALFORMED:
		return http.StatusBadRequest
	case gw.ENOTFOUND:
		return http.StatusNotFound
	case gw.ECONFLICT:
		return http.StatusConflict
	case gw.EFORBIDDEN:
		return http.StatusForbidden
	case gw.EUNAUTHORIZED:
		return http.StatusUnauthorized
	case gw.ERATELIMIT:
		return http.StatusTooManyRequests
	case gw.ETOOLARGE:
		return http.StatusRequestEntityTooLarge
	case gw.EUNSUPPORTED:
		return http.StatusUnsupportedMediaType
	case gw.EUNAVAILABLE:
		return http.StatusServiceUnavailable
	case codeMethodNotAllowed:
		return http.StatusMethodNotAllowed
	default:
		return http.StatusInternalServerError
	}
}

// errorResponse is the JSON body of every error response.
type errorResponse struct {
	Error errorDetail `json:"error"`
}

// errorDetail is what an error response says: its code, a message safe to
// show, per-field messages and, always, the request ID.
type errorDetail struct {
	Code      string            `json:"code"`
	Message   string            `json:"message"`
	Fields    map[string]string `json:"fields,omitempty"`
	RequestID string            `json:"request_id,omitempty"`
}

// errorPage is the data of error.html.
type errorPage struct {
	Status  int
	Message string
	Hint    string // a second line, such as notFoundHint
}

func (errorPage) template() string { return "error.html" }

// errPanicked is the error a recovered panic is answered with.
// recoverPanics has logged and reported the panic, with its stack, so
// serveError does neither again.
var errPanicked = errors.New("handler panicked")

// handlerFunc is a handler that may fail: instead of answering an error
// itself it returns it, and errorHandler answers it. It must not return an
// error after it has started the response.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

// errorHandler adapts h to an http.Handler: an error h returns is answered
// by serveError.
func (s *server) errorHandler(h handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			s.serveError(w, r, err)
		}
	})
}

// retryAfterUnavailable is the Retry-After, in seconds, of a 503: long
// enough for the embedded cluster to be restarted, short enough that a
// client waiting that long is not kept waiting for nothing.
const retryAfterUnavailable = "5"

// retryAfter is the Retry-After, in whole seconds rounded up, of a 503
// answering err: the error's own (a RetryAfter method, as a refused password
// check has) or retryAfterUnavailable.
func retryAfter(err error) string {
	if e, ok := errors.AsType[interface {
		error
		RetryAfter() time.Duration
	}](err); ok {
		return strconv.Itoa(max(1, int(math.Ceil(e.RetryAfter().Seconds()))))
	}
	return retryAfterUnavailable
}

// describeError returns what err is answered with and its status, from the
// one mapping in httpStatus. A *http.MaxBytesError anywhere in err's chain
// (a body over Deps.MaxBodyBytes) is a 413. A database error that says the
// server cannot be reached (postgres.Unavailable) but reached here
// untranslated (from the session store, say) is EUNAVAILABLE, as
// postgres.Translate would have made it. An internal error is described
// only by a generic message.
func describeError(err error) (errorDetail, int) {
	if gw.ErrorCode(err) == gw.EINTERNAL && postgres.Unavailable(err) {
		err = fmt.Errorf("%w: %w", postgres.ErrUnavailable, err)
	}
	d := errorDetail{Code: gw.ErrorCode(err), Message: gw.ErrorMessage(err)}
	if e, ok := errors.AsType[*gw.Error](err); ok {
		d.Fields = e.Fields
	} else if mbe, ok := errors.AsType[*http.MaxBytesError](err); ok {
		d.Code = gw.ETOOLARGE
		d.Message = fmt.Sprintf("The request body must not exceed %d bytes.", mbe.Limit)
	}
	status := httpStatus(d.Code)
	if status == http.StatusInternalServerError {
		d.Code, d.Message, d.Fields = gw.EINTERNAL, internalMessage, nil
	}
	return d, status
}

// serveError answers r, which failed with err; it is the only function that
// writes error responses. The status comes from httpStatus; a 503 says when
// to try again (Retry-After). A browser on a page (wantsHTML) gets the HTML
// error page, with a link home; anyone else the JSON errorResponse. Both
// carry the request ID. A 5xx is logged once, here, and reported to error
// tracking (reportError), unless it is a recovered panic, which
// recoverPanics logged and reported — and the same error at most once a
// minute (errorLogWindow), the next line counting the repeats held back.
//
// A request whose client went away (its context cancelled, and err saying
// so) is not an error: nobody is there to answer, nothing is wrong with the
// server. It is not logged as an error nor reported; it is answered 499
// (observe.StatusClientClosedRequest), which the access log shows and the
// metrics count as cancelled.
func (s *server) serveError(w http.ResponseWriter, r *http.Request, err error) {
	if r.Context().Err() != nil && errors.Is(err, context.Canceled) {
		w.WriteHeader(observe.StatusClientClosedRequest)
		return
	}
	d, status := describeError(err)
	d.RequestID = gw.RequestID(r.Context())
	if status == http.StatusServiceUnavailable && w.Header().Get("Retry-After") == "" {
		w.Header().Set("Retry-After", retryAfter(err))
	}
	if status >= 500 && !errors.Is(err, errPanicked) {
		s.logError(r, err, d.Code)
	}
	if !wantsHTML(r) {
		writeJSON(w, status, errorResponse{Error: d})
		return
	}
	p := errorPage{Status: status, Message: d.Message}
	if status == http.StatusNotFound {
		p.Hint = notFoundHint
	}
	s.renderError(w, r, status, p)
}

// logError logs err, which r is answered with a 5xx for, and reports it to
// error tracking — unless the same error (code and text) was logged within
// errorLogWindow: during an outage every request fails alike, and one line
// a minute with the count ("repeated") says as much as thousands.
func (s *server) logError(r *http.Request, err error, code string) {
	ok, repeated := s.errors.Allow(code + "\x00" + err.Error())
	if !ok {
		heldBack(r)
		return
	}
	attrs := []slog.Attr{
		slog.String("error", err.Error()),
		slog.String("code", code),
		slog.String("method", r.Method),
		slog.String("path", r.URL.Path),
	}
	if repeated > 0 {
		attrs = append(attrs, slog.Int("repeated", repeated))
		r = r.WithContext(errtrack.WithRepeats(r.Context(), repeated))
	}
	s.d.Logger.LogAttrs(r.Context(), slog.LevelError, "internal error", attrs...)
	reportError(r, err)
}

// wantsHTML reports whether the caller is a browser on a page rather than an
// API client: not under /api/, and accepting text/html.
func wantsHTML(r *http.Request) bool {
	return !strings.HasPrefix(r.URL.Path, "/api/") && strings.Contains(r.Header.Get("Accept"), "text/html")
}

// writeJSON writes v as a JSON response with the given status. v must be
// encodable: failing to encode it is a bug, and panics (the recover
// middleware turns that into a logged 500). A v that appends its own JSON
// (jsonAppender, contact_json.go) is written from a pooled buffer.
func writeJSON(w http.ResponseWriter, status int, v any) {
	if a, ok := v.(jsonAppender); ok {
		if b, release, ok := appendJSONBody(a); ok {
			defer release()
			writeJSONBytes(w, status, b)
			return
		}
	}
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Errorf("encode json response: %w", err))
	}
	writeJSONBytes(w, status, append(b, '\n'))
}

// writeJSONBytes writes b, a JSON body, with the given status. Its length
// goes in Content-Length, so that the body is sent as it is (a body over
// 2 KiB without one is chunked, in more writes).
func writeJSONBytes(w http.ResponseWriter, status int, b []byte) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// answerUnmatched serves mux, replacing the mux's plain-text 404 and 405
// responses (written when no route matches, so r.Pattern is empty) with
// serveError's.
func (s *server) answerUnmatched(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		noteRequest(r) // the mux sets r.Pattern on this request
		mux.ServeHTTP(&unmatchedWriter{ResponseWriter: w, r: r, s: s}, r)
	})
}

// unmatchedWriter intercepts the mux's own 404 and 405 responses. Responses
// of matched routes pass through untouched.
type unmatchedWriter struct {
	http.ResponseWriter
	r           *http.Request
	s           *server
	intercepted bool
}

// WriteHeader replaces a 404 or 405 of an unmatched request with
// serveError's answer.
func (u *unmatchedWriter) WriteHeader(status int) {
	if u.r.Pattern != "" || (status != http.StatusNotFound && status != http.StatusMethodNotAllowed) {
		u.ResponseWriter.WriteHeader(status)
		return
	}
	u.intercepted = true
	err := gw.Errorf(gw.ENOTFOUND, "The requested resource was not found.")
	if status == http.StatusMethodNotAllowed {
		err = gw.Errorf(codeMethodNotAllowed, "Method %s is not allowed here; allowed: %s.", u.r.Method, u.Header().Get("Allow"))
	}
	u.s.serveError(u.ResponseWriter, u.r, err)
}

// Write drops the mux's plain-text body once the response was replaced.
func (u *unmatchedWriter) Write(b []byte) (int, error) {
	if u.intercepted {
		return len(b), nil
	}
	return u.ResponseWriter.Write(b)
}

// Flush sends any buffered data to the client.
func (u *unmatchedWriter) Flush() { _ = http.NewResponseController(u.ResponseWriter).Flush() }

// Hijack lets the handler take over the connection, when the underlying
// ResponseWriter supports it.
func (u *unmatchedWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	return http.NewResponseController(u.ResponseWriter).Hijack()
}

// Unwrap returns the underlying ResponseWriter, for http.ResponseController.
func (u *unmatchedWriter) Unwrap() http.ResponseWriter { return u.ResponseWriter }
