package ratelimit

import "github.com/prometheus/client_golang/prometheus"

// Metrics counts the Limiter's rejections and backend errors. A nil
// *Metrics is valid and counts nothing.
type Metrics struct {
	rejectedTotal *prometheus.CounterVec
	errorsTotal   *prometheus.CounterVec
}

// NewMetrics creates groundwork_ratelimit_rejected_total and
// groundwork_ratelimit_errors_total, both labelled policy, with a zero
// series for every policy, and registers them with reg. It panics if they
// are already registered with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		rejectedTotal: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "groundwork_ratelimit_rejected_total",
			Help: "Requests refused because a rate limit was exhausted, by policy.",
		}, []string{"policy"}),
		errorsTotal: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "groundwork_ratelimit_errors_total",
			Help: "Rate-limit decisions that failed in the backend (the request was let through), by policy.",
		}, []string{"policy"}),
	}
	for _, p := range AllPolicies {
		m.rejectedTotal.WithLabelValues(string(p))
		m.errorsTotal.WithLabelValues(string(p))
	}
	reg.MustRegister(m.rejectedTotal, m.errorsTotal)
	return m
}

func (m *Metrics) rejected(p Policy) {
	if m != nil {
		m.rejectedTotal.WithLabelValues(string(p)).Inc()
	}
}

func (m *Metrics) errored(p Policy) {
	if m != nil {
		m.errorsTotal.WithLabelValues(string(p)).Inc()
	}
}
