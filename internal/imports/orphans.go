package imports

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"gocloud.dev/blob"

	"github.com/groundwork-dev/groundwork/internal/gw"
	"github.com/groundwork-dev/groundwork/internal/jobs"
	"github.com/groundwork-dev/groundwork/internal/postgres"
)

// Orphaned uploads: a file under imports/ whose import will never read it
// — stored, but the import row never committed (the server died between
// the two), or the import finished and a crash came before the file's
// deletion, or the import was abandoned: still queued or running longer
// than Config.OrphanAge (its job was lost or discarded). The periodic
// import_orphans job deletes them once older than Config.OrphanAge, and
// marks an abandoned import failed.

// abandonedMessage is the error of an import the sweep gave up on.
const abandonedMessage = "The import never finished and was abandoned; its file was deleted. Please import the file again."

// OrphanSweepArgs is the periodic job that deletes orphaned uploads.
type OrphanSweepArgs struct{}

// Kind implements river.JobArgs.
func (OrphanSweepArgs) Kind() string { return "import_orphans" }

// InsertOpts runs it on the maintenance queue.
func (OrphanSweepArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: jobs.QueueMaintenance, MaxAttempts: 3}
}

// OrphanSweepWorker deletes orphaned uploads (Service.SweepOrphans).
type OrphanSweepWorker struct {
	river.WorkerDefaults[OrphanSweepArgs]
	// Imports sweeps them.
	Imports *Service
}

// Work implements river.Worker.
func (w *OrphanSweepWorker) Work(ctx context.Context, _ *river.Job[OrphanSweepArgs]) error {
	_, err := w.Imports.SweepOrphans(ctx)
	return err
}

// PeriodicJobs schedules the orphaned uploads' sweep hourly.
func PeriodicJobs() []*river.PeriodicJob {
	return []*river.PeriodicJob{
		river.NewPeriodicJob(river.PeriodicInterval(time.Hour),
			func() (river.JobArgs, *river.InsertOpts) { return OrphanSweepArgs{}, nil }, nil),
	}
}

// SweepOrphans deletes the uploads older than Config.OrphanAge that no
// import will read — no import row, a finished import, or one still
// queued or running since before the cutoff, which it marks failed — and
// returns how many files it deleted.
func (s *Service) SweepOrphans(ctx context.Context) (int, error) {
	now := s.now()
	cutoff := now.Add(-s.cfg.OrphanAge)
	n := 0
	it := s.bucket.List(&blob.ListOptions{Prefix: "imports/"})
	for {
		obj, err := it.Next(ctx)
		if errors.Is(err, io.EOF) {
			return n, nil
		}
		if err != nil {
			return n, fmt.Errorf("list uploads: %w", err)
		}
		if obj.IsDir || !obj.ModTime.Before(cutoff) {
			continue
		}
		parts := strings.SplitN(strings.TrimPrefix(obj.Key, "imports/"), "/", 3)
		if len(parts) == 3 && gw.ValidID(parts[0]) && gw.ValidID(parts[1]) {
			keep, err := s.abandon(ctx, parts[0], parts[1], cutoff, now)
			if err != nil {
				return n, err
			}
			if keep {
				continue
			}
		}
		if err := s.bucket.Delete(ctx, obj.Key); err != nil && !gcerrNotFound(err) {
			return n, fmt.Errorf("delete orphaned upload: %w", err)
		}
		s.logger.Info("orphaned upload deleted", "key", obj.Key, "modified", obj.ModTime.UTC().Format(time.RFC3339))
		n++
	}
}

// abandon decides the fate of import id's upload: keep it (true) while
// the import is queued or running and younger than cutoff; otherwise the
// file goes, and an import still active since before cutoff is marked
// failed first.
func (s *Service) abandon(ctx context.Context, orgID, id string, cutoff, now time.Time) (bool, error) {
	keep := false
	err := postgres.InOrgTx(ctx, s.workPool, orgID, func(tx pgx.Tx) error {
		st, err := getImport(ctx, tx, orgID, id)
		if gw.ErrorCode(err) == gw.ENOTFOUND {
			return nil
		}
		if err != nil || !st.Active() {
			return err
		}
		if !st.CreatedAt.Before(cutoff) {
			keep = true
			return nil
		}
		s.logger.Warn("import abandoned", "org_id", orgID, "import_id", id, "status", st.Status)
		return abandonImport(ctx, tx, orgID, id, abandonedMessage, now)
	})
	if err != nil {
		return false, fmt.Errorf("look up import of an upload: %w", err)
	}
	return keep, nil
}
