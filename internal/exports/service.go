package exports

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"gocloud.dev/blob"
	"gocloud.dev/gcerrors"

	"github.com/groundwork-dev/groundwork/internal/audit"
	"github.com/groundwork-dev/groundwork/internal/authz"
	"github.com/groundwork-dev/groundwork/internal/crypto"
	"github.com/groundwork-dev/groundwork/internal/gw"
	"github.com/groundwork-dev/groundwork/internal/idempotency"
	"github.com/groundwork-dev/groundwork/internal/mail"
	"github.com/groundwork-dev/groundwork/internal/postgres"
)

// Inserter enqueues jobs inside a transaction, and lists and cancels them
// (a *river.Client[pgx.Tx]): the recovery of a dead worker's export
// (RecoverStalled) finds its running job, cancels it and enqueues another.
type Inserter interface {
	InsertTx(ctx context.Context, tx pgx.Tx, args river.JobArgs, opts *river.InsertOpts) (*rivertype.JobInsertResult, error)
	JobList(ctx context.Context, params *river.JobListParams) (*river.JobListResult, error)
	JobCancelTx(ctx context.Context, tx pgx.Tx, jobID int64) (*rivertype.JobRow, error)
}

// Config tunes a Service.
type Config struct {
	// Retention is how long a finished export's files are kept. Default 7 days.
	Retention time.Duration
	// LinkTTL is how long a download link works. Default 1 hour.
	LinkTTL time.Duration
	// Logger receives the jobs' logs. Nil discards them.
	Logger *slog.Logger
	// Outbox queues the email that tells the member who requested an
	// export (or set its schedule) that it is ready, in the transaction
	// that marks it succeeded. Nil sends no email.
	Outbox Outbox
	// BaseURL is the app's external URL, for the link in that email.
	BaseURL string
	// OrphanAge is how old an orphaned file (SweepOrphans) must be before
	// it is deleted. Default 24 hours.
	OrphanAge time.Duration
	// Replica, when not nil, is a streaming read replica: exports read
	// their data there while it lags by at most its MaxLag (readPool).
	Replica *postgres.Replica
	// APIKeys lets a schedule set through the API (by an API key) run
	// while its key is live and may export. Nil skips such schedules.
	APIKeys APIKeySource
	// MaxRowsPerSec paces an export (all its tables together) to at most
	// this many rows a second while the app is busy (its interactive pool
	// hands out 50 connections a second or more); 0 never paces. On a
	// server whose CPUs also answer requests, it trades the export's
	// speed for the interactive latency (docs/exports.md, "Measured").
	MaxRowsPerSec int
	// StaleAfter is how long a running export's attempt may go without a
	// heartbeat (it records one every StaleAfter/4) before RecoverStalled
	// takes it for dead and gives the export to a new job. Default 2
	// minutes.
	StaleAfter time.Duration
}

// Outbox queues emails inside a transaction (*mail.Outbox).
type Outbox interface {
	Enqueue(ctx context.Context, tx pgx.Tx, m mail.Message) error
}

// Service requests, follows, cancels, runs and serves exports. Methods
// taking a scope check authz.ExportsManage (else EFORBIDDEN) and return
// ENOTFOUND for a scope without an organisation, besides the codes they
// name; database and store failures are internal errors.
type Service struct {
	pool       *pgxpool.Pool // the runtime pool: requests and reads of the API and pages
	exportPool *pgxpool.Pool // the exports' own pool: the jobs' reads and progress
	bucket     *blob.Bucket
	keys       *crypto.Keyring
	jobs       Inserter
	clock      gw.Clock
	sources    Sources
	cfg        Config
	logger     *slog.Logger
}

// NewService returns a Service that records exports through pool (the
// runtime role's interactive pool), runs them on exportPool (the runtime
// role too, a small pool of its own; nil uses pool), writes their files to
// bucket, reads the data from sources, signs download links with keys'
// blind-index keys, enqueues jobs with jobs and tells time by clock.
func NewService(pool, exportPool *pgxpool.Pool, bucket *blob.Bucket, keys *crypto.Keyring, jobs Inserter,
	clock gw.Clock, sources Sources, cfg Config) *Service {
	if exportPool == nil {
		exportPool = pool
	}
	if cfg.Retention <= 0 {
		cfg.Retention = 7 * 24 * time.Hour
	}
	if cfg.OrphanAge <= 0 {
		cfg.OrphanAge = 24 * time.Hour
	}
	if cfg.LinkTTL <= 0 {
		cfg.LinkTTL = time.Hour
	}
	if cfg.StaleAfter <= 0 {
		cfg.StaleAfter = DefaultStaleAfter
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Service{pool: pool, exportPool: exportPool, bucket: bucket, keys: keys, jobs: jobs,
		clock: clock, sources: sources, cfg: cfg, logger: logger}
}

// Request records an export of the scope's organisation and enqueues its
// job, and returns it, queued. Invalid input is EINVALID with Fields; an
// organisation with an export already queued or running is ECONFLICT.
func (s *Service) Request(ctx context.Context, scope gw.Scope, r Request) (Export, error) {
	if err := authz.Require(scope, authz.ExportsManage); err != nil {
		return Export{}, err
	}
	r, err := r.normalize()
	if err != nil {
		return Export{}, err
	}
	e := Export{ID: gw.NewID(), OrgID: scope.OrgID, RequestedBy: scope.Actor.UserID + scope.Actor.APIKeyID,
		Format: r.Format, Packaging: r.Packaging, Tables: r.Tables, Status: StatusQueued, CreatedAt: s.now()}
	err = postgres.InOrgTx(ctx, s.pool, scope.OrgID, func(tx pgx.Tx) error {
		ok, err := insertExport(ctx, tx, e)
		if err != nil {
			return err
		}
		if !ok {
			return gw.Errorf(gw.ECONFLICT, "An export of this organisation is already running: wait for it, or cancel it.")
		}
		// With an Idempotency-Key, the key commits with the export.
		if err := idempotency.RecordTx(ctx, tx, e.ID); err != nil {
			return err
		}
		if err := audit.Record(ctx, tx, audit.Event{OrgID: scope.OrgID, Action: audit.ActionExportRequested,
			TargetType: audit.TargetExport, TargetID: e.ID,
			After: map[string]any{"format": e.Format, "packaging": e.Packaging, "tables": e.Tables}}); err != nil {
			return err
		}
		_, err = s.jobs.InsertTx(ctx, tx, ExportArgs{OrgID: e.OrgID, ExportID: e.ID}, nil)
		return err
	})
	if err != nil {
		return Export{}, fmt.Errorf("request export: %w", err)
	}
	return e, nil
}

// Get returns export id of the scope's organisation; ENOTFOUND when it does
// not exist, is another organisation's or id is malformed.
func (s *Service) Get(ctx context.Context, scope gw.Scope, id string) (Export, error) {
	if err := authz.Require(scope, authz.ExportsManage); err != nil {
		return Export{}, err
	}
	if !gw.ValidID(id) {
		return Export{}, errNotFound()
	}
	e, err := getExport(ctx, postgres.Reader(s.pool, postgres.TxOptions{OrgID: scope.OrgID}), scope.OrgID, id)
	if err != nil {
		return Export{}, fmt.Errorf("get export: %w", postgres.Translate(err))
	}
	return e, nil
}

// listLimit is how many exports List returns.
const listLimit = 50

// List returns the scope's organisation's 50 newest exports, newest first.
func (s *Service) List(ctx context.Context, scope gw.Scope) ([]Export, error) {
	if err := authz.Require(scope, authz.ExportsManage); err != nil {
		return nil, err
	}
	list, err := listExports(ctx, postgres.Reader(s.pool, postgres.TxOptions{OrgID: scope.OrgID}), scope.OrgID, listLimit)
	if err != nil {
		return nil, fmt.Errorf("list exports: %w", postgres.Translate(err))
	}
	if list == nil {
		list = []Export{}
	}
	return list, nil
}

// Cancel cancels export id, queued or running, and deletes whatever it has
// written; the job stops at its next batch. ENOTFOUND as in Get; an export
// that already finished is ECONFLICT.
func (s *Service) Cancel(ctx context.Context, scope gw.Scope, id string) error {
	if err := authz.Require(scope, authz.ExportsManage); err != nil {
		return err
	}
	if !gw.ValidID(id) {
		return errNotFound()
	}
	err := postgres.InOrgTx(ctx, s.pool, scope.OrgID, func(tx pgx.Tx) error {
		ok, err := cancelExport(ctx, tx, scope.OrgID, id, s.now())
		if err != nil {
			return err
		}
		if !ok {
			if _, err := getExport(ctx, tx, scope.OrgID, id); err != nil {
				return err
			}
			return gw.Errorf(gw.ECONFLICT, "This export has already finished.")
		}
		return audit.Record(ctx, tx, audit.Event{OrgID: scope.OrgID, Action: audit.ActionExportCancelled,
			TargetType: audit.TargetExport, TargetID: id})
	})
	if err != nil {
		return fmt.Errorf("cancel export: %w", err)
	}
	return s.deleteFiles(ctx, scope.OrgID, id)
}

// Download is an export file opened for reading.
type Download struct {
	io.ReadCloser
	// Name is the file name to save it as, e.g.
	// "export-2026-12-05-contacts.csv.gz".
	Name string
	// ContentType is its media type.
	ContentType string
	// Size is its length in bytes.
	Size int64
	// RedirectURL, when not "", is where the file is to be fetched
	// instead: a URL the blob store signed (an S3 presigned URL), valid
	// until the app's link expires, that answers with the file as an
	// attachment named Name. ReadCloser is then nil.
	RedirectURL string
}

// Open checks the signed download token and opens the file it names, and
// records the download in the audit log. A malformed, altered or expired
// token, an export that is not (or no longer) downloadable, or a file it
// does not have are ENOTFOUND.
func (s *Service) Open(ctx context.Context, token string) (*Download, error) {
	l, err := s.verify(token)
	if err != nil {
		return nil, err
	}
	var e Export
	err = postgres.InOrgTx(ctx, s.pool, l.orgID, func(tx pgx.Tx) error {
		var err error
		if e, err = getExport(ctx, tx, l.orgID, l.exportID); err != nil {
			return err
		}
		if e.Status != StatusSucceeded || !hasFile(e, l.file) {
			return errNotFound()
		}
		return audit.Record(ctx, tx, audit.Event{OrgID: l.orgID, Action: audit.ActionExportDownloaded,
			TargetType: audit.TargetExport, TargetID: e.ID, After: map[string]any{"file": l.file}})
	})
	if err != nil {
		return nil, fmt.Errorf("open export: %w", err)
	}
	ctype := "application/gzip"
	if e.Packaging == PackagingZip {
		ctype = "application/zip"
	}
	d := &Download{Name: "export-" + e.CreatedAt.Format("2006-01-02") + "-" + l.file, ContentType: ctype}
	key := objectKey(l.orgID, l.exportID, e.filesAttempt, l.file)
	if d.RedirectURL, err = s.presign(ctx, key, d, l.expires); err != nil {
		return nil, err
	}
	if d.RedirectURL != "" {
		return d, nil
	}
	r, err := s.bucket.NewReader(ctx, key, nil)
	if err != nil {
		return nil, fmt.Errorf("open export file: %w", err)
	}
	d.ReadCloser, d.Size = r, r.Size()
	return d, nil
}

func hasFile(e Export, name string) bool {
	for _, f := range e.Files {
		if f.Name == name {
			return true
		}
	}
	return false
}

// objectKey is the blob key of file of export id of orgID written by
// attempt: each attempt writes under a directory of its own, so that an
// attempt superseded while still alive (a zombie) can never replace the
// files of the attempt that took over. Attempt 0 is the export's own
// directory, where files were written before attempts had theirs.
func objectKey(orgID, id string, attempt int, file string) string {
	if attempt == 0 {
		return exportPrefix(orgID, id) + file
	}
	return attemptPrefix(orgID, id, attempt) + file
}

// exportPrefix is the directory of every object of export id of orgID.
func exportPrefix(orgID, id string) string { return "exports/" + orgID + "/" + id + "/" }

// attemptPrefix is the directory of the objects attempt of export id of
// orgID writes.
func attemptPrefix(orgID, id string, attempt int) string {
	return exportPrefix(orgID, id) + strconv.Itoa(attempt) + "/"
}

// deleteFiles deletes every object of export id of orgID.
func (s *Service) deleteFiles(ctx context.Context, orgID, id string) error {
	return s.deleteUnder(ctx, exportPrefix(orgID, id), "")
}

// deleteUnder deletes every object whose key starts with prefix, except
// those under keep ("": none).
func (s *Service) deleteUnder(ctx context.Context, prefix, keep string) error {
	it := s.bucket.List(&blob.ListOptions{Prefix: prefix})
	for {
		obj, err := it.Next(ctx)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("list export files: %w", err)
		}
		if keep != "" && strings.HasPrefix(obj.Key, keep) {
			continue
		}
		if err := s.bucket.Delete(ctx, obj.Key); err != nil && gcerrors.Code(err) != gcerrors.NotFound {
			return fmt.Errorf("delete export file: %w", err)
		}
	}
}

// now is the clock's time at the precision PostgreSQL stores.
func (s *Service) now() time.Time { return s.clock.Now().UTC().Truncate(time.Microsecond) }
