package backup

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/riverqueue/river"

	"github.com/groundwork-dev/groundwork/internal/jobs"
)

// PitrBaseArgs is the periodic pgBackRest base backup (daily by default):
// full weekly, differential otherwise. It does nothing until
// "groundwork backup pitr setup" has run on the data dir.
type PitrBaseArgs struct{}

// Kind names the job in River.
func (PitrBaseArgs) Kind() string { return "backup.pitr_base" }

// InsertOpts puts the job on the maintenance queue.
func (PitrBaseArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: jobs.QueueMaintenance, MaxAttempts: 3}
}

// PitrBaseWorker takes the base backup of the embedded cluster in DataDir.
type PitrBaseWorker struct {
	river.WorkerDefaults[PitrBaseArgs]
	DataDir string
	Logger  *slog.Logger
}

// Timeout allows large databases.
func (w *PitrBaseWorker) Timeout(*river.Job[PitrBaseArgs]) time.Duration { return 6 * time.Hour }

// Work implements river.Worker.
func (w *PitrBaseWorker) Work(ctx context.Context, _ *river.Job[PitrBaseArgs]) error {
	_, err := PitrBaseBackup(ctx, w.DataDir, PitrFullEvery, w.Logger)
	if errors.Is(err, ErrPitrNotConfigured) {
		return nil
	}
	return err
}

// PitrRehearseArgs is the periodic point-in-time recovery rehearsal (weekly
// by default): a restore to five minutes ago whose newest heartbeat must be
// within PitrRPO. It does nothing until PITR is set up.
type PitrRehearseArgs struct{}

// Kind names the job in River.
func (PitrRehearseArgs) Kind() string { return "backup.pitr_rehearse" }

// InsertOpts puts the job on the maintenance queue; a failed rehearsal is
// recorded and reported, not retried.
func (PitrRehearseArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: jobs.QueueMaintenance, MaxAttempts: 1}
}

// PitrRehearseWorker rehearses a point-in-time restore of DataDir's cluster
// and reports a failure (a missed RPO included) to Reporter.
type PitrRehearseWorker struct {
	river.WorkerDefaults[PitrRehearseArgs]
	DataDir  string
	Reporter ErrorReporter
	Logger   *slog.Logger
}

// Timeout allows large databases.
func (w *PitrRehearseWorker) Timeout(*river.Job[PitrRehearseArgs]) time.Duration {
	return 6 * time.Hour
}

// Work implements river.Worker.
func (w *PitrRehearseWorker) Work(ctx context.Context, _ *river.Job[PitrRehearseArgs]) error {
	if _, err := pitrRunnerFor(w.DataDir, nil); errors.Is(err, ErrPitrNotConfigured) {
		return nil
	}
	_, err := PitrRehearse(ctx, w.DataDir, time.Now().Add(-5*time.Minute), PitrRPO, w.Logger)
	if err != nil {
		err = fmt.Errorf("PITR rehearsal: %w", err)
		if w.Reporter != nil {
			w.Reporter.CaptureError(ctx, err)
		}
	}
	return err
}

// PitrPeriodicJobs schedules a base backup every baseEvery and a PITR
// rehearsal every rehearseEvery (0 disables either).
func PitrPeriodicJobs(baseEvery, rehearseEvery time.Duration) []*river.PeriodicJob {
	var out []*river.PeriodicJob
	if baseEvery > 0 {
		out = append(out, river.NewPeriodicJob(river.PeriodicInterval(baseEvery),
			func() (river.JobArgs, *river.InsertOpts) { return PitrBaseArgs{}, nil },
			&river.PeriodicJobOpts{ID: "backup.pitr_base"}))
	}
	if rehearseEvery > 0 {
		out = append(out, river.NewPeriodicJob(river.PeriodicInterval(rehearseEvery),
			func() (river.JobArgs, *river.InsertOpts) { return PitrRehearseArgs{}, nil },
			&river.PeriodicJobOpts{ID: "backup.pitr_rehearse"}))
	}
	return out
}
