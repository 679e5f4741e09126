// Package imports imports contacts from CSV files, off the request path.
//
// An upload (Service.Start) is streamed straight into the blob store as a
// temporary object, never held whole in memory; the import is recorded
// and its job enqueued in one transaction. The job (ImportWorker) runs on
// the exports' queue (jobs.QueueExports) and their own connection pool, so
// that a huge file cannot take the interactive app's connections. It reads
// the file twice, streaming: a first pass validates every row with the
// contacts module's own rules (contacts.Validate, those of the API) and
// the CSV syntax; a second one writes the valid rows in batches, under the
// plan's contact limit (contacts.Service.ReserveTx). In all_or_nothing
// mode one bad row (or the limit) means nothing is written, and the
// report lists every rejected row; in skip_invalid mode the valid rows are
// written batch by batch, each batch committing with its rejected rows and
// the line it reached, so that a retry resumes after it.
package imports

import (
	"time"
)

// Modes of an import.
const (
	ModeAllOrNothing = "all_or_nothing" // any rejected row and nothing is written
	ModeSkipInvalid  = "skip_invalid"   // the valid rows are written; the others reported
)

// Statuses of an import.
const (
	StatusQueued    = "queued"    // waiting for a worker
	StatusRunning   = "running"   // being read (or waiting for a retry)
	StatusSucceeded = "succeeded" // done; RowsImported were written, RowsRejected reported
	StatusFailed    = "failed"    // nothing more will be written; Error says why
)

// maxReported is how many rejected rows an import's report keeps; the
// count (RowsRejected) goes on.
const maxReported = 1000

// Import is one CSV file of contacts being imported into an organisation.
type Import struct {
	// ID is a UUIDv7.
	ID string
	// OrgID is the organisation the contacts go to.
	OrgID string
	// UserID or APIKeyID is who uploaded it.
	UserID, APIKeyID string
	// Mode is ModeAllOrNothing or ModeSkipInvalid.
	Mode string
	// FileName is the uploaded file's name, for the page; Bytes its size.
	FileName string
	Bytes    int64
	// Status is one of the Status constants.
	Status string
	// BytesRead is how far the job has read the file (for progress).
	BytesRead int64
	// RowsTotal counts the file's data rows, once validated.
	RowsTotal int64
	// RowsImported counts the contacts written; RowsRejected the rows not
	// written, each with a reason (the first 1,000 in Rejected).
	RowsImported, RowsRejected int64
	// Rejected are the first rejected rows, in line order.
	Rejected []Rejection
	// Error says why the import failed; "" otherwise.
	Error string
	// CreatedAt is when it was uploaded.
	CreatedAt time.Time
	// StartedAt and FinishedAt are nil until they happen.
	StartedAt, FinishedAt *time.Time
}

// Rejection is a row of the file that was not imported, and why.
type Rejection struct {
	// Line is where the row starts in the file; the header is line 1.
	Line int `json:"line"`
	// Messages say what is wrong, one per field ("email: Enter a valid
	// email address.").
	Messages []string `json:"messages"`
}

// Active reports whether i is queued or running.
func (i Import) Active() bool { return i.Status == StatusQueued || i.Status == StatusRunning }

// Percent is i's progress, 0 to 100, by bytes of the file read by the
// writing pass (100 once finished).
func (i Import) Percent() int {
	switch {
	case !i.Active():
		return 100
	case i.Bytes <= 0:
		return 0
	}
	return int(min(100, i.BytesRead*100/i.Bytes))
}
