package imports

import (
	"context"
	"time"

	"github.com/riverqueue/river"
	"gocloud.dev/gcerrors"

	"github.com/groundwork-dev/groundwork/internal/jobs"
)

// maxAttempts is how many times an import is tried before it is marked failed.
const maxAttempts = 3

// ImportArgs is the job that reads and writes one import.
type ImportArgs struct {
	OrgID    string `json:"org_id"`
	ImportID string `json:"import_id"`
}

// Kind implements river.JobArgs.
func (ImportArgs) Kind() string { return "import" }

// InsertOpts puts imports on the exports' isolated queue, tried
// maxAttempts times.
func (ImportArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: jobs.QueueExports, MaxAttempts: maxAttempts}
}

// ImportWorker runs imports (Service.Run).
type ImportWorker struct {
	river.WorkerDefaults[ImportArgs]
	// Imports runs them.
	Imports *Service
}

// Timeout lets a large import run for hours, past the client's default
// job timeout.
func (w *ImportWorker) Timeout(*river.Job[ImportArgs]) time.Duration { return 12 * time.Hour }

// Work implements river.Worker.
func (w *ImportWorker) Work(ctx context.Context, job *river.Job[ImportArgs]) error {
	return w.Imports.Run(ctx, job.Args.OrgID, job.Args.ImportID, job.Attempt, job.MaxAttempts)
}

// gcerrNotFound reports whether err is a blob store's "not found".
func gcerrNotFound(err error) bool { return gcerrors.Code(err) == gcerrors.NotFound }
