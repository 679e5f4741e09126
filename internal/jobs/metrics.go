package jobs

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
)

// CountsCollector exposes River's job counts by queue and state as the gauge
// groundwork_jobs{queue,state}, and the age of each queue's oldest job
// waiting to run as groundwork_jobs_oldest_available_age_seconds{queue},
// read from the database at scrape time. A failed read is reported through
// groundwork_jobs_scrape_errors_total.
type CountsCollector struct {
	pool   *pgxpool.Pool
	desc   *prometheus.Desc
	oldest *prometheus.Desc
	errors prometheus.Counter
}

// NewCountsCollector returns a collector reading River's jobs through pool.
func NewCountsCollector(pool *pgxpool.Pool) *CountsCollector {
	return &CountsCollector{
		pool: pool,
		desc: prometheus.NewDesc("groundwork_jobs", "River jobs by queue and state.", []string{"queue", "state"}, nil),
		oldest: prometheus.NewDesc("groundwork_jobs_oldest_available_age_seconds",
			"How long the oldest job ready to run has waited since it was due, by queue (queues with no such job are absent).",
			[]string{"queue"}, nil),
		errors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "groundwork_jobs_scrape_errors_total",
			Help: "Failed reads of River job counts.",
		}),
	}
}

// Describe implements prometheus.Collector.
func (c *CountsCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.desc
	ch <- c.oldest
	c.errors.Describe(ch)
}

// Collect implements prometheus.Collector.
func (c *CountsCollector) Collect(ch chan<- prometheus.Metric) {
	defer c.errors.Collect(ch)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	rows, err := c.pool.Query(ctx, `SELECT queue, state::text, count(*) FROM river_job GROUP BY 1, 2`)
	if err != nil {
		c.errors.Inc()
		return
	}
	defer rows.Close()
	for rows.Next() {
		var queue, state string
		var n int64
		if err := rows.Scan(&queue, &state, &n); err != nil {
			c.errors.Inc()
			return
		}
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(n), queue, state)
	}
	if rows.Err() != nil {
		c.errors.Inc()
		return
	}
	c.collectOldest(ctx, ch)
}

// collectOldest reports, per queue, how long its oldest available job has
// been due.
func (c *CountsCollector) collectOldest(ctx context.Context, ch chan<- prometheus.Metric) {
	rows, err := c.pool.Query(ctx, `SELECT queue, greatest(extract(epoch FROM now() - min(scheduled_at)), 0)::float8
		FROM river_job WHERE state = 'available' GROUP BY queue`)
	if err != nil {
		c.errors.Inc()
		return
	}
	defer rows.Close()
	for rows.Next() {
		var queue string
		var age float64
		if err := rows.Scan(&queue, &age); err != nil {
			c.errors.Inc()
			return
		}
		ch <- prometheus.MustNewConstMetric(c.oldest, prometheus.GaugeValue, age, queue)
	}
	if rows.Err() != nil {
		c.errors.Inc()
	}
}
