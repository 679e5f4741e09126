package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
)

// Replica is a streaming read replica's pool, connected as the runtime
// role (row-level security holds there as on the primary: the replica is
// a physical copy, roles and policies included), with how far behind the
// primary it may be for a read to go to it.
type Replica struct {
	// Pool connects to the replica.
	Pool *pgxpool.Pool
	// MaxLag is how far behind the primary it may be for a read to use it.
	MaxLag time.Duration
}

// NewReplica returns pool's Replica, used while it lags by at most maxLag.
func NewReplica(pool *pgxpool.Pool, maxLag time.Duration) *Replica {
	return &Replica{Pool: pool, MaxLag: maxLag}
}

// Descriptions of the replica's metrics.
var (
	replicaLagDesc = prometheus.NewDesc("groundwork_replica_lag_seconds",
		"How far the read replica's replay is behind its primary (0 when it replayed all the WAL it received), measured at the scrape.",
		nil, nil)
	replicaUpDesc = prometheus.NewDesc("groundwork_replica_up",
		"1 when the read replica answered the scrape's lag check as a standby, 0 otherwise (exports then read from the primary).",
		nil, nil)
)

// Collector exposes the replica's lag as the gauge
// groundwork_replica_lag_seconds, measured at each scrape (one short query
// on the replica, 5 s at most), and groundwork_replica_up.
func (r *Replica) Collector() prometheus.Collector { return replicaCollector{r} }

type replicaCollector struct{ r *Replica }

// Describe implements prometheus.Collector.
func (c replicaCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- replicaLagDesc
	ch <- replicaUpDesc
}

// Collect implements prometheus.Collector.
func (c replicaCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	lag, err := c.r.Lag(ctx)
	if err != nil {
		ch <- prometheus.MustNewConstMetric(replicaUpDesc, prometheus.GaugeValue, 0)
		return
	}
	ch <- prometheus.MustNewConstMetric(replicaUpDesc, prometheus.GaugeValue, 1)
	ch <- prometheus.MustNewConstMetric(replicaLagDesc, prometheus.GaugeValue, lag.Seconds())
}

// lagSQL is how far the server's replay is behind: 0 when it has replayed
// all the WAL it received (an idle primary writes no new transactions, so
// the time since the last replayed one says nothing), otherwise the time
// since the last transaction it replayed committed on the primary. A server
// that is not a standby answers NULL.
const lagSQL = `SELECT CASE
	WHEN NOT pg_is_in_recovery() THEN NULL
	WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0
	ELSE COALESCE(EXTRACT(epoch FROM now() - pg_last_xact_replay_timestamp()), 0)
END::float8`

// Lag returns how far the replica is behind its primary. A server that is not in recovery (a promoted replica, or a
// primary given by mistake) is an error: reads there would be no
// replica's.
func (r *Replica) Lag(ctx context.Context) (time.Duration, error) {
	var secs *float64
	if err := r.Pool.QueryRow(ctx, lagSQL).Scan(&secs); err != nil {
		return 0, fmt.Errorf("check replica lag: %w", Translate(err))
	}
	if secs == nil {
		return 0, fmt.Errorf("check replica lag: the server of DATABASE_REPLICA_URL is not a standby (pg_is_in_recovery() is false)")
	}
	return time.Duration(max(*secs, 0) * float64(time.Second)), nil
}

// Fresh reports whether the replica lags by at most MaxLag, and the lag;
// an error (the replica unreachable, not a standby) is not fresh.
func (r *Replica) Fresh(ctx context.Context) (bool, time.Duration, error) {
	lag, err := r.Lag(ctx)
	if err != nil {
		return false, 0, err
	}
	return lag <= r.MaxLag, lag, nil
}
