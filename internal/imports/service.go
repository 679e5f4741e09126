package imports

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path"
	"strings"
	"time"
	"unicode"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"gocloud.dev/blob"

	"github.com/groundwork-dev/groundwork/internal/audit"
	"github.com/groundwork-dev/groundwork/internal/authz"
	"github.com/groundwork-dev/groundwork/internal/contacts"
	"github.com/groundwork-dev/groundwork/internal/gw"
	"github.com/groundwork-dev/groundwork/internal/idempotency"
	"github.com/groundwork-dev/groundwork/internal/postgres"
)

// Inserter enqueues jobs inside a transaction (a *river.Client[pgx.Tx]).
type Inserter interface {
	InsertTx(ctx context.Context, tx pgx.Tx, args river.JobArgs, opts *river.InsertOpts) (*rivertype.JobInsertResult, error)
}

// ContactWriter is what an import needs of the contacts module
// (*contacts.Service).
type ContactWriter interface {
	ReserveTx(ctx context.Context, tx pgx.Tx, orgID string, n int) (int, error)
	InsertTx(ctx context.Context, tx pgx.Tx, orgID string, actor gw.Actor, importID string, list []contacts.Input, now time.Time) error
}

// Config tunes a Service.
type Config struct {
	// MaxBytes caps an uploaded file. Default 100 MiB.
	MaxBytes int64
	// Logger receives the jobs' logs. Nil discards them.
	Logger *slog.Logger
	// OrphanAge is how old an orphaned upload (SweepOrphans) must be
	// before it is deleted, and how long an import may stay queued or
	// running before the sweep abandons it. Default 24 hours.
	OrphanAge time.Duration
}

// Service uploads, runs and reports imports. Methods taking a scope check
// authz.ContactsImport (else EFORBIDDEN) and return ENOTFOUND for a scope
// without an organisation, besides the codes they name; database and store
// failures are internal errors.
type Service struct {
	pool     *pgxpool.Pool // the runtime pool: uploads and reads of the API and pages
	workPool *pgxpool.Pool // the exports' own pool: the jobs' reads and writes
	bucket   *blob.Bucket
	contacts ContactWriter
	jobs     Inserter
	clock    gw.Clock
	cfg      Config
	logger   *slog.Logger
}

// NewService returns a Service that records imports through pool (the
// runtime role's interactive pool), runs them on workPool (the runtime
// role too: the exports' own small pool; nil uses pool), keeps uploaded
// files in bucket until their job has read them, writes contacts through
// contacts, enqueues jobs with jobs and tells time by clock.
func NewService(pool, workPool *pgxpool.Pool, bucket *blob.Bucket, contacts ContactWriter, jobs Inserter,
	clock gw.Clock, cfg Config) *Service {
	if workPool == nil {
		workPool = pool
	}
	if cfg.OrphanAge <= 0 {
		cfg.OrphanAge = 24 * time.Hour
	}
	if cfg.MaxBytes <= 0 {
		cfg.MaxBytes = 100 << 20
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Service{pool: pool, workPool: workPool, bucket: bucket, contacts: contacts, jobs: jobs, clock: clock,
		cfg: cfg, logger: logger}
}

// MaxBytes is the largest file Start accepts.
func (s *Service) MaxBytes() int64 { return s.cfg.MaxBytes }

// Upload is a CSV file to import.
type Upload struct {
	// Mode is ModeAllOrNothing (default) or ModeSkipInvalid.
	Mode string
	// FileName is the file's name as the user knows it; may be empty.
	FileName string
	// Body is the file, read once, streaming.
	Body io.Reader
}

// Start streams u's file into the blob store, records the import and
// enqueues its job, and returns it, queued. An unknown mode or an empty
// file is EINVALID, a file over MaxBytes ETOOLARGE; an organisation with an
// import already queued or running is ECONFLICT; a body that fails to
// read returns its error (an *http.MaxBytesError, say).
func (s *Service) Start(ctx context.Context, scope gw.Scope, u Upload) (Import, error) {
	if err := authz.Require(scope, authz.ContactsImport); err != nil {
		return Import{}, err
	}
	if u.Mode == "" {
		u.Mode = ModeAllOrNothing
	}
	if u.Mode != ModeAllOrNothing && u.Mode != ModeSkipInvalid {
		return Import{}, &gw.Error{Code: gw.EINVALID, Message: "The import request is invalid.",
			Fields: map[string]string{"mode": "Choose all_or_nothing or skip_invalid."}}
	}
	if u.Body == nil {
		return Import{}, gw.Errorf(gw.EINVALID, "Choose a CSV file to import.")
	}
	if err := s.checkIdle(ctx, scope.OrgID); err != nil {
		return Import{}, err
	}
	i := Import{ID: gw.NewID(), OrgID: scope.OrgID, UserID: scope.Actor.UserID, APIKeyID: scope.Actor.APIKeyID,
		Mode: u.Mode, FileName: cleanName(u.FileName), Status: StatusQueued, CreatedAt: s.now()}
	key := uploadKey(i.OrgID, i.ID)
	n, err := s.store(ctx, key, u.Body)
	if err != nil {
		return Import{}, err
	}
	i.Bytes = n
	err = postgres.InOrgTx(ctx, s.pool, scope.OrgID, func(tx pgx.Tx) error {
		ok, err := insertImport(ctx, tx, i)
		if err != nil {
			return err
		}
		if !ok {
			return errBusy()
		}
		// With an Idempotency-Key, the key commits with the import.
		if err := idempotency.RecordTx(ctx, tx, i.ID); err != nil {
			return err
		}
		if err := audit.Record(ctx, tx, audit.Event{OrgID: scope.OrgID, Action: audit.ActionImportRequested,
			TargetType: audit.TargetImport, TargetID: i.ID,
			After: map[string]any{"mode": i.Mode, "file_name": i.FileName, "bytes": i.Bytes}}); err != nil {
			return err
		}
		_, err = s.jobs.InsertTx(ctx, tx, ImportArgs{OrgID: i.OrgID, ImportID: i.ID}, nil)
		return err
	})
	if err != nil {
		_ = s.bucket.Delete(context.WithoutCancel(ctx), key)
		return Import{}, fmt.Errorf("start import: %w", err)
	}
	return i, nil
}

func errBusy() error {
	return gw.Errorf(gw.ECONFLICT, "An import into this organisation is already running: wait for it to finish.")
}

// checkIdle returns ECONFLICT when orgID has an active import, before a
// file is uploaded for nothing (the unique index decides in the end).
func (s *Service) checkIdle(ctx context.Context, orgID string) error {
	list, err := listImports(ctx, postgres.Reader(s.pool, postgres.TxOptions{OrgID: orgID}), orgID, 1)
	if err != nil {
		return fmt.Errorf("start import: %w", postgres.Translate(err))
	}
	if len(list) > 0 && list[0].Active() {
		return errBusy()
	}
	return nil
}

// store copies body into the blob store at key, at most MaxBytes, and
// returns its size. Nothing is left in the store on error.
func (s *Service) store(ctx context.Context, key string, body io.Reader) (int64, error) {
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	w, err := s.bucket.NewWriter(wctx, key, &blob.WriterOptions{ContentType: "text/csv"})
	if err != nil {
		return 0, fmt.Errorf("store upload: %w", err)
	}
	n, err := io.Copy(w, io.LimitReader(body, s.cfg.MaxBytes+1))
	switch {
	case err != nil:
	case n > s.cfg.MaxBytes:
		err = gw.Errorf(gw.ETOOLARGE, "The file is larger than %d MiB: split it into smaller files.", s.cfg.MaxBytes>>20)
	case n == 0:
		err = gw.Errorf(gw.EINVALID, "The file is empty.")
	}
	if err != nil {
		cancel() // Close then discards what was written
		_ = w.Close()
		return 0, err
	}
	if err := w.Close(); err != nil {
		return 0, fmt.Errorf("store upload: %w", err)
	}
	return n, nil
}

// Get returns import id of the scope's organisation, with its report;
// ENOTFOUND when it does not exist, is another organisation's or id is
// malformed.
func (s *Service) Get(ctx context.Context, scope gw.Scope, id string) (Import, error) {
	if err := authz.Require(scope, authz.ContactsImport); err != nil {
		return Import{}, err
	}
	if !gw.ValidID(id) {
		return Import{}, errNotFound()
	}
	st, err := getImport(ctx, postgres.Reader(s.pool, postgres.TxOptions{OrgID: scope.OrgID}), scope.OrgID, id)
	if err != nil {
		return Import{}, fmt.Errorf("get import: %w", postgres.Translate(err))
	}
	return st.Import, nil
}

// listLimit is how many imports List returns.
const listLimit = 50

// List returns the scope's organisation's 50 newest imports, newest first.
func (s *Service) List(ctx context.Context, scope gw.Scope) ([]Import, error) {
	if err := authz.Require(scope, authz.ContactsImport); err != nil {
		return nil, err
	}
	list, err := listImports(ctx, postgres.Reader(s.pool, postgres.TxOptions{OrgID: scope.OrgID}), scope.OrgID, listLimit)
	if err != nil {
		return nil, fmt.Errorf("list imports: %w", postgres.Translate(err))
	}
	if list == nil {
		list = []Import{}
	}
	return list, nil
}

// uploadKey is the blob key of import id's uploaded file.
func uploadKey(orgID, id string) string { return "imports/" + orgID + "/" + id + "/upload.csv" }

// cleanName is a file name fit to show: its base, one line, at most 200
// characters.
func cleanName(name string) string {
	name = path.Base(strings.ReplaceAll(name, `\`, "/"))
	name = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == unicode.ReplacementChar {
			return -1
		}
		return r
	}, strings.ToValidUTF8(name, ""))
	if name == "." || name == "/" {
		name = ""
	}
	return clip(strings.TrimSpace(name), 200)
}

// now is the clock's time at the precision PostgreSQL stores.
func (s *Service) now() time.Time { return s.clock.Now().UTC().Truncate(time.Microsecond) }

// errIs reports whether err is an *errFile.
func errIsFile(err error) (*errFile, bool) {
	var fe *errFile
	ok := errors.As(err, &fe)
	return fe, ok
}
