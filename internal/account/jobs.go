package account

import (
	"context"
	"time"

	"github.com/groundwork-dev/groundwork/internal/jobs"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
)

// DeleteEndedSessions deletes expired sessions from the session store and
// their index rows, and returns how many sessions it deleted. The
// maintenance queue runs it hourly (PruneSessionsArgs).
func (s *Service) DeleteEndedSessions(ctx context.Context) (int64, error) {
	var n int64
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var err error
		n, err = deleteEndedSessions(ctx, tx, s.now(), pruneGrace)
		return err
	})
	return n, err
}

// PruneSessionsArgs is the hourly job that deletes ended sessions.
type PruneSessionsArgs struct{}

// Kind names the job in River.
func (PruneSessionsArgs) Kind() string { return "account.prune_sessions" }

// InsertOpts puts the job on the maintenance queue.
func (PruneSessionsArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: jobs.QueueMaintenance, MaxAttempts: 3}
}

// PruneSessionsWorker runs PruneSessionsArgs.
type PruneSessionsWorker struct {
	river.WorkerDefaults[PruneSessionsArgs]
	Accounts *Service
}

// Work implements river.Worker.
func (w *PruneSessionsWorker) Work(ctx context.Context, _ *river.Job[PruneSessionsArgs]) error {
	_, err := w.Accounts.DeleteEndedSessions(ctx)
	return err
}

// PeriodicJobs returns the account module's schedule: ended sessions are
// deleted every hour.
func PeriodicJobs() []*river.PeriodicJob {
	return []*river.PeriodicJob{
		river.NewPeriodicJob(river.PeriodicInterval(time.Hour),
			func() (river.JobArgs, *river.InsertOpts) { return PruneSessionsArgs{}, nil },
			&river.PeriodicJobOpts{ID: "account.prune_sessions", RunOnStart: true}),
	}
}
