package exports

import (
	"slices"
	"strings"
	"time"

	"github.com/groundwork-dev/groundwork/internal/gw"
)

// Tables an export may hold.
const (
	TableContacts    = "contacts"
	TableMembers     = "members"
	TableAuditEvents = "audit_events"
)

// AllTables are the tables an export may hold, in the order they are written.
var AllTables = []string{TableContacts, TableMembers, TableAuditEvents}

// Formats of an export's files.
const (
	FormatCSV   = "csv"   // RFC 4180 with a header row; lists and objects as JSON
	FormatJSONL = "jsonl" // JSON Lines: one object per row
)

// Packagings of an export.
const (
	PackagingGzip = "gzip" // one <table>.<format>.gz file per table
	PackagingZip  = "zip"  // one export.zip holding <table>.<format> files
)

// Statuses of an export.
const (
	StatusQueued    = "queued"    // waiting for a worker
	StatusRunning   = "running"   // being written (or waiting for a retry)
	StatusSucceeded = "succeeded" // its files may be downloaded until ExpiresAt
	StatusFailed    = "failed"    // gave up after its last attempt; no files
	StatusCancelled = "cancelled" // cancelled by a member; no files
	StatusExpired   = "expired"   // its files were deleted by the retention job
)

// Export is one export of an organisation's data.
type Export struct {
	// ID is a UUIDv7.
	ID string
	// OrgID is the organisation whose data it holds.
	OrgID string
	// RequestedBy names who asked: a user's or API key's ID.
	RequestedBy string
	// Format is FormatCSV or FormatJSONL; Packaging PackagingGzip or PackagingZip.
	Format, Packaging string
	// Tables are the tables it holds, in AllTables order.
	Tables []string
	// Status is one of the Status constants.
	Status string
	// RowsWritten counts the rows written so far, of RowsEstimated (the
	// tables' row counts when the export started).
	RowsWritten, RowsEstimated int64
	// Files are the files written, once it succeeded.
	Files []File
	// Error says why it failed; "" otherwise.
	Error string
	// CreatedAt is when it was requested.
	CreatedAt time.Time
	// StartedAt, FinishedAt and ExpiresAt are nil until they happen.
	StartedAt, FinishedAt, ExpiresAt *time.Time
	// ReadFrom says where its data was read: "" before it ran, "primary"
	// (no replica), "replica", or "primary: replica lagging 42s" (or
	// "primary: replica unavailable") when the replica could not be used.
	ReadFrom string

	// attempt is how many attempts started it (the latest's fencing token).
	attempt int
	// filesAttempt is the attempt whose files it kept (0: files written
	// before attempts had directories of their own).
	filesAttempt int
}

// File is one file of an export in the blob store, under the directory of
// the attempt that wrote it (objectKey).
type File struct {
	// Name is the file's name, e.g. "contacts.csv.gz".
	Name string `json:"name"`
	// Rows is the number of rows it holds (of every table, in a zip).
	Rows int64 `json:"rows"`
	// Bytes is its size in the store.
	Bytes int64 `json:"bytes"`
}

// Active reports whether e is queued or running.
func (e Export) Active() bool { return e.Status == StatusQueued || e.Status == StatusRunning }

// Percent is the progress of e, 0 to 100 (100 once it succeeded).
func (e Export) Percent() int {
	switch {
	case e.Status == StatusSucceeded:
		return 100
	case e.RowsEstimated <= 0:
		return 0
	}
	return int(min(100, e.RowsWritten*100/e.RowsEstimated))
}

// Request says what to export.
type Request struct {
	// Tables to export; empty for AllTables.
	Tables []string
	// Format is FormatCSV (default) or FormatJSONL.
	Format string
	// Packaging is PackagingGzip (default) or PackagingZip.
	Packaging string
}

// normalize fills r's defaults and checks it: EINVALID with Fields.
func (r Request) normalize() (Request, error) {
	fields := map[string]string{}
	if r.Format == "" {
		r.Format = FormatCSV
	}
	if r.Packaging == "" {
		r.Packaging = PackagingGzip
	}
	if r.Format != FormatCSV && r.Format != FormatJSONL {
		fields["format"] = "Choose csv or jsonl."
	}
	if r.Packaging != PackagingGzip && r.Packaging != PackagingZip {
		fields["packaging"] = "Choose gzip or zip."
	}
	var tables []string
	for _, t := range AllTables {
		if len(r.Tables) == 0 || slices.Contains(r.Tables, t) {
			tables = append(tables, t)
		}
	}
	for _, t := range r.Tables {
		if !slices.Contains(AllTables, t) {
			fields["tables"] = "Choose among " + strings.Join(AllTables, ", ") + "."
		}
	}
	r.Tables = tables
	if len(fields) > 0 {
		return r, &gw.Error{Code: gw.EINVALID, Message: "The export request is invalid.", Fields: fields}
	}
	return r, nil
}

// fileName is the name of table's file in an export of format and packaging.
func fileName(table, format, packaging string) string {
	if packaging == PackagingZip {
		return table + "." + format
	}
	return table + "." + format + ".gz"
}
