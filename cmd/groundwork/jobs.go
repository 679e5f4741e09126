package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"time"

	"github.com/groundwork-dev/groundwork/internal/account"
	"github.com/groundwork-dev/groundwork/internal/backup"
	"github.com/groundwork-dev/groundwork/internal/config"
	"github.com/groundwork-dev/groundwork/internal/crypto"
	"github.com/groundwork-dev/groundwork/internal/errtrack"
	"github.com/groundwork-dev/groundwork/internal/gw"
	"github.com/groundwork-dev/groundwork/internal/jobs"
	"github.com/groundwork-dev/groundwork/internal/maintenance"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
)

// newJobClient registers every module's workers and periodic jobs and builds
// the River client; with work false it can only insert jobs. Job failures
// are reported to reporter (nil: not reported).
//
// With db set, the backup and restore-rehearsal jobs are registered too
// (when the backup store and key cannot be opened, they are left out with
// an error in the log).
func newJobClient(pool *pgxpool.Pool, svc *services, cfg config.Config, logger *slog.Logger, work bool, reporter *errtrack.Reporter, db *database) (*river.Client[pgx.Tx], error) {
	host, _ := os.Hostname()
	workers := river.NewWorkers()
	river.AddWorker(workers, &maintenance.HeartbeatWorker{
		Store:     maintenance.NewStore(pool),
		Clock:     gw.SystemClock{},
		Instance:  fmt.Sprintf("%s:%d", host, os.Getpid()),
		Retention: cfg.HeartbeatRetention,
		Logger:    logger,
	})
	river.AddWorker(workers, &account.PruneSessionsWorker{Accounts: svc.accounts})
	river.AddWorker(workers, &crypto.ReencryptWorker{Keys: svc.keys, Tables: svc.tables, Logger: logger})
	periodic := slices.Concat(maintenance.PeriodicJobs(), account.PeriodicJobs(), svc.billing.addJobs(workers, cfg, reporter))
	if db != nil {
		if backups, _, err := newBackups(context.Background(), cfg, logger); err != nil {
			logger.Error("backup jobs disabled", "error", err)
		} else {
			targets := backupTargets(cfg, db)
			river.AddWorker(workers, &backup.CreateWorker{Backups: backups, Targets: targets, Policy: backupPolicy(cfg)})
			river.AddWorker(workers, &backup.RehearseWorker{Backups: backups, Targets: targets, Pool: pool, Reporter: reporter})
			periodic = append(periodic, backup.PeriodicJobs(cfg.BackupInterval, cfg.BackupRehearsalInterval)...)
		}
		if cfg.Embedded() {
			// Point-in-time recovery (embedded cluster only): base backups and
			// rehearsals, which do nothing until "backup pitr setup" ran.
			river.AddWorker(workers, &backup.PitrBaseWorker{DataDir: cfg.DataDir, Logger: logger})
			river.AddWorker(workers, &backup.PitrRehearseWorker{DataDir: cfg.DataDir, Reporter: reporter, Logger: logger})
			periodic = append(periodic, backup.PitrPeriodicJobs(cfg.BackupInterval, cfg.BackupRehearsalInterval)...)
		}
	}
	billingWorkers := 0
	if svc.billing != nil {
		billingWorkers = cfg.Billing.Workers
	}
	client, err := jobs.NewClient(pool, jobs.Config{
		Work:               work,
		DefaultWorkers:     cfg.DefaultWorkers,
		MaintenanceWorkers: cfg.MaintenanceWorkers,
		BillingWorkers:     billingWorkers,
		Workers:            workers,
		Periodic:           periodic,
		Logger:             logger,
		Errors:             reporter,
	})
	if err == nil && svc.billing != nil {
		svc.billing.jobs.client = client
	}
	return client, err
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
