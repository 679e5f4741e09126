package web

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
	coltrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/groundwork-dev/groundwork/internal/observe"
)

// otlpReceiver is an OTLP/HTTP trace receiver (protobuf on /v1/traces),
// as a collector runs it; it keeps the spans' names by trace ID.
type otlpReceiver struct {
	mu    sync.Mutex
	spans map[string][]string // hex trace ID → span names
}

func (o *otlpReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != "/v1/traces" || r.Header.Get("Content-Type") != "application/x-protobuf" {
		http.Error(w, "not an OTLP/HTTP trace export", http.StatusBadRequest)
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var req coltrace.ExportTraceServiceRequest
	if err := proto.Unmarshal(body, &req); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	o.mu.Lock()
	for _, rs := range req.ResourceSpans {
		for _, ss := range rs.ScopeSpans {
			for _, sp := range ss.Spans {
				id := hexID(sp.TraceId)
				o.spans[id] = append(o.spans[id], sp.Name)
			}
		}
	}
	o.mu.Unlock()
	resp, _ := proto.Marshal(&coltrace.ExportTraceServiceResponse{})
	w.Header().Set("Content-Type", "application/x-protobuf")
	_, _ = w.Write(resp)
}

func hexID(b []byte) string {
	const digits = "0123456789abcdef"
	out := make([]byte, 0, len(b)*2)
	for _, c := range b {
		out = append(out, digits[c>>4], digits[c&15])
	}
	return string(out)
}

// TestTracingExportsSpansAndLogsTheirIDs serves a request carrying a W3C
// traceparent with tracing on: the span is exported over OTLP/HTTP to a
// receiver running in the test, in the caller's trace; the request's log
// line carries the trace and span IDs; the console's record links the
// request ID to the trace ID.
func TestTracingExportsSpansAndLogsTheirIDs(t *testing.T) {
	t.Parallel()
	rcv := &otlpReceiver{spans: map[string][]string{}}
	collector := httptest.NewServer(rcv)
	t.Cleanup(collector.Close)
	ctx := context.Background()
	tp, err := observe.StartTracing(ctx, collector.URL, "groundwork-test", "v0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })

	logger, logs := testLogger()
	requests := observe.NewRequests(nil)
	h := NewServer(Deps{Logger: logger, TracerProvider: tp, Requests: requests})
	const traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
	req := httptest.NewRequest(http.MethodGet, "/healthz", nil)
	req.Header.Set("traceparent", "00-"+traceID+"-00f067aa0ba902b7-01")
	w := serve(h, req)
	require.Equal(t, http.StatusOK, w.Code)
	require.NoError(t, tp.ForceFlush(ctx))

	rcv.mu.Lock()
	names := rcv.spans[traceID]
	rcv.mu.Unlock()
	require.Equal(t, []string{"GET /healthz"}, names, "one server span, in the caller's trace")

	lines := logs.withMsg(t, "request")
	require.Len(t, lines, 1)
	require.Equal(t, traceID, lines[0]["trace_id"])
	require.Len(t, lines[0]["span_id"], 16)
	require.Equal(t, w.Header().Get(requestIDHeader), lines[0]["request_id"])

	slow := requests.Slowest(1, 3600e9)
	require.Len(t, slow, 1)
	require.Equal(t, traceID, slow[0].TraceID)

	// Tracing off: no span, no trace ID in the log.
	logger2, logs2 := testLogger()
	w = serve(NewServer(Deps{Logger: logger2}), httptest.NewRequest(http.MethodGet, "/healthz", nil))
	require.Equal(t, http.StatusOK, w.Code)
	lines = logs2.withMsg(t, "request")
	require.Len(t, lines, 1)
	require.NotContains(t, lines[0], "trace_id")
}
