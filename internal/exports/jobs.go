package exports

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/groundwork-dev/groundwork/internal/jobs"
	"github.com/groundwork-dev/groundwork/internal/postgres"
)

// maxAttempts is how many times an export is tried before it is marked failed.
const maxAttempts = 3

// ExportArgs is the job that writes one export.
type ExportArgs struct {
	OrgID    string `json:"org_id"`
	ExportID string `json:"export_id"`
}

// Kind implements river.JobArgs.
func (ExportArgs) Kind() string { return "export" }

// InsertOpts puts exports on their own queue, tried maxAttempts times.
func (ExportArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: jobs.QueueExports, MaxAttempts: maxAttempts}
}

// ExportWorker writes exports (Service.Run).
type ExportWorker struct {
	river.WorkerDefaults[ExportArgs]
	// Exports runs them.
	Exports *Service
}

// Timeout lets a large export run for hours, past the client's default
// job timeout; progress and cancellation are per batch.
func (w *ExportWorker) Timeout(*river.Job[ExportArgs]) time.Duration { return 12 * time.Hour }

// Work implements river.Worker.
func (w *ExportWorker) Work(ctx context.Context, job *river.Job[ExportArgs]) error {
	return w.Exports.Run(ctx, job.Args.OrgID, job.Args.ExportID, job.Attempt, job.MaxAttempts)
}

// RetentionArgs is the periodic job that deletes expired exports' files.
type RetentionArgs struct{}

// Kind implements river.JobArgs.
func (RetentionArgs) Kind() string { return "export_retention" }

// InsertOpts runs retention on the maintenance queue.
func (RetentionArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: jobs.QueueMaintenance, MaxAttempts: 3}
}

// RetentionWorker deletes the files of exports past their retention
// (Service.Expire).
type RetentionWorker struct {
	river.WorkerDefaults[RetentionArgs]
	// Exports expires them.
	Exports *Service
}

// Work implements river.Worker.
func (w *RetentionWorker) Work(ctx context.Context, _ *river.Job[RetentionArgs]) error {
	_, err := w.Exports.Expire(ctx)
	return err
}

// ScheduleArgs is the periodic job that requests the scheduled exports
// that are due.
type ScheduleArgs struct{}

// Kind implements river.JobArgs.
func (ScheduleArgs) Kind() string { return "export_schedules" }

// InsertOpts runs it on the maintenance queue (the exports it requests run
// on theirs).
func (ScheduleArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: jobs.QueueMaintenance, MaxAttempts: 3}
}

// ScheduleWorker requests the scheduled exports that are due
// (Service.RunSchedules).
type ScheduleWorker struct {
	river.WorkerDefaults[ScheduleArgs]
	// Exports requests them.
	Exports *Service
}

// Work implements river.Worker.
func (w *ScheduleWorker) Work(ctx context.Context, _ *river.Job[ScheduleArgs]) error {
	_, err := w.Exports.RunSchedules(ctx)
	return err
}

// scheduleInterval is how often the due schedules are looked for: an
// export scheduled at an hour is requested within this of it.
const scheduleInterval = 5 * time.Minute

// PeriodicJobs schedules the retention job and the orphaned files' sweep
// hourly, the scheduled exports' job every five minutes, and the recovery
// of dead workers' exports every RecoveryInterval(staleAfter) (0:
// DefaultStaleAfter), also as soon as a client becomes the leader.
func PeriodicJobs(staleAfter time.Duration) []*river.PeriodicJob {
	if staleAfter <= 0 {
		staleAfter = DefaultStaleAfter
	}
	return []*river.PeriodicJob{
		river.NewPeriodicJob(river.PeriodicInterval(RecoveryInterval(staleAfter)),
			func() (river.JobArgs, *river.InsertOpts) { return RecoveryArgs{}, nil },
			&river.PeriodicJobOpts{RunOnStart: true}),
		river.NewPeriodicJob(river.PeriodicInterval(time.Hour),
			func() (river.JobArgs, *river.InsertOpts) { return RetentionArgs{}, nil }, nil),
		river.NewPeriodicJob(river.PeriodicInterval(scheduleInterval),
			func() (river.JobArgs, *river.InsertOpts) { return ScheduleArgs{}, nil }, nil),
		river.NewPeriodicJob(river.PeriodicInterval(time.Hour),
			func() (river.JobArgs, *river.InsertOpts) { return OrphanSweepArgs{}, nil }, nil),
	}
}

// Expire deletes the files of every organisation's exports whose retention
// ended and marks them expired; it returns how many it expired.
func (s *Service) Expire(ctx context.Context) (int, error) {
	n := 0
	err := postgres.EachOrg(ctx, postgres.Reader(s.pool, postgres.TxOptions{}), func(orgID string) error {
		var ids []string
		err := postgres.InOrgTx(ctx, s.pool, orgID, func(tx pgx.Tx) error {
			var err error
			ids, err = expiredExports(ctx, tx, orgID, s.now())
			return err
		})
		if err != nil {
			return err
		}
		for _, id := range ids {
			if err := s.deleteFiles(ctx, orgID, id); err != nil {
				return err
			}
			if err := postgres.InOrgTx(ctx, s.pool, orgID, func(tx pgx.Tx) error {
				return expireExport(ctx, tx, orgID, id)
			}); err != nil {
				return fmt.Errorf("expire export: %w", err)
			}
			n++
		}
		return nil
	})
	return n, err
}
