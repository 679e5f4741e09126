package web

import (
	"context"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/groundwork-dev/groundwork/internal/gw"
	"github.com/groundwork-dev/groundwork/internal/maintenance"
)

// readyTimeout bounds the readiness check and the schema version lookup.
const readyTimeout = 2 * time.Second

// probeResponse is the body of /healthz and /readyz. It says only whether
// the process is alive or ready: these endpoints are public, and the reason
// for a failure (database user, socket path, error text) is for the log.
type probeResponse struct {
	Status string `json:"status"`
}

// handleHealthz reports whether the process is alive: 200 unless Deps.Live
// returns an error (the embedded database could not be brought back in
// time), then 503, so that an orchestrator restarts the process. It checks
// no dependency itself. The reason is logged once per change.
func (s *server) handleHealthz() http.Handler {
	live := s.d.Live
	state := &probeState{logger: s.d.Logger, probe: "healthz"}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		if live != nil {
			if err := live(r.Context()); err != nil {
				state.note(r.Context(), err.Error())
				writeJSON(w, http.StatusServiceUnavailable, probeResponse{Status: "unhealthy"})
				return
			}
			state.note(r.Context(), "")
		}
		writeJSON(w, http.StatusOK, probeResponse{Status: "ok"})
	})
}

// handleReadyz reports whether the process can serve traffic: 200 when
// Deps.Ready returns nil within readyTimeout and the server is not
// draining, 503 otherwise. A nil Ready means ready. The reason is logged
// once per change, not shown.
func (s *server) handleReadyz() http.Handler {
	ready, drain := s.d.Ready, s.d.Drain
	state := &probeState{logger: s.d.Logger, probe: "readyz"}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		reason := ""
		if drain.Draining() {
			reason = "shutting down: draining connections"
		} else if ready != nil {
			ctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
			defer cancel()
			if err := ready(ctx); err != nil {
				reason = err.Error()
			}
		}
		state.note(r.Context(), reason)
		if reason != "" {
			writeJSON(w, http.StatusServiceUnavailable, probeResponse{Status: "unavailable"})
			return
		}
		writeJSON(w, http.StatusOK, probeResponse{Status: "ready"})
	})
}

// probeState logs a probe's failures once per change of reason, and its
// recovery once: probes are called every few seconds by load balancers and
// orchestrators, and an outage should be a few lines, not thousands.
type probeState struct {
	logger *slog.Logger
	probe  string

	mu   sync.Mutex
	last string // the last reason logged; "" while passing
}

// note records the probe's current reason to fail ("" for passing) and
// logs it if it differs from the last one.
func (p *probeState) note(ctx context.Context, reason string) {
	p.mu.Lock()
	changed := reason != p.last
	p.last = reason
	p.mu.Unlock()
	if !changed {
		return
	}
	if reason == "" {
		p.logger.InfoContext(ctx, p.probe+" passing again", "probe", p.probe)
		return
	}
	p.logger.WarnContext(ctx, p.probe+" failing", "probe", p.probe, "reason", reason)
}

// handleVersion reports the build, the applied schema version and the
// recent starts of serve and worker (what runs in production; without
// hosts). The schema version is null, and the starts are absent, when their
// function is nil or fails within readyTimeout.
func handleVersion(v VersionInfo, schemaVersion func(ctx context.Context) (int64, error),
	deployments func(ctx context.Context) ([]maintenance.Deployment, error)) http.Handler {
	type response struct {
		Version       string                   `json:"version"`
		Commit        string                   `json:"commit"`
		BuildTime     string                   `json:"build_time"`
		Environment   string                   `json:"environment,omitempty"`
		SchemaVersion *int64                   `json:"schema_version"`
		Deployments   []maintenance.Deployment `json:"deployments,omitempty"`
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		resp := response{Version: v.Version, Commit: v.Commit, BuildTime: v.BuildTime, Environment: v.Environment}
		ctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
		defer cancel()
		if schemaVersion != nil {
			if n, err := schemaVersion(ctx); err == nil {
				resp.SchemaVersion = &n
			}
		}
		if deployments != nil {
			resp.Deployments, _ = deployments(ctx)
		}
		writeJSON(w, http.StatusOK, resp)
	})
}

// handleMetrics serves the metrics of Deps.Gatherer in the Prometheus
// exposition format, or answers 404 when it is nil: the metrics are then
// served on a listener of their own (MetricsHandler), not to whoever can
// reach the app. Collection errors are logged and the metrics that could be
// gathered are still served.
func (s *server) handleMetrics() http.Handler {
	if s.d.Gatherer == nil {
		return s.errorHandler(func(http.ResponseWriter, *http.Request) error {
			return gw.Errorf(gw.ENOTFOUND, "The requested resource was not found.")
		})
	}
	return promhttp.HandlerFor(s.d.Gatherer, promhttp.HandlerOpts{
		ErrorLog:      slog.NewLogLogger(s.d.Logger.Handler(), slog.LevelError),
		ErrorHandling: promhttp.ContinueOnError,
	})
}

// MetricsHandler is the handler of the metrics listener
// (GROUNDWORK_METRICS_ADDR): the metrics of g at GET /metrics, as
// handleMetrics serves them, and 404 at any other path.
func MetricsHandler(g prometheus.Gatherer, logger *slog.Logger) http.Handler {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(g, promhttp.HandlerOpts{
		ErrorLog:      slog.NewLogLogger(logger.Handler(), slog.LevelError),
		ErrorHandling: promhttp.ContinueOnError,
	}))
	return mux
}
