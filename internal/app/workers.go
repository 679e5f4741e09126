package app

import (
	"fmt"
	"os"
	"slices"

	"github.com/riverqueue/river"

	"github.com/groundwork-dev/groundwork/internal/account"
	"github.com/groundwork-dev/groundwork/internal/audit"
	"github.com/groundwork-dev/groundwork/internal/crypto"
	"github.com/groundwork-dev/groundwork/internal/exports"
	"github.com/groundwork-dev/groundwork/internal/imports"
	"github.com/groundwork-dev/groundwork/internal/mail"
	"github.com/groundwork-dev/groundwork/internal/maintenance"
)

// AddWorkers registers the modules' job workers in workers (the emails of
// every module among them: mail.SendWorker) and returns their periodic
// jobs: the heartbeat, the audit sealer, session pruning, key rotation's re-encryption,
// exports and their retention and, with billing, webhook processing,
// outbox delivery and
// the reconciler. Backups are the database's concern and registered by the
// commands that know it.
func (a *App) AddWorkers(workers *river.Workers) []*river.PeriodicJob {
	host, _ := os.Hostname()
	river.AddWorker(workers, &maintenance.HeartbeatWorker{
		Store:     maintenance.NewStore(a.pool),
		Clock:     a.clock,
		Instance:  fmt.Sprintf("%s:%d", host, os.Getpid()),
		Retention: a.cfg.HeartbeatRetention,
		Logger:    a.logger,
	})
	river.AddWorker(workers, &mail.SendWorker{Keys: a.Keys, Sender: a.Mailer, Logger: a.logger})
	river.AddWorker(workers, &account.PruneSessionsWorker{Accounts: a.Accounts})
	river.AddWorker(workers, &crypto.ReencryptWorker{Keys: a.Keys, Tables: a.EncryptedTables(), Logger: a.logger})
	river.AddWorker(workers, &exports.ExportWorker{Exports: a.Exports})
	river.AddWorker(workers, &exports.RetentionWorker{Exports: a.Exports})
	river.AddWorker(workers, &exports.ScheduleWorker{Exports: a.Exports})
	river.AddWorker(workers, &exports.OrphanSweepWorker{Exports: a.Exports})
	river.AddWorker(workers, &exports.RecoveryWorker{Exports: a.Exports})
	river.AddWorker(workers, &imports.ImportWorker{Imports: a.Imports})
	river.AddWorker(workers, &imports.OrphanSweepWorker{Imports: a.Imports})
	river.AddWorker(workers, &audit.SealWorker{Sealer: a.AuditSealer})
	periodic := slices.Concat(maintenance.PeriodicJobs(), account.PeriodicJobs(), exports.PeriodicJobs(a.cfg.ExportStaleAfter), imports.PeriodicJobs(), audit.PeriodicJobs())
	if a.Billing != nil {
		periodic = append(periodic, a.Billing.addWorkers(workers, a.cfg.Billing)...)
	}
	return periodic
}
