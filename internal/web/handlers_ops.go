package web

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// readyTimeout bounds the readiness check and the schema version lookup.
const readyTimeout = 2 * time.Second

// handleHealthz reports that the process is alive. It checks no dependency.
func handleHealthz() http.Handler {
	type response struct {
		Status string `json:"status"`
	}
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		writeJSON(w, http.StatusOK, response{Status: "ok"})
	})
}

// handleReadyz reports whether the process can serve traffic: 200 when
// ready returns nil within readyTimeout, 503 with the reason otherwise.
// A nil ready means always ready.
func handleReadyz(ready func(ctx context.Context) error) http.Handler {
	type response struct {
		Status string `json:"status"`
		Reason string `json:"reason,omitempty"`
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		if ready != nil {
			ctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
			defer cancel()
			if err := ready(ctx); err != nil {
				writeJSON(w, http.StatusServiceUnavailable, response{Status: "unavailable", Reason: err.Error()})
				return
			}
		}
		writeJSON(w, http.StatusOK, response{Status: "ready"})
	})
}

// handleVersion reports the build and the applied schema version. The schema
// version is null when schemaVersion is nil or fails within readyTimeout.
func handleVersion(v VersionInfo, schemaVersion func(ctx context.Context) (int64, error)) http.Handler {
	type response struct {
		Version       string `json:"version"`
		Commit        string `json:"commit"`
		BuildTime     string `json:"build_time"`
		SchemaVersion *int64 `json:"schema_version"`
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		resp := response{Version: v.Version, Commit: v.Commit, BuildTime: v.BuildTime}
		if schemaVersion != nil {
			ctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
			defer cancel()
			if n, err := schemaVersion(ctx); err == nil {
				resp.SchemaVersion = &n
			}
		}
		writeJSON(w, http.StatusOK, resp)
	})
}

// handleMetrics serves the metrics of g in the Prometheus exposition format.
// Collection errors are logged and the metrics that could be gathered are
// still served.
func handleMetrics(g prometheus.Gatherer, logger *slog.Logger) http.Handler {
	return promhttp.HandlerFor(g, promhttp.HandlerOpts{
		ErrorLog:      slog.NewLogLogger(logger.Handler(), slog.LevelError),
		ErrorHandling: promhttp.ContinueOnError,
	})
}
