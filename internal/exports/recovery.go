package exports

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/groundwork-dev/groundwork/internal/gw"
	"github.com/groundwork-dev/groundwork/internal/jobs"
	"github.com/groundwork-dev/groundwork/internal/postgres"
)

// A worker that dies. River gives a running job back to the queue only
// once its timeout has passed (12 hours for an export) and then its stuck
// job rescuer's horizon: far too late for an export someone waits for.
// So an attempt records a heartbeat on its export (every StaleAfter/4, and
// with every progress record), and the periodic export_recovery job looks
// at River's running export jobs: one whose export has not beaten for
// Config.StaleAfter is dead. In one transaction, with the export's row
// locked, the recovery asks River to cancel that job (a worker still alive
// sees its context cancelled; a dead one's job is moved to cancelled by
// River's rescuer, never retried) and gives the export to a new job with
// the attempts left; or marks it failed when none is left.
//
// Two attempts never both write: every write of an attempt names its
// number (the row's attempts, which each start increments) and status
// running, so a zombie — an attempt taken for dead that is still alive —
// has its progress, heartbeat, success and failure refused from the moment
// the recovery requeues the export, and stops at its next record (within
// 10,000 rows or StaleAfter/4); and it writes its files under a directory
// of its own (objectKey), so it cannot replace the new attempt's.

// DefaultStaleAfter is how long an export's attempt may go without a
// heartbeat before it is taken for dead (Config.StaleAfter).
const DefaultStaleAfter = 2 * time.Minute

// RecoveryArgs is the periodic job that gives the exports of dead workers
// to new jobs.
type RecoveryArgs struct{}

// Kind implements river.JobArgs.
func (RecoveryArgs) Kind() string { return "export_recovery" }

// InsertOpts runs it on the maintenance queue, once: it runs again soon.
func (RecoveryArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: jobs.QueueMaintenance, MaxAttempts: 1}
}

// RecoveryWorker gives the exports of dead workers to new jobs
// (Service.RecoverStalled).
type RecoveryWorker struct {
	river.WorkerDefaults[RecoveryArgs]
	// Exports recovers them.
	Exports *Service
}

// Work implements river.Worker.
func (w *RecoveryWorker) Work(ctx context.Context, _ *river.Job[RecoveryArgs]) error {
	_, err := w.Exports.RecoverStalled(ctx)
	return err
}

// RecoveryInterval is how often the export_recovery job runs for a
// StaleAfter: a quarter of it, between 1 and 30 seconds.
func RecoveryInterval(staleAfter time.Duration) time.Duration {
	return min(max(staleAfter/4, time.Second), 30*time.Second)
}

// RecoverStalled looks at every running export job: one whose export's
// attempt has not beaten for Config.StaleAfter (or that has not started
// its export that long after it was fetched) is cancelled, and its export
// given to a new job with the attempts left, or marked failed without
// files when none is left. A running job whose export has finished
// (its worker died after the last write) is cancelled. It returns how many
// exports it requeued or failed.
func (s *Service) RecoverStalled(ctx context.Context) (int, error) {
	res, err := s.jobs.JobList(ctx, river.NewJobListParams().Kinds(ExportArgs{}.Kind()).
		States(rivertype.JobStateRunning).First(10_000))
	if err != nil {
		return 0, fmt.Errorf("list running export jobs: %w", err)
	}
	n := 0
	var errs []error
	for _, job := range res.Jobs {
		if cancelRequested(job) {
			continue // already recovered (or cancelled): its export is another job's
		}
		var args ExportArgs
		if err := json.Unmarshal(job.EncodedArgs, &args); err != nil || !gw.ValidID(args.OrgID) || !gw.ValidID(args.ExportID) {
			s.logger.Warn("export job with malformed arguments", "job_id", job.ID)
			continue
		}
		recovered, err := s.recoverJob(ctx, job, args)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if recovered {
			n++
		}
	}
	return n, errors.Join(errs...)
}

// cancelRequested reports whether job was asked to cancel (River records
// when in its metadata).
func cancelRequested(job *rivertype.JobRow) bool {
	var meta struct {
		CancelAttemptedAt *time.Time `json:"cancel_attempted_at"`
	}
	return json.Unmarshal(job.Metadata, &meta) == nil && meta.CancelAttemptedAt != nil
}

// recoverJob recovers job's export if its attempt is dead (RecoverStalled)
// and reports whether it requeued or failed it.
func (s *Service) recoverJob(ctx context.Context, job *rivertype.JobRow, args ExportArgs) (bool, error) {
	now := s.now()
	cutoff := now.Add(-s.cfg.StaleAfter)
	fetchedLongAgo := job.AttemptedAt != nil && job.AttemptedAt.Before(cutoff)
	var failed, requeued bool
	var attempts int
	err := postgres.InOrgTx(ctx, s.pool, args.OrgID, func(tx pgx.Tx) error {
		st, ok, err := lockExportState(ctx, tx, args.OrgID, args.ExportID)
		if err != nil {
			return err
		}
		attempts = st.attempts
		var dead bool
		switch {
		case !ok || !(st.status == StatusQueued || st.status == StatusRunning):
			// Gone or finished: a worker that died after its last write.
			if fetchedLongAgo {
				_, err := s.jobs.JobCancelTx(ctx, tx, job.ID)
				return err
			}
			return nil
		case st.status == StatusQueued:
			dead = fetchedLongAgo // fetched, never started
		default:
			dead = st.heartbeat == nil || st.heartbeat.Before(cutoff)
		}
		if !dead {
			return nil
		}
		if _, err := s.jobs.JobCancelTx(ctx, tx, job.ID); err != nil {
			return fmt.Errorf("cancel a dead export job: %w", err)
		}
		requeued, failed, err = s.giveToNewJob(ctx, tx, args, st, now)
		return err
	})
	if err != nil {
		return false, fmt.Errorf("recover export %s: %w", args.ExportID, err)
	}
	return s.reportRecovery(ctx, args, requeued, failed, "export's worker stopped beating",
		"job_id", job.ID, "attempts", attempts, "stale_after", s.cfg.StaleAfter.String())
}

// reportRecovery logs what a recovery did to args' export, for cause
// (with attrs), and deletes the files of one it marked failed; it
// reports whether the export was requeued or failed.
func (s *Service) reportRecovery(ctx context.Context, args ExportArgs, requeued, failed bool, cause string, attrs ...any) (bool, error) {
	attrs = append([]any{"org_id", args.OrgID, "export_id", args.ExportID}, attrs...)
	switch {
	case requeued:
		s.logger.Warn(cause+": export requeued", attrs...)
	case failed:
		s.logger.Warn(cause+" on its last attempt: export failed", attrs...)
		if err := s.deleteFiles(ctx, args.OrgID, args.ExportID); err != nil {
			return true, err
		}
	}
	return requeued || failed, nil
}

// giveToNewJob, in tx with st's export row locked, gives the export to a
// new River job with the attempts left (requeued), or marks it failed
// without files when none is left (failed; its files are the caller's to
// delete after commit).
func (s *Service) giveToNewJob(ctx context.Context, tx pgx.Tx, args ExportArgs, st staleExport, now time.Time) (requeued, failed bool, err error) {
	if left := maxAttempts - st.attempts; left > 0 {
		if err := requeueExport(ctx, tx, args.OrgID, args.ExportID); err != nil {
			return false, false, err
		}
		_, err := s.jobs.InsertTx(ctx, tx, args, &river.InsertOpts{MaxAttempts: left})
		return err == nil, false, err
	}
	_, err = tx.Exec(ctx, `UPDATE exports SET status = 'failed', error = $3, files = '[]', finished_at = $4
		WHERE org_id = $1 AND id = $2 AND status IN ('queued', 'running')`, args.OrgID, args.ExportID,
		"The export's worker stopped; please try again. If it fails again, contact support.", now)
	return false, err == nil, err
}

// An export whose job is gone. RecoverStalled starts from River's running
// jobs, so an export whose River job vanished altogether (deleted by hand,
// say) would stay queued or running for ever. RecoverJobless, run with the
// hourly sweep of orphaned files, finds them from the other side.

// liveJobStates are the states of a River job that may still work its
// export.
var liveJobStates = []string{string(rivertype.JobStateAvailable), string(rivertype.JobStatePending),
	string(rivertype.JobStateRetryable), string(rivertype.JobStateRunning), string(rivertype.JobStateScheduled)}

// RecoverJobless gives every export that is queued or running with no
// River job left to work it to a new job with the attempts left, or marks
// it failed when none is left, and returns how many. An export is looked
// at once it has been quiet for Config.StaleAfter (no heartbeat since, or
// none at all and created before); it is recovered only if, with its row
// locked, River holds no job of it that may still run and was not asked
// to cancel. Every recovery locks the row first, so two never both give
// an export a new job.
func (s *Service) RecoverJobless(ctx context.Context) (int, error) {
	cutoff := s.now().Add(-s.cfg.StaleAfter)
	n := 0
	// The walk reads on the exports' pool, as RunSchedules does: visiting
	// every organisation takes none of the interactive pool's connections.
	err := postgres.EachOrg(ctx, postgres.Reader(s.exportPool, postgres.TxOptions{}), func(orgID string) error {
		rows, _ := postgres.Reader(s.exportPool, postgres.TxOptions{OrgID: orgID}).Query(ctx, `SELECT id::text FROM exports
			WHERE org_id = $1 AND status IN ('queued', 'running') AND COALESCE(heartbeat_at, created_at) < $2`, orgID, cutoff)
		ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return fmt.Errorf("list quiet exports: %w", err)
		}
		for _, id := range ids {
			ok, err := s.recoverJobless(ctx, ExportArgs{OrgID: orgID, ExportID: id})
			if err != nil {
				return err
			}
			if ok {
				n++
			}
		}
		return nil
	})
	return n, err
}

// recoverJobless recovers args' export if it is queued or running and
// River holds no live job of it (RecoverJobless), and reports whether it
// requeued or failed it.
func (s *Service) recoverJobless(ctx context.Context, args ExportArgs) (bool, error) {
	now := s.now()
	var requeued, failed bool
	var attempts int
	err := postgres.InOrgTx(ctx, s.pool, args.OrgID, func(tx pgx.Tx) error {
		st, ok, err := lockExportState(ctx, tx, args.OrgID, args.ExportID)
		if err != nil || !ok || !(st.status == StatusQueued || st.status == StatusRunning) {
			return err
		}
		attempts = st.attempts
		var live bool
		err = tx.QueryRow(ctx, `SELECT EXISTS (SELECT FROM river_job WHERE kind = $1 AND args @> $2
			AND state::text = ANY($3) AND NOT metadata ? 'cancel_attempted_at')`,
			args.Kind(), map[string]string{"export_id": args.ExportID}, liveJobStates).Scan(&live)
		if err != nil || live {
			return err
		}
		requeued, failed, err = s.giveToNewJob(ctx, tx, args, st, now)
		return err
	})
	if err != nil {
		return false, fmt.Errorf("recover jobless export %s: %w", args.ExportID, err)
	}
	return s.reportRecovery(ctx, args, requeued, failed, "export had no job left", "attempts", attempts)
}

// heartbeat records, every Config.StaleAfter/4 until stop is called, that
// e's attempt is alive. The context it returns is ctx's, cancelled with
// errStopped once a beat is refused (the export was cancelled, or given to
// another attempt). A beat that fails (the database away for a moment) is
// logged and tried again at the next tick.
func (s *Service) heartbeat(ctx context.Context, e Export) (hctx context.Context, stop func()) {
	hctx, cancel := context.WithCancelCause(ctx)
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(max(s.cfg.StaleAfter/4, 10*time.Millisecond))
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-hctx.Done():
				return
			case <-t.C:
			}
			var alive bool
			err := postgres.InOrgTx(hctx, s.exportPool, e.OrgID, func(tx pgx.Tx) error {
				var err error
				alive, err = beat(hctx, tx, e.OrgID, e.ID, e.attempt, s.now())
				return err
			})
			switch {
			case err == nil && !alive:
				cancel(errStopped)
				return
			case err != nil && hctx.Err() == nil:
				s.logger.Warn("export heartbeat", "org_id", e.OrgID, "export_id", e.ID, "error", err.Error())
			}
		}
	})
	return hctx, func() {
		close(done)
		wg.Wait()
		cancel(nil)
	}
}
