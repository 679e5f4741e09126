package web

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// testProxies trusts httptest's requests (from 192.0.2.1) as a proxy's,
// so that their X-Request-ID is kept.
var testProxies = []netip.Prefix{netip.MustParsePrefix("192.0.2.1/32")}

// TestRequestID: a trusted proxy's X-Request-ID is kept when it is sane,
// else the server makes one; every log line of the request carries it.
func TestRequestID(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name    string
		inbound string
		set     bool
		keep    bool
	}{
		{name: "valid", inbound: "abc-123_XYZ.!~", set: true, keep: true},
		{name: "128 chars", inbound: strings.Repeat("a", 128), set: true, keep: true},
		{name: "missing", set: false, keep: false},
		{name: "empty", inbound: "", set: true, keep: false},
		{name: "129 chars", inbound: strings.Repeat("a", 129), set: true, keep: false},
		{name: "space", inbound: "abc 123", set: true, keep: false},
		{name: "tab", inbound: "abc\t123", set: true, keep: false},
		{name: "control char", inbound: "abc\x01123", set: true, keep: false},
		{name: "DEL", inbound: "abc\x7f", set: true, keep: false},
		{name: "non-ASCII", inbound: "héllo", set: true, keep: false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			logger, logs := testLogger()
			h := wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				logger.InfoContext(r.Context(), "handler line")
				writeJSON(w, http.StatusOK, map[string]string{"ok": "yes"})
			}), Deps{Logger: logger, TrustedProxies: testProxies}, nil)

			r := httptest.NewRequest(http.MethodGet, "/anything", nil)
			if tt.set {
				r.Header[http.CanonicalHeaderKey(requestIDHeader)] = []string{tt.inbound}
			}
			w := serve(h, r)
			require.Equal(t, http.StatusOK, w.Code)

			id := w.Header().Get(requestIDHeader)
			if tt.keep {
				require.Equal(t, tt.inbound, id)
			} else {
				require.Regexp(t, uuidRE, id)
			}

			handlerLines := logs.withMsg(t, "handler line")
			require.Len(t, handlerLines, 1)
			require.Equal(t, id, handlerLines[0]["request_id"])
			access := logs.withMsg(t, "request")
			require.Len(t, access, 1)
			require.Equal(t, id, access[0]["request_id"])
		})
	}
}

// A client that is not a trusted proxy cannot choose its request ID (which
// goes into the logs and the tamper-evident audit log): the server's own
// is used and echoed.
func TestRequestID_UntrustedPeerCannotChooseIt(t *testing.T) {
	t.Parallel()
	h := NewServer(Deps{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}})
	r := httptest.NewRequest(http.MethodGet, "/healthz", nil) // from 192.0.2.1
	r.Header.Set(requestIDHeader, "forged-by-client")
	id := serve(h, r).Header().Get(requestIDHeader)
	require.Regexp(t, uuidRE, id)

	r = httptest.NewRequest(http.MethodGet, "/healthz", nil)
	r.RemoteAddr = "10.1.2.3:5000"
	r.Header.Set(requestIDHeader, "from-the-proxy")
	require.Equal(t, "from-the-proxy", serve(h, r).Header().Get(requestIDHeader))
}

func TestRequestID_GeneratedIDsDiffer(t *testing.T) {
	t.Parallel()
	h := NewServer(Deps{})
	a := serve(h, httptest.NewRequest(http.MethodGet, "/healthz", nil)).Header().Get(requestIDHeader)
	b := serve(h, httptest.NewRequest(http.MethodGet, "/healthz", nil)).Header().Get(requestIDHeader)
	require.Regexp(t, uuidRE, a)
	require.NotEqual(t, a, b)
}

func TestAccessLog(t *testing.T) {
	t.Parallel()
	logger, logs := testLogger()
	h := NewServer(Deps{Logger: logger})

	serve(h, httptest.NewRequest(http.MethodGet, "/healthz", nil))
	serve(h, httptest.NewRequest(http.MethodGet, "/some/random/path", nil))

	lines := logs.lines(t)
	require.Len(t, lines, 2, "exactly one line per request, and nothing else for a 404")
	ok, notFound := lines[0], lines[1]

	require.Equal(t, "INFO", ok["level"])
	require.Equal(t, "request", ok["msg"])
	require.Equal(t, "GET", ok["method"])
	require.Equal(t, "GET /healthz", ok["route"])
	require.Equal(t, float64(http.StatusOK), ok["status"])
	require.Greater(t, ok["bytes"], float64(0))
	require.Contains(t, ok, "duration_ms")
	require.Regexp(t, uuidRE, ok["request_id"])

	require.Equal(t, "unmatched", notFound["route"])
	require.Equal(t, float64(http.StatusNotFound), notFound["status"])
	require.NotContains(t, logs.buf.String(), "/some/random/path")
}

func TestRecoverPanics(t *testing.T) {
	t.Parallel()
	logger, logs := testLogger()
	h := wrap(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Set-Cookie", "session=leak")
		panic("kaboom")
	}), Deps{Logger: logger, TrustedProxies: testProxies}, nil)

	r := httptest.NewRequest(http.MethodGet, "/boom", nil)
	r.Header.Set(requestIDHeader, "panic-req-1")
	w := serve(h, r)

	require.Equal(t, http.StatusInternalServerError, w.Code)
	require.Equal(t, "panic-req-1", w.Header().Get(requestIDHeader))
	require.Empty(t, w.Header().Get("Set-Cookie"))
	e := decodeError(t, w)
	require.Equal(t, errorDetail{Code: "internal", Message: "An internal error has occurred.", RequestID: "panic-req-1"}, e)

	panics := logs.withMsg(t, "panic")
	require.Len(t, panics, 1, "logged once")
	require.Equal(t, "ERROR", panics[0]["level"])
	require.Equal(t, "panic-req-1", panics[0]["request_id"])
	require.Equal(t, "kaboom", panics[0]["panic"])
	require.Contains(t, panics[0]["stack"], "TestRecoverPanics")
	require.Len(t, logs.withMsg(t, "internal error"), 0)

	access := logs.withMsg(t, "request")
	require.Len(t, access, 1)
	require.Equal(t, float64(http.StatusInternalServerError), access[0]["status"])
}

func TestRecoverPanics_AbortHandlerRepanics(t *testing.T) {
	t.Parallel()
	logger, logs := testLogger()
	h := wrap(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		panic(http.ErrAbortHandler)
	}), Deps{Logger: logger}, nil)

	require.PanicsWithValue(t, http.ErrAbortHandler, func() {
		serve(h, httptest.NewRequest(http.MethodGet, "/", nil))
	})
	require.Empty(t, logs.withMsg(t, "panic"))
}

func TestRecoverPanics_AfterResponseStartedAborts(t *testing.T) {
	t.Parallel()
	logger, logs := testLogger()
	h := wrap(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "partial")
		panic("late")
	}), Deps{Logger: logger}, nil)

	require.PanicsWithValue(t, http.ErrAbortHandler, func() {
		serve(h, httptest.NewRequest(http.MethodGet, "/", nil))
	})
	require.Len(t, logs.withMsg(t, "panic"), 1)
}

func TestPanicThroughServer(t *testing.T) {
	t.Parallel()
	// Through a real connection: the client gets the 500 and the server
	// survives the panic.
	logger, _ := testLogger()
	srv := httptest.NewServer(wrap(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.SetCookie(w, &http.Cookie{Name: "half", Value: "written"})
		panic(errors.New("kaboom"))
	}), Deps{Logger: logger, Production: true}, nil))
	t.Cleanup(srv.Close)

	for range 2 {
		resp, err := srv.Client().Get(srv.URL)
		require.NoError(t, err)
		_ = resp.Body.Close()
		require.Equal(t, http.StatusInternalServerError, resp.StatusCode)
		require.NotEmpty(t, resp.Header.Get(requestIDHeader))
		require.Empty(t, resp.Header.Get("Set-Cookie"), "what the handler set is dropped")
		require.Equal(t, contentSecurityPolicy(nil), resp.Header.Get("Content-Security-Policy"), "security headers survive")
		require.Equal(t, strictTransportSecurity, resp.Header.Get("Strict-Transport-Security"))
	}
}

func TestBodyLimit(t *testing.T) {
	t.Parallel()
	logger, logs := testLogger()
	s := newServer(Deps{Logger: logger, MaxBodyBytes: 10})
	h := s.wrap(s.errorHandler(func(w http.ResponseWriter, r *http.Request) error {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, map[string]int{"read": len(b)})
		return nil
	}), nil)

	t.Run("within limit", func(t *testing.T) {
		w := serve(h, httptest.NewRequest(http.MethodPost, "/", strings.NewReader("0123456789")))
		require.Equal(t, http.StatusOK, w.Code)
		require.JSONEq(t, `{"read":10}`, w.Body.String())
	})
	t.Run("no body", func(t *testing.T) {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		require.Equal(t, http.NoBody, r.Body, "as net/http's server gives a request without a body")
		w := serve(h, r)
		require.Equal(t, http.StatusOK, w.Code)
		require.JSONEq(t, `{"read":0}`, w.Body.String())
	})
	t.Run("streamed body over limit", func(t *testing.T) {
		r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader("0123456789A"))
		r.ContentLength = -1 // unknown length, as with chunked encoding
		w := serve(h, r)
		require.Equal(t, http.StatusRequestEntityTooLarge, w.Code)
		e := decodeError(t, w)
		require.Equal(t, "too_large", e.Code)
		require.Equal(t, "The request body must not exceed 10 bytes.", e.Message)
		require.Equal(t, w.Header().Get(requestIDHeader), e.RequestID)
	})
	t.Run("declared length over limit", func(t *testing.T) {
		w := serve(h, httptest.NewRequest(http.MethodPost, "/", strings.NewReader(strings.Repeat("x", 100))))
		require.Equal(t, http.StatusRequestEntityTooLarge, w.Code)
		require.Equal(t, "too_large", decodeError(t, w).Code)
	})
	require.Empty(t, logs.withMsg(t, "internal error"), "4xx is not logged as an error")
}

func TestResponseWriter_KeepsFlusher(t *testing.T) {
	t.Parallel()
	var direct, viaController bool
	h := wrap(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "chunk")
		_, direct = w.(http.Flusher)
		viaController = http.NewResponseController(w).Flush() == nil
	}), Deps{}, nil)

	w := serve(h, httptest.NewRequest(http.MethodGet, "/", nil))
	require.True(t, direct)
	require.True(t, viaController)
	require.True(t, w.Flushed)
	require.Equal(t, "chunk", w.Body.String())
}

func TestResponseWriter_KeepsFlusherThroughMux(t *testing.T) {
	t.Parallel()
	mux := http.NewServeMux()
	mux.Handle("GET /stream", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "chunk")
		require.NoError(t, http.NewResponseController(w).Flush())
	}))
	s := newServer(Deps{})
	h := s.wrap(s.answerUnmatched(mux), []string{"GET /stream"})
	w := serve(h, httptest.NewRequest(http.MethodGet, "/stream", nil))
	require.True(t, w.Flushed)
}
