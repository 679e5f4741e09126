package web

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"

	"github.com/groundwork-dev/groundwork/internal/gw"
)

// internalMessage is the only message a caller sees for an internal error.
const internalMessage = "An internal error has occurred."

// codeMethodNotAllowed is the error code of a 405 response. It is an HTTP
// routing outcome, not a kernel code.
const codeMethodNotAllowed = "method_not_allowed"

// httpStatus maps a kernel error code to its HTTP status. It is the only
// such mapping; unknown codes are internal errors.
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
	default:
		return http.StatusInternalServerError
	}
}

// errorResponse is the JSON body of every error response.
type errorResponse struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code      string            `json:"code"`
	Message   string            `json:"message"`
	Fields    map[string]string `json:"fields,omitempty"`
	RequestID string            `json:"request_id,omitempty"`
}

// writeError writes err as a JSON error response with the status its code
// maps to. A *http.MaxBytesError anywhere in err's chain is a 413. Internal
// errors show only a generic message; every 5xx is logged once, here, with
// the request ID, and reported to error tracking (reportError).
func writeError(w http.ResponseWriter, r *http.Request, logger *slog.Logger, err error) {
	d := errorDetail{
		Code:      gw.ErrorCode(err),
		Message:   gw.ErrorMessage(err),
		RequestID: gw.RequestID(r.Context()),
	}
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
	if status >= 500 {
		logger.LogAttrs(r.Context(), slog.LevelError, "internal error",
			slog.String("error", err.Error()),
			slog.String("method", r.Method),
			slog.String("path", r.URL.Path),
		)
		reportError(r, err)
	}
	writeJSON(w, status, errorResponse{Error: d})
}

// writeJSON writes v as a JSON response with the given status. v must be
// encodable: failing to encode it is a bug, and panics (the recover
// middleware turns that into a logged 500).
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Errorf("encode json response: %w", err))
	}
	b = append(b, '\n')
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Del("Content-Length")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// notFoundJSON serves mux, replacing the mux's plain-text 404 and 405
// responses (written when no route matches, so r.Pattern is empty) with
// JSON error responses.
func notFoundJSON(mux *http.ServeMux, logger *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		noteRequest(r) // the mux sets r.Pattern on this request
		mux.ServeHTTP(&unmatchedWriter{ResponseWriter: w, r: r, logger: logger}, r)
	})
}

// unmatchedWriter intercepts the mux's own 404 and 405 responses. Responses
// of matched routes pass through untouched.
type unmatchedWriter struct {
	http.ResponseWriter
	r           *http.Request
	logger      *slog.Logger
	intercepted bool
}

// WriteHeader replaces a 404 or 405 of an unmatched request with a JSON error.
func (u *unmatchedWriter) WriteHeader(status int) {
	if u.r.Pattern != "" || (status != http.StatusNotFound && status != http.StatusMethodNotAllowed) {
		u.ResponseWriter.WriteHeader(status)
		return
	}
	u.intercepted = true
	if status == http.StatusNotFound {
		writeError(u.ResponseWriter, u.r, u.logger, gw.Errorf(gw.ENOTFOUND, "The requested resource was not found."))
		return
	}
	writeJSON(u.ResponseWriter, status, errorResponse{Error: errorDetail{
		Code:      codeMethodNotAllowed,
		Message:   fmt.Sprintf("Method %s is not allowed here; allowed: %s.", u.r.Method, u.Header().Get("Allow")),
		RequestID: gw.RequestID(u.r.Context()),
	}})
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
