package exports

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/riverqueue/river"
	"gocloud.dev/blob"
	"gocloud.dev/gcerrors"

	"github.com/groundwork-dev/groundwork/internal/gw"
	"github.com/groundwork-dev/groundwork/internal/jobs"
	"github.com/groundwork-dev/groundwork/internal/postgres"
)

// Orphaned files: an object under exports/ that no export should have
// any more — its export row is gone (its organisation was deleted, say),
// or it failed, was cancelled or expired and a crash came between its
// status and the deletion of its files. The periodic export_orphans job
// deletes such objects once they are older than Config.OrphanAge (a
// running export's files are never touched: its retry cleans them; a
// succeeded one's are the retention job's).

// OrphanSweepArgs is the periodic job that deletes orphaned export files.
type OrphanSweepArgs struct{}

// Kind implements river.JobArgs.
func (OrphanSweepArgs) Kind() string { return "export_orphans" }

// InsertOpts runs it on the maintenance queue.
func (OrphanSweepArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: jobs.QueueMaintenance, MaxAttempts: 3}
}

// OrphanSweepWorker deletes orphaned export files (Service.SweepOrphans).
type OrphanSweepWorker struct {
	river.WorkerDefaults[OrphanSweepArgs]
	// Exports sweeps them.
	Exports *Service
}

// Work implements river.Worker: it also gives the exports whose River job
// vanished to new jobs (Service.RecoverJobless).
func (w *OrphanSweepWorker) Work(ctx context.Context, _ *river.Job[OrphanSweepArgs]) error {
	_, err := w.Exports.SweepOrphans(ctx)
	_, jerr := w.Exports.RecoverJobless(ctx)
	return errors.Join(err, jerr)
}

// SweepOrphans deletes the objects under exports/ older than
// Config.OrphanAge whose export does not exist or has finished without
// files (failed, cancelled, expired), and returns how many it deleted.
// An object whose key names no export is deleted too.
func (s *Service) SweepOrphans(ctx context.Context) (int, error) {
	cutoff := s.now().Add(-s.cfg.OrphanAge)
	n := 0
	known := map[string]bool{} // "org/id": keep its files
	it := s.bucket.List(&blob.ListOptions{Prefix: "exports/"})
	for {
		obj, err := it.Next(ctx)
		if errors.Is(err, io.EOF) {
			return n, nil
		}
		if err != nil {
			return n, fmt.Errorf("list export files: %w", err)
		}
		if obj.IsDir || !obj.ModTime.Before(cutoff) {
			continue
		}
		parts := strings.SplitN(strings.TrimPrefix(obj.Key, "exports/"), "/", 3)
		if len(parts) == 3 && gw.ValidID(parts[0]) && gw.ValidID(parts[1]) {
			group := parts[0] + "/" + parts[1]
			keep, seen := known[group]
			if !seen {
				if keep, err = s.keepsFiles(ctx, parts[0], parts[1]); err != nil {
					return n, err
				}
				known[group] = keep
			}
			if keep {
				continue
			}
		}
		if err := s.bucket.Delete(ctx, obj.Key); err != nil && gcerrors.Code(err) != gcerrors.NotFound {
			return n, fmt.Errorf("delete orphaned export file: %w", err)
		}
		s.logger.Info("orphaned export file deleted", "key", obj.Key, "modified", obj.ModTime.UTC().Format(time.RFC3339))
		n++
	}
}

// keepsFiles reports whether export id of orgID exists and may have files:
// queued, running (a retry cleans its own) or succeeded (the retention job's).
func (s *Service) keepsFiles(ctx context.Context, orgID, id string) (bool, error) {
	e, err := getExport(ctx, postgres.Reader(s.exportPool, postgres.TxOptions{OrgID: orgID}), orgID, id)
	if gw.ErrorCode(postgres.Translate(err)) == gw.ENOTFOUND {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("look up export of a file: %w", postgres.Translate(err))
	}
	return e.Active() || e.Status == StatusSucceeded, nil
}
