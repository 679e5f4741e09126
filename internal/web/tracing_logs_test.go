package web

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/groundwork-dev/groundwork/internal/observe"
)

// TestEveryLogLineOfARequestCarriesItsTrace: with tracing on, every line a
// request logs — the handler's own, the internal error, a panic, the
// access log — carries the request ID and the server span's trace and span
// IDs; the console's slowest requests and recent errors show each request
// ID beside its trace ID.
func TestEveryLogLineOfARequestCarriesItsTrace(t *testing.T) {
	t.Parallel()
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	logger, logs := testLogger()
	requests := observe.NewRequests(nil)
	s := newServer(Deps{Logger: logger, TracerProvider: tp, Requests: requests})

	failing := s.wrap(s.errorHandler(func(_ http.ResponseWriter, r *http.Request) error {
		logger.InfoContext(r.Context(), "handler working", "step", 1)
		logger.With("component", "store").WithGroup("query").InfoContext(r.Context(), "inside a group", "rows", 0)
		return errors.New("database exploded")
	}), nil)
	panicking := s.wrap(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		logger.WarnContext(r.Context(), "about to fail")
		panic("kaboom")
	}), nil)

	for _, tc := range []struct {
		name  string
		h     http.Handler
		lines []string
	}{
		{"internal error", failing, []string{"handler working", "inside a group", "internal error", "request"}},
		{"panic", panicking, []string{"about to fail", "request", "panic"}},
	} {
		logged, before := len(logs.lines(t)), len(rec.Ended())
		w := serve(tc.h, httptest.NewRequest(http.MethodGet, "/"+strings.ReplaceAll(tc.name, " ", "-"), nil))
		require.Equal(t, http.StatusInternalServerError, w.Code, tc.name)
		spans := rec.Ended()[before:]
		require.Len(t, spans, 1, tc.name)
		sc := spans[0].SpanContext()

		lines := logs.lines(t)[logged:]
		var msgs []string
		for _, l := range lines {
			msgs = append(msgs, l["msg"].(string))
			require.Equal(t, sc.TraceID().String(), l[observe.TraceIDKey], "%s: %v", tc.name, l)
			require.Equal(t, sc.SpanID().String(), l[observe.SpanIDKey], "%s: %v", tc.name, l)
			require.Equal(t, w.Header().Get(requestIDHeader), l[observe.RequestIDKey], "%s: %v", tc.name, l)
		}
		require.Equal(t, tc.lines, msgs, tc.name)
	}

	// The console (its handler, past the operator check) lists both
	// requests, slowest and errors alike, each request ID beside its
	// trace ID.
	w := serve(s.pageOps(), httptest.NewRequest(http.MethodGet, "/ops?window=5m", nil))
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	samples := requests.Errors()
	require.Len(t, samples, 2)
	for _, x := range samples {
		row := regexp.MustCompile(`<code>` + regexp.QuoteMeta(x.RequestID) + `</code></td><td><code>` + x.TraceID + `</code>`)
		require.Len(t, row.FindAllString(w.Body.String(), -1), 2, "in the slowest requests and the recent errors: %s", x.RequestID)
	}
}
