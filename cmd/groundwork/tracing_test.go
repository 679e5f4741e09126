package main

import (
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	coltrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"
)

// otlpSpans is an OTLP/HTTP trace receiver keeping, for every span, its
// name, trace ID and parent span ID, and for every span ID its name.
type otlpSpans struct {
	mu    sync.Mutex
	spans []otlpSpan
}

type otlpSpan struct{ name, trace, id, parent string }

func (o *otlpSpans) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	var req coltrace.ExportTraceServiceRequest
	if err != nil || r.URL.Path != "/v1/traces" || proto.Unmarshal(body, &req) != nil {
		http.Error(w, "not an OTLP/HTTP trace export", http.StatusBadRequest)
		return
	}
	o.mu.Lock()
	for _, rs := range req.ResourceSpans {
		for _, ss := range rs.ScopeSpans {
			for _, sp := range ss.Spans {
				o.spans = append(o.spans, otlpSpan{sp.Name, hex.EncodeToString(sp.TraceId), hex.EncodeToString(sp.SpanId), hex.EncodeToString(sp.ParentSpanId)})
			}
		}
	}
	o.mu.Unlock()
	resp, _ := proto.Marshal(&coltrace.ExportTraceServiceResponse{})
	w.Header().Set("Content-Type", "application/x-protobuf")
	_, _ = w.Write(resp)
}

// queryUnder reports whether a "postgres …" span is the child of a span
// whose name starts with parent.
func (o *otlpSpans) queryUnder(parent string) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	requests := map[string]bool{}
	for _, s := range o.spans {
		if strings.HasPrefix(s.name, parent) {
			requests[s.trace+s.id] = true
		}
	}
	for _, s := range o.spans {
		if strings.HasPrefix(s.name, "postgres ") && requests[s.trace+s.parent] {
			return true
		}
	}
	return false
}

// TestServeTracesQueriesUnderRequests runs serve with
// OTEL_EXPORTER_OTLP_ENDPOINT pointing at a receiver in the test: the
// database queries a request runs arrive as spans under its server span,
// and those of a job (the heartbeat, run at start) under the job's span.
func TestServeTracesQueriesUnderRequests(t *testing.T) {
	t.Parallel()
	rcv := &otlpSpans{}
	collector := httptest.NewServer(rcv)
	defer collector.Close()
	env := map[string]string{"GROUNDWORK_DATA_DIR": dataDir(t), "PORT": "0",
		"OTEL_EXPORTER_OTLP_ENDPOINT": collector.URL, "OTEL_BSP_SCHEDULE_DELAY": "100"}
	s := startServe(t, env)
	waitReady(t, s.url)
	require.Eventually(t, func() bool {
		get(t, s.url+"/readyz")
		return rcv.queryUnder("GET /readyz")
	}, 30*time.Second, 200*time.Millisecond, "no query span under a GET /readyz span")
	require.Eventually(t, func() bool { return rcv.queryUnder("river.work/") },
		30*time.Second, 200*time.Millisecond, "no query span under a river.work span")
}
