package web

import (
	"log/slog"
	"net/http"
	"strings"

	"github.com/groundwork-dev/groundwork/internal/gw"
)

// fail answers a request that failed with err: an HTML error page for
// browsers on pages, the JSON error body (writeError) for everything else.
// The status comes from the one mapping in httpStatus; internal errors show
// only a generic message and the request ID, and are logged and reported
// once.
func (s *server) fail(w http.ResponseWriter, r *http.Request, err error) {
	if !wantsHTML(r) {
		writeError(w, r, s.d.Logger, err)
		return
	}
	status := httpStatus(gw.ErrorCode(err))
	if status >= 500 {
		s.d.Logger.LogAttrs(r.Context(), slog.LevelError, "internal error",
			slog.String("error", err.Error()), slog.String("method", r.Method), slog.String("path", r.URL.Path))
		reportError(r, err)
	}
	msg := gw.ErrorMessage(err)
	if status == http.StatusNotFound {
		msg = "This page does not exist, or you do not have access to it."
	}
	s.render(w, r, status, "error.html", page{Title: http.StatusText(status), Data: errorPage{Status: status, Message: msg}})
}

// errorPage is the data of error.html.
type errorPage struct {
	Status  int
	Message string
}

// wantsHTML reports whether the caller is a browser on a page rather than an
// API client: not under /api/, and accepting text/html.
func wantsHTML(r *http.Request) bool {
	return !strings.HasPrefix(r.URL.Path, "/api/") && strings.Contains(r.Header.Get("Accept"), "text/html")
}
