package maintenance

import (
	"context"
	"log/slog"
	"time"

	"github.com/groundwork-dev/groundwork/internal/gw"
	"github.com/groundwork-dev/groundwork/internal/jobs"
	"github.com/riverqueue/river"
)

// HeartbeatArgs is the periodic heartbeat job, run on the maintenance queue.
type HeartbeatArgs struct{}

// Kind names the job in River.
func (HeartbeatArgs) Kind() string { return "maintenance.heartbeat" }

// InsertOpts puts the job on the maintenance queue.
func (HeartbeatArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: jobs.QueueMaintenance, MaxAttempts: 3}
}

// HeartbeatWorker writes a heartbeat and prunes the expired ones.
type HeartbeatWorker struct {
	river.WorkerDefaults[HeartbeatArgs]
	Store     *Store
	Clock     gw.Clock
	Instance  string        // names this process in the heartbeat (host:pid)
	Retention time.Duration // heartbeats older than this are deleted
	Logger    *slog.Logger
}

// Work implements river.Worker.
func (w *HeartbeatWorker) Work(ctx context.Context, job *river.Job[HeartbeatArgs]) error {
	deleted, err := w.Store.Beat(ctx, w.Instance, w.Clock.Now(), w.Retention)
	if err != nil {
		return err
	}
	w.Logger.DebugContext(ctx, "heartbeat", "job_id", job.ID, "pruned", deleted)
	return nil
}

// PeriodicJobs returns the maintenance schedule: a heartbeat every minute,
// the first one as soon as a leader is elected.
func PeriodicJobs() []*river.PeriodicJob {
	return []*river.PeriodicJob{
		river.NewPeriodicJob(river.PeriodicInterval(time.Minute),
			func() (river.JobArgs, *river.InsertOpts) { return HeartbeatArgs{}, nil },
			&river.PeriodicJobOpts{ID: "maintenance.heartbeat", RunOnStart: true}),
	}
}
