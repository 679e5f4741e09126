package billing

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
)

// EventsCollector reports the webhook ledger to Prometheus, so that a
// stuck or failing billing queue is visible and can alert: events not yet
// processed, those whose processing failed at least once, and the age of
// the oldest unprocessed one.
type EventsCollector struct {
	pool                     *pgxpool.Pool
	unprocessed, failed, age *prometheus.Desc
	errors                   prometheus.Counter
}

// NewEventsCollector returns a collector reading stripe_events through pool.
func NewEventsCollector(pool *pgxpool.Pool) *EventsCollector {
	return &EventsCollector{
		pool: pool,
		unprocessed: prometheus.NewDesc("groundwork_billing_events_unprocessed",
			"Stripe webhook events recorded but not yet processed.", nil, nil),
		failed: prometheus.NewDesc("groundwork_billing_events_failed",
			"Unprocessed Stripe events whose processing failed at least once (see stripe_events.last_error).", nil, nil),
		age: prometheus.NewDesc("groundwork_billing_oldest_unprocessed_event_age_seconds",
			"Age of the oldest unprocessed Stripe event; 0 when there is none.", nil, nil),
		errors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "groundwork_billing_events_scrape_errors_total",
			Help: "Failed reads of the Stripe event ledger.",
		}),
	}
}

// Describe implements prometheus.Collector.
func (c *EventsCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.unprocessed
	ch <- c.failed
	ch <- c.age
	c.errors.Describe(ch)
}

// Collect implements prometheus.Collector.
func (c *EventsCollector) Collect(ch chan<- prometheus.Metric) {
	defer c.errors.Collect(ch)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	unprocessed, failed, age, err := ledgerStats(ctx, c.pool)
	if err != nil {
		c.errors.Inc()
		return
	}
	ch <- prometheus.MustNewConstMetric(c.unprocessed, prometheus.GaugeValue, float64(unprocessed))
	ch <- prometheus.MustNewConstMetric(c.failed, prometheus.GaugeValue, float64(failed))
	ch <- prometheus.MustNewConstMetric(c.age, prometheus.GaugeValue, age)
}
