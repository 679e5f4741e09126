package backup

import (
	"context"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/riverqueue/river"

	"github.com/groundwork-dev/groundwork/internal/jobs"
)

// Targets names the databases the jobs work on; resolved when a job runs.
type Targets func(ctx context.Context) (sourceURL, adminURL string, err error)

// CreateArgs is the periodic backup job (daily by default), on the
// maintenance queue; it prunes after a successful backup.
type CreateArgs struct{}

// Kind names the job in River.
func (CreateArgs) Kind() string { return "backup.create" }

// InsertOpts puts the job on the maintenance queue.
func (CreateArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: jobs.QueueMaintenance, MaxAttempts: 3}
}

// CreateWorker takes a backup, then prunes by Retention.
type CreateWorker struct {
	river.WorkerDefaults[CreateArgs]
	Backups   *Service
	Targets   Targets
	Retention Retention
}

// Timeout allows large databases.
func (w *CreateWorker) Timeout(*river.Job[CreateArgs]) time.Duration { return 6 * time.Hour }

// Work implements river.Worker.
func (w *CreateWorker) Work(ctx context.Context, _ *river.Job[CreateArgs]) error {
	source, _, err := w.Targets(ctx)
	if err != nil {
		return err
	}
	if _, err := w.Backups.Create(ctx, source); err != nil {
		return err
	}
	_, err = w.Backups.Prune(ctx, w.Retention, false)
	return err
}

// RehearseArgs is the periodic restore rehearsal (weekly by default).
type RehearseArgs struct{}

// Kind names the job in River.
func (RehearseArgs) Kind() string { return "backup.rehearse" }

// InsertOpts puts the job on the maintenance queue; a failed rehearsal is
// recorded and reported, not retried.
func (RehearseArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: jobs.QueueMaintenance, MaxAttempts: 1}
}

// RehearseWorker rehearses a restore of the newest complete backup.
type RehearseWorker struct {
	river.WorkerDefaults[RehearseArgs]
	Backups  *Service
	Targets  Targets
	Pool     *pgxpool.Pool // live database: outcomes are recorded here
	Reporter ErrorReporter
}

// Timeout allows large databases.
func (w *RehearseWorker) Timeout(*river.Job[RehearseArgs]) time.Duration { return 6 * time.Hour }

// Work implements river.Worker.
func (w *RehearseWorker) Work(ctx context.Context, _ *river.Job[RehearseArgs]) error {
	_, admin, err := w.Targets(ctx)
	if err != nil {
		return err
	}
	_, err = w.Backups.Rehearse(ctx, RehearseOptions{AdminURL: admin, Record: w.Pool, Reporter: w.Reporter})
	return err
}

// PeriodicJobs schedules a backup every backupEvery and a rehearsal every
// rehearseEvery (0 disables either).
func PeriodicJobs(backupEvery, rehearseEvery time.Duration) []*river.PeriodicJob {
	var out []*river.PeriodicJob
	if backupEvery > 0 {
		out = append(out, river.NewPeriodicJob(river.PeriodicInterval(backupEvery),
			func() (river.JobArgs, *river.InsertOpts) { return CreateArgs{}, nil },
			&river.PeriodicJobOpts{ID: "backup.create"}))
	}
	if rehearseEvery > 0 {
		out = append(out, river.NewPeriodicJob(river.PeriodicInterval(rehearseEvery),
			func() (river.JobArgs, *river.InsertOpts) { return RehearseArgs{}, nil },
			&river.PeriodicJobOpts{ID: "backup.rehearse"}))
	}
	return out
}

// Collector exposes backup metrics, read at scrape time (bounded by a
// short timeout): the newest complete backup from the store, the newest
// successful rehearsal from backup_rehearsals.
type Collector struct {
	backups *Service
	pool    *pgxpool.Pool
	logger  *slog.Logger

	lastBackup, lastRehearsal, rehearsalDuration *prometheus.Desc
}

// NewCollector returns the collector; pool is the live database.
func NewCollector(backups *Service, pool *pgxpool.Pool, logger *slog.Logger) *Collector {
	return &Collector{backups: backups, pool: pool, logger: logger,
		lastBackup: prometheus.NewDesc("groundwork_backup_last_success_timestamp_seconds",
			"When the newest complete logical backup finished (Unix time).", nil, nil),
		lastRehearsal: prometheus.NewDesc("groundwork_backup_rehearsal_last_success_timestamp_seconds",
			"When the newest successful restore rehearsal started (Unix time).", nil, nil),
		rehearsalDuration: prometheus.NewDesc("groundwork_backup_rehearsal_duration_seconds",
			"Measured recovery time of the newest successful restore rehearsal.", nil, nil),
	}
}

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.lastBackup
	ch <- c.lastRehearsal
	ch <- c.rehearsalDuration
}

// Collect implements prometheus.Collector. A metric that cannot be read is
// left out (and logged) rather than reported as zero.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if m, err := c.backups.Latest(ctx); err == nil {
		ch <- prometheus.MustNewConstMetric(c.lastBackup, prometheus.GaugeValue, float64(m.FinishedAt.UnixNano())/1e9)
	} else if c.logger != nil {
		c.logger.Debug("backup metrics: no complete backup", "error", err)
	}
	var at time.Time
	var ms int64
	err := c.pool.QueryRow(ctx, `SELECT started_at, duration_ms FROM backup_rehearsals WHERE ok ORDER BY started_at DESC LIMIT 1`).Scan(&at, &ms)
	if err == nil {
		ch <- prometheus.MustNewConstMetric(c.lastRehearsal, prometheus.GaugeValue, float64(at.UnixNano())/1e9)
		ch <- prometheus.MustNewConstMetric(c.rehearsalDuration, prometheus.GaugeValue, float64(ms)/1000)
	} else if c.logger != nil {
		c.logger.Debug("backup metrics: no successful rehearsal", "error", err)
	}
}
