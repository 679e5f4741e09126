package web

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/groundwork-dev/groundwork/internal/gw"
)

func TestHTTPStatus(t *testing.T) {
	t.Parallel()
	for code, want := range map[string]int{
		gw.EINVALID:          422,
		gw.ENOTFOUND:         404,
		gw.ECONFLICT:         409,
		gw.EFORBIDDEN:        403,
		gw.EUNAUTHORIZED:     401,
		gw.ERATELIMIT:        429,
		gw.ETOOLARGE:         413,
		gw.EUNSUPPORTED:      415,
		gw.EUNAVAILABLE:      503,
		gw.EINTERNAL:         500,
		"made_up":            500,
		codeMethodNotAllowed: 405,
	} {
		require.Equal(t, want, httpStatus(code), code)
	}
}

func TestServeError(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name       string
		err        error
		wantStatus int
		want       errorDetail
		wantLogged bool
	}{
		{
			name:       "invalid with fields",
			err:        &gw.Error{Code: gw.EINVALID, Message: "Check the form.", Fields: map[string]string{"email": "is required"}},
			wantStatus: 422,
			want:       errorDetail{Code: "invalid", Message: "Check the form.", Fields: map[string]string{"email": "is required"}},
		},
		{
			name:       "wrapped not found",
			err:        fmt.Errorf("get contact: %w", gw.Errorf(gw.ENOTFOUND, "Contact not found.")),
			wantStatus: 404,
			want:       errorDetail{Code: "not_found", Message: "Contact not found."},
		},
		{
			name:       "plain error is internal and hidden",
			err:        errors.New("dial tcp 10.0.0.5:5432: connection refused"),
			wantStatus: 500,
			want:       errorDetail{Code: "internal", Message: "An internal error has occurred."},
			wantLogged: true,
		},
		{
			name:       "internal gw error is hidden",
			err:        gw.Errorf(gw.EINTERNAL, "secret detail"),
			wantStatus: 500,
			want:       errorDetail{Code: "internal", Message: "An internal error has occurred."},
			wantLogged: true,
		},
		{
			name:       "unavailable",
			err:        gw.Errorf(gw.EUNAVAILABLE, "Try again shortly."),
			wantStatus: 503,
			want:       errorDetail{Code: "unavailable", Message: "Try again shortly."},
			wantLogged: true,
		},
		{
			name:       "max bytes",
			err:        fmt.Errorf("decode body: %w", &http.MaxBytesError{Limit: 5}),
			wantStatus: 413,
			want:       errorDetail{Code: "too_large", Message: "The request body must not exceed 5 bytes."},
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			logger, logs := testLogger()
			r := httptest.NewRequest(http.MethodGet, "/x", nil)
			r = r.WithContext(gw.WithRequestID(r.Context(), "req-err"))
			w := httptest.NewRecorder()

			newServer(Deps{Logger: logger}).serveError(w, r, tt.err)

			require.Equal(t, tt.wantStatus, w.Code)
			tt.want.RequestID = "req-err"
			require.Equal(t, tt.want, decodeError(t, w))
			logged := logs.withMsg(t, "internal error")
			if !tt.wantLogged {
				require.Empty(t, logs.lines(t))
				return
			}
			require.Len(t, logged, 1)
			require.Equal(t, "ERROR", logged[0]["level"])
			require.Equal(t, "req-err", logged[0]["request_id"])
			require.Equal(t, tt.err.Error(), logged[0]["error"])
		})
	}
}

func TestWriteJSON_UnencodablePanics(t *testing.T) {
	t.Parallel()
	require.Panics(t, func() { writeJSON(httptest.NewRecorder(), http.StatusOK, func() {}) })
}

// TestServeError_HTML: a browser on a page gets the error page, with the
// same status as the JSON answer, a way back home and, for a 5xx, the
// request ID; internal details never show.
func TestServeError_HTML(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name       string
		err        error
		wantStatus int
		wantText   []string
		wantLogged bool
	}{
		{name: "not found", err: gw.Errorf(gw.ENOTFOUND, "Contact not found."), wantStatus: 404,
			wantText: []string{"<h1>Not Found</h1>", "Contact not found.", notFoundHint}},
		{name: "forbidden", err: gw.Errorf(gw.EFORBIDDEN, "Your role (viewer) may not do this."), wantStatus: 403,
			wantText: []string{"<h1>Forbidden</h1>", "Your role (viewer) may not do this."}},
		{name: "max bytes", err: fmt.Errorf("parse form: %w", &http.MaxBytesError{Limit: 5}), wantStatus: 413,
			wantText: []string{"The request body must not exceed 5 bytes."}},
		{name: "method not allowed", err: gw.Errorf(codeMethodNotAllowed, "Method PUT is not allowed here."), wantStatus: 405,
			wantText: []string{"<h1>Method Not Allowed</h1>"}},
		{name: "internal", err: errors.New("dial tcp 10.0.0.5:5432: connection refused"), wantStatus: 500,
			wantText: []string{internalMessage, "quote request <code>req-html</code>"}, wantLogged: true},
		{name: "recovered panic is not logged again", err: errPanicked, wantStatus: 500,
			wantText: []string{internalMessage, "req-html"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			logger, logs := testLogger()
			r := httptest.NewRequest(http.MethodPost, "/o/acme/contacts", nil)
			r.Header.Set("Accept", "text/html,application/xhtml+xml")
			r = r.WithContext(gw.WithRequestID(r.Context(), "req-html"))
			w := httptest.NewRecorder()

			newServer(Deps{Logger: logger}).serveError(w, r, tt.err)

			require.Equal(t, tt.wantStatus, w.Code)
			require.Equal(t, "text/html; charset=utf-8", w.Header().Get("Content-Type"))
			body := w.Body.String()
			for _, s := range append(tt.wantText, `<a href="/">Back to the start</a>`, "Request req-html") {
				require.Contains(t, body, s)
			}
			require.NotContains(t, body, "10.0.0.5")
			require.Len(t, logs.withMsg(t, "internal error"), map[bool]int{true: 1}[tt.wantLogged])
		})
	}
}

// TestPanicFromABrowser: a panic on a page is the HTML error page for a
// browser, logged and answered once.
func TestPanicFromABrowser(t *testing.T) {
	t.Parallel()
	logger, logs := testLogger()
	h := wrap(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("boom") }), Deps{Logger: logger}, nil)
	r := httptest.NewRequest(http.MethodGet, "/orgs", nil)
	r.Header.Set("Accept", "text/html")
	w := serve(h, r)
	require.Equal(t, http.StatusInternalServerError, w.Code)
	require.Equal(t, "text/html; charset=utf-8", w.Header().Get("Content-Type"))
	require.Contains(t, w.Body.String(), w.Header().Get(requestIDHeader))
	require.Contains(t, w.Body.String(), `<a href="/">Back to the start</a>`)
	require.Len(t, logs.withMsg(t, "panic"), 1)
	require.Empty(t, logs.withMsg(t, "internal error"))
}
