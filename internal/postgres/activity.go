package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
)

// ActivityCollector exposes what the database sessions of the runtime role
// are doing, read from pg_stat_activity at scrape time:
// groundwork_db_active (sessions running a statement) and
// groundwork_db_lock_waiting (sessions waiting on a lock), both of the
// current database. Lock waits are what a load test looks for when
// latency grows while CPU and the pool are not exhausted. Without
// pg_read_all_stats the role sees only its own sessions, which are the
// application's. A failed read counts in
// groundwork_db_activity_scrape_errors_total.
type ActivityCollector struct {
	pool    *pgxpool.Pool
	active  *prometheus.Desc
	waiting *prometheus.Desc
	errors  prometheus.Counter
}

// NewActivityCollector returns the collector, reading through pool.
func NewActivityCollector(pool *pgxpool.Pool) *ActivityCollector {
	return &ActivityCollector{
		pool:    pool,
		active:  prometheus.NewDesc("groundwork_db_active", "Database sessions running a statement (pg_stat_activity state active).", nil, nil),
		waiting: prometheus.NewDesc("groundwork_db_lock_waiting", "Database sessions waiting on a lock (pg_stat_activity wait_event_type Lock).", nil, nil),
		errors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "groundwork_db_activity_scrape_errors_total",
			Help: "Failed reads of pg_stat_activity.",
		}),
	}
}

// Describe implements prometheus.Collector.
func (c *ActivityCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.active
	ch <- c.waiting
	c.errors.Describe(ch)
}

// Collect implements prometheus.Collector.
func (c *ActivityCollector) Collect(ch chan<- prometheus.Metric) {
	defer c.errors.Collect(ch)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	var active, waiting int64
	// The scrape's own session is active: it is not counted.
	err := c.pool.QueryRow(ctx, `SELECT count(*) FILTER (WHERE state = 'active' AND pid <> pg_backend_pid()),
		count(*) FILTER (WHERE wait_event_type = 'Lock')
		FROM pg_stat_activity WHERE datname = current_database()`).Scan(&active, &waiting)
	if err != nil {
		c.errors.Inc()
		return
	}
	ch <- prometheus.MustNewConstMetric(c.active, prometheus.GaugeValue, float64(active))
	ch <- prometheus.MustNewConstMetric(c.waiting, prometheus.GaugeValue, float64(waiting))
}
