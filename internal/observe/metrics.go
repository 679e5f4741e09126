package observe

import (
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// UnmatchedRoute is the route label of requests that matched no registered
// route. Using it instead of the raw path keeps label cardinality bounded.
const UnmatchedRoute = "unmatched"

// StatusClientClosedRequest is the status recorded for a request whose
// client went away before it was answered (nginx's 499). Nobody receives
// it; it marks the request in the access log and the metrics.
const StatusClientClosedRequest = 499

// HTTPMetrics records the Prometheus metrics of the HTTP server. A nil
// *HTTPMetrics is valid and records nothing.
type HTTPMetrics struct {
	duration  *prometheus.HistogramVec
	inFlight  prometheus.Gauge
	cancelled *prometheus.CounterVec
	conns     prometheus.Gauge
	rejected  prometheus.Counter
}

// NewHTTPMetrics creates the HTTP metrics and registers them with reg:
// groundwork_http_request_duration_seconds, a histogram labelled route,
// method and status_class; groundwork_http_requests_in_flight, a gauge;
// groundwork_http_requests_cancelled_total, requests whose client went away,
// by route; groundwork_http_connections_open, a gauge, and
// groundwork_http_connections_rejected_total, connections refused because
// the limit was reached. It panics if they are already registered with reg.
func NewHTTPMetrics(reg prometheus.Registerer) *HTTPMetrics {
	m := &HTTPMetrics{
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "groundwork_http_request_duration_seconds",
			Help:    "Duration of HTTP requests, by route pattern, method and status class.",
			Buckets: prometheus.DefBuckets,
		}, []string{"route", "method", "status_class"}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "groundwork_http_requests_in_flight",
			Help: "Number of HTTP requests being served.",
		}),
		cancelled: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "groundwork_http_requests_cancelled_total",
			Help: "HTTP requests whose client went away before they were answered, by route pattern.",
		}, []string{"route"}),
		conns: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "groundwork_http_connections_open",
			Help: "HTTP connections open, counted against GROUNDWORK_MAX_CONNS.",
		}),
		rejected: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "groundwork_http_connections_rejected_total",
			Help: "HTTP connections answered 503 and closed because GROUNDWORK_MAX_CONNS were open.",
		}),
	}
	reg.MustRegister(m.duration, m.inFlight, m.cancelled, m.conns, m.rejected)
	return m
}

// ConnOpened counts a connection as open; call ConnClosed when it closes.
func (m *HTTPMetrics) ConnOpened() {
	if m != nil {
		m.conns.Inc()
	}
}

// ConnClosed counts a connection opened with ConnOpened as closed.
func (m *HTTPMetrics) ConnClosed() {
	if m != nil {
		m.conns.Dec()
	}
}

// ConnRejected counts a connection refused because the limit was reached.
func (m *HTTPMetrics) ConnRejected() {
	if m != nil {
		m.rejected.Inc()
	}
}

// RequestStarted counts a request as in flight. Call RequestFinished once
// the request is done.
func (m *HTTPMetrics) RequestStarted() {
	if m == nil {
		return
	}
	m.inFlight.Inc()
}

// RequestFinished counts a request as no longer in flight and observes its
// duration. route is the matched route pattern (e.g. "GET /readyz") or
// UnmatchedRoute, never a raw path; methods other than the standard ones are
// recorded as "OTHER". A request finished with StatusClientClosedRequest is
// also counted as cancelled.
func (m *HTTPMetrics) RequestFinished(route, method string, status int, elapsed time.Duration) {
	if m == nil {
		return
	}
	m.inFlight.Dec()
	if route == "" {
		route = UnmatchedRoute
	}
	if status == StatusClientClosedRequest {
		m.cancelled.WithLabelValues(route).Inc()
	}
	m.duration.WithLabelValues(route, methodLabel(method), StatusClass(status)).Observe(elapsed.Seconds())
}

// StatusClass returns the class of an HTTP status code: "1xx" to "5xx", or
// "other" for codes outside 100–599.
func StatusClass(status int) string {
	switch status / 100 {
	case 1:
		return "1xx"
	case 2:
		return "2xx"
	case 3:
		return "3xx"
	case 4:
		return "4xx"
	case 5:
		return "5xx"
	default:
		return "other"
	}
}

// methodLabel bounds the method label to the standard methods.
func methodLabel(method string) string {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodConnect, http.MethodOptions, http.MethodTrace:
		return method
	default:
		return "OTHER"
	}
}

// NewRegistry returns a Prometheus registry holding the Go runtime and
// process collectors, ready for the application's own metrics.
func NewRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return reg
}
