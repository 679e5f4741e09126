package web

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/groundwork-dev/groundwork/internal/observe"
)

func TestHealthz(t *testing.T) {
	t.Parallel()
	w := serve(NewServer(Deps{}), httptest.NewRequest(http.MethodGet, "/healthz", nil))
	require.Equal(t, http.StatusOK, w.Code)
	require.Equal(t, "application/json", w.Header().Get("Content-Type"))
	require.JSONEq(t, `{"status":"ok"}`, w.Body.String())
}

// TestHealthzFailsWhenNotLive: when Deps.Live fails (the embedded
// PostgreSQL could not be brought back within its recovery time), /healthz
// answers 503 so that an orchestrator restarts the process; the reason is
// logged, not shown.
func TestHealthzFailsWhenNotLive(t *testing.T) {
	t.Parallel()
	logger, logs := testLogger()
	live := func(context.Context) error { return errors.New("embedded PostgreSQL has been down for 1m1s") }
	w := serve(NewServer(Deps{Logger: logger, Live: live}), httptest.NewRequest(http.MethodGet, "/healthz", nil))
	require.Equal(t, http.StatusServiceUnavailable, w.Code)
	require.NotContains(t, w.Body.String(), "PostgreSQL")
	require.Contains(t, logs.buf.String(), "embedded PostgreSQL has been down")
}

func TestReadyz(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name       string
		ready      func(context.Context) error
		wantStatus int
		wantBody   string
	}{
		{
			name:       "ready",
			ready:      func(context.Context) error { return nil },
			wantStatus: http.StatusOK,
			wantBody:   `{"status":"ready"}`,
		},
		{
			name:       "not ready",
			ready:      func(context.Context) error { return errors.New("database unreachable") },
			wantStatus: http.StatusServiceUnavailable,
			// The reason goes to the log, not to anonymous callers.
			wantBody: `{"status":"unavailable"}`,
		},
		{
			name:       "no check",
			wantStatus: http.StatusOK,
			wantBody:   `{"status":"ready"}`,
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			w := serve(NewServer(Deps{Ready: tt.ready}), httptest.NewRequest(http.MethodGet, "/readyz", nil))
			require.Equal(t, tt.wantStatus, w.Code)
			require.JSONEq(t, tt.wantBody, w.Body.String())
			require.Equal(t, "no-store", w.Header().Get("Cache-Control"))
		})
	}
}

func TestReadyz_CheckIsBounded(t *testing.T) {
	t.Parallel()
	var deadline time.Time
	var hasDeadline bool
	ready := func(ctx context.Context) error {
		deadline, hasDeadline = ctx.Deadline()
		return nil
	}
	start := time.Now()
	w := serve(NewServer(Deps{Ready: ready}), httptest.NewRequest(http.MethodGet, "/readyz", nil))
	end := time.Now()
	require.Equal(t, http.StatusOK, w.Code)
	require.True(t, hasDeadline)
	require.LessOrEqual(t, deadline.Sub(end), 2*time.Second)
	require.GreaterOrEqual(t, deadline.Sub(start), 2*time.Second)
}

func TestVersion(t *testing.T) {
	t.Parallel()
	v := VersionInfo{Version: "v1.2.3", Commit: "abc123", BuildTime: "2025-01-02T03:04:05Z"}
	for _, tt := range []struct {
		name   string
		env    string
		schema func(context.Context) (int64, error)
		want   string
	}{
		{
			name:   "schema known",
			schema: func(context.Context) (int64, error) { return 42, nil },
			want:   `{"version":"v1.2.3","commit":"abc123","build_time":"2025-01-02T03:04:05Z","schema_version":42}`,
		},
		{
			name:   "schema unavailable",
			schema: func(context.Context) (int64, error) { return 0, errors.New("database unreachable") },
			want:   `{"version":"v1.2.3","commit":"abc123","build_time":"2025-01-02T03:04:05Z","schema_version":null}`,
		},
		{
			name:   "environment named",
			env:    "production",
			schema: func(context.Context) (int64, error) { return 42, nil },
			want:   `{"version":"v1.2.3","commit":"abc123","build_time":"2025-01-02T03:04:05Z","environment":"production","schema_version":42}`,
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			v := v
			v.Environment = tt.env
			w := serve(NewServer(Deps{Version: v, SchemaVersion: tt.schema}), httptest.NewRequest(http.MethodGet, "/version", nil))
			require.Equal(t, http.StatusOK, w.Code)
			require.JSONEq(t, tt.want, w.Body.String())
		})
	}
}

func TestMetrics(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	h := NewServer(Deps{Metrics: observe.NewHTTPMetrics(reg), Gatherer: reg})

	require.Equal(t, http.StatusOK, serve(h, httptest.NewRequest(http.MethodGet, "/healthz", nil)).Code)
	require.Equal(t, http.StatusNotFound, serve(h, httptest.NewRequest(http.MethodGet, "/some/random/path", nil)).Code)

	w := serve(h, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	require.Equal(t, http.StatusOK, w.Code)
	body := w.Body.String()
	require.Contains(t, body, `groundwork_http_request_duration_seconds_count{method="GET",route="GET /healthz",status_class="2xx"} 1`)
	require.Contains(t, body, `groundwork_http_request_duration_seconds_count{method="GET",route="unmatched",status_class="4xx"} 1`)
	require.Contains(t, body, `groundwork_http_requests_in_flight 1`, "the /metrics request itself is in flight")
	require.NotContains(t, body, "/some/random/path")
}

func TestNotFoundAndMethodNotAllowed(t *testing.T) {
	t.Parallel()
	logger, logs := testLogger()
	h := NewServer(Deps{Logger: logger})

	w := serve(h, httptest.NewRequest(http.MethodGet, "/some/random/path", nil))
	require.Equal(t, http.StatusNotFound, w.Code)
	e := decodeError(t, w)
	require.Equal(t, "not_found", e.Code)
	require.Equal(t, w.Header().Get(requestIDHeader), e.RequestID)

	w = serve(h, httptest.NewRequest(http.MethodPost, "/healthz", strings.NewReader("{}")))
	require.Equal(t, http.StatusMethodNotAllowed, w.Code)
	require.Equal(t, "GET, HEAD", w.Header().Get("Allow"))
	e = decodeError(t, w)
	require.Equal(t, "method_not_allowed", e.Code)
	require.Equal(t, w.Header().Get(requestIDHeader), e.RequestID)

	require.Empty(t, logs.withMsg(t, "internal error"))
}

func TestRoutes(t *testing.T) {
	t.Parallel()
	routes := Routes(Deps{})
	var ops []string
	for _, r := range routes {
		if r.Access == AccessOps {
			ops = append(ops, r.Pattern)
		}
	}
	require.Equal(t, []string{"GET /healthz", "GET /readyz", "GET /version", "GET /metrics", "GET /static/", "POST /webhooks/stripe", "GET /api/v1/openapi.json", "GET /api/docs"}, ops)

	// Every operational route is served by NewServer: none falls through to
	// 404/405. (The other routes are exercised by the tenancy tests.)
	h := NewServer(Deps{})
	for _, route := range ops {
		method, path, ok := strings.Cut(route, " ")
		require.True(t, ok, "route %q has a method", route)
		if route == "GET /static/" {
			path += "app.css" // the directory itself is not served
		}
		w := serve(h, httptest.NewRequest(method, path, nil))
		if route == "GET /metrics" {
			// Served only with Deps.Gatherer: otherwise the metrics are on
			// their own listener (MetricsHandler).
			require.Equal(t, http.StatusNotFound, w.Code)
			continue
		}
		if route == "POST /webhooks/stripe" {
			// Served, but Stripe is not configured in a zero Deps.
			require.Equal(t, http.StatusNotFound, w.Code)
			require.Contains(t, decodeError(t, w).Message, "not configured")
			continue
		}
		require.NotContains(t, []int{http.StatusNotFound, http.StatusMethodNotAllowed}, w.Code, route)
	}
}

func TestServeHTTPEndToEnd(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(NewServer(Deps{}))
	t.Cleanup(srv.Close)
	resp, err := srv.Client().Get(srv.URL + "/healthz")
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	var body map[string]string
	require.NoError(t, json.Unmarshal(b, &body))
	require.Equal(t, "ok", body["status"])
}
