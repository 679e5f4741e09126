package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/groundwork-dev/groundwork/internal/app"
	"github.com/groundwork-dev/groundwork/internal/backup"
	"github.com/groundwork-dev/groundwork/internal/config"
	"github.com/groundwork-dev/groundwork/internal/errtrack"
	"github.com/groundwork-dev/groundwork/internal/jobs"
	"go.opentelemetry.io/otel/trace"
)

// newJobClient builds the River client that works the jobs of serve and
// worker: every module's workers and periodic jobs (app.AddWorkers), and
// the backup, restore-rehearsal and (embedded cluster) point-in-time
// recovery jobs on backups. Job failures are reported to reporter; a
// non-nil tp traces every job.
func newJobClient(mods *app.App, db *database, backups *backup.Service, cfg config.Config, logger *slog.Logger, reporter *errtrack.Reporter, tp trace.TracerProvider) (*river.Client[pgx.Tx], error) {
	workers := river.NewWorkers()
	periodic := mods.AddWorkers(workers)

	targets := backupTargets(cfg, db)
	river.AddWorker(workers, &backup.CreateWorker{Backups: backups, Targets: targets, Retention: backupRetention(cfg)})
	river.AddWorker(workers, &backup.RehearseWorker{Backups: backups, Targets: targets, Pool: db.pool, Reporter: reporter})
	periodic = append(periodic, backup.PeriodicJobs(cfg.BackupInterval, cfg.BackupRehearsalInterval)...)
	if cfg.Embedded() {
		// Point-in-time recovery (embedded cluster only): base backups and
		// rehearsals, which do nothing until "backup pitr setup" ran.
		river.AddWorker(workers, &backup.PitrBaseWorker{DataDir: cfg.DataDir, Logger: logger})
		river.AddWorker(workers, &backup.PitrRehearseWorker{DataDir: cfg.DataDir, Reporter: reporter, Logger: logger})
		periodic = append(periodic, backup.PitrPeriodicJobs(cfg.BackupInterval, cfg.BackupRehearsalInterval)...)
	}
	billingWorkers := 0
	if mods.Billing != nil {
		billingWorkers = cfg.Billing.Workers
	}
	return jobs.NewClient(db.pool, jobs.Config{
		Work:               true,
		PollOnly:           cfg.TransactionPooled(),
		DefaultWorkers:     cfg.DefaultWorkers,
		MaintenanceWorkers: cfg.MaintenanceWorkers,
		BillingWorkers:     billingWorkers,
		ExportWorkers:      cfg.ExportWorkers,
		Workers:            workers,
		Periodic:           periodic,
		Logger:             logger,
		Errors:             reporter,
		TracerProvider:     tp,
	})
}

// stopJobs lets running jobs finish within the shutdown timeout, then cancels
// whatever still runs so that River releases those jobs for a retry.
func stopJobs(ctx context.Context, client *river.Client[pgx.Tx], cfg config.Config, logger *slog.Logger) {
	stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.ShutdownTimeout)
	defer cancel()
	if err := client.Stop(stopCtx); err == nil {
		return
	}
	logger.Warn("jobs still running at shutdown timeout; cancelling them")
	hardCtx, cancelHard := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancelHard()
	if err := client.StopAndCancel(hardCtx); err != nil {
		logger.Error("stop jobs", "error", err)
	}
}
