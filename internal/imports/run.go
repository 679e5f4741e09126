package imports

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/jackc/pgx/v5"

	"github.com/groundwork-dev/groundwork/internal/contacts"
	"github.com/groundwork-dev/groundwork/internal/gw"
	"github.com/groundwork-dev/groundwork/internal/postgres"
)

// Batches of the writing pass: at most batchRows rows or about
// batchBytes of the file, whichever comes first.
const (
	batchRows  = 1000
	batchBytes = 1 << 20
)

// Run reads and writes import id of orgID: attempt (from 1) of at most
// maxAttempts. A file that is not valid CSV, or whose header is wrong,
// fails the import at once, with nothing written; so does a bad row (or
// the plan's limit) in all_or_nothing mode. A store or database failure
// is returned for a retry (which resumes after the last committed batch),
// and on the last attempt also marks the import failed. The uploaded file
// is deleted once the import has finished.
func (s *Service) Run(ctx context.Context, orgID, id string, attempt, maxAttempts int) error {
	var st state
	var ok bool
	err := postgres.InOrgTx(ctx, s.workPool, orgID, func(tx pgx.Tx) error {
		var err error
		st, ok, err = startImport(ctx, tx, orgID, id, attempt, s.now())
		return err
	})
	if err != nil || !ok {
		return err
	}
	err = s.run(ctx, st)
	if err == nil {
		s.logger.Info("import finished", "org_id", orgID, "import_id", id)
		return s.deleteUpload(ctx, orgID, id)
	}
	if fe, ok := errIsFile(err); ok {
		return s.fail(ctx, st, fe.Error(), nil, 0)
	}
	if attempt >= maxAttempts {
		msg := "The import failed; please try again. If it fails again, contact support."
		if fErr := s.fail(context.WithoutCancel(ctx), st, msg, nil, 0); fErr != nil {
			err = errors.Join(err, fErr)
		}
	}
	return fmt.Errorf("run import %s: %w", id, err)
}

// fail marks st failed with msg (and report, when not nil) and deletes its file.
func (s *Service) fail(ctx context.Context, st state, msg string, report []Rejection, rejected int64) error {
	err := postgres.InOrgTx(ctx, s.workPool, st.OrgID, func(tx pgx.Tx) error {
		return finishImport(ctx, tx, st.OrgID, st.ID, StatusFailed, msg, st.RowsTotal, report, rejected, s.now())
	})
	if err != nil {
		return err
	}
	s.logger.Info("import failed", "org_id", st.OrgID, "import_id", st.ID, "reason", msg)
	return s.deleteUpload(ctx, st.OrgID, st.ID)
}

// run is Run's work once the import is marked running.
func (s *Service) run(ctx context.Context, st state) error {
	v, err := s.validate(ctx, st)
	if err != nil {
		return err
	}
	st.RowsTotal = v.rows
	if st.Mode == ModeAllOrNothing {
		if v.invalid > 0 {
			msg := fmt.Sprintf("%d of %d rows are invalid: nothing was imported. Fix them and import the file again, or import it skipping invalid rows.",
				v.invalid, v.rows)
			return s.fail(ctx, st, msg, v.report, v.invalid)
		}
		return s.writeAll(ctx, st, v.rows)
	}
	return s.writeValid(ctx, st)
}

// validation is what the validating pass found.
type validation struct {
	rows, invalid int64
	report        []Rejection // the first maxReported invalid rows
}

// validate reads the whole file once, checking its syntax and every row.
func (s *Service) validate(ctx context.Context, st state) (validation, error) {
	var v validation
	err := s.eachRow(ctx, st, func(r row, _ int64) error {
		v.rows++
		if r.err != nil {
			v.invalid++
			if len(v.report) < maxReported {
				v.report = append(v.report, Rejection{Line: r.line, Messages: messages(r.err)})
			}
		}
		return nil
	}, nil)
	return v, err
}

// writeAll writes every row of st in one transaction, or none when the
// plan's limit does not hold them all.
func (s *Service) writeAll(ctx context.Context, st state, total int64) error {
	var refusal error
	err := postgres.InOrgTx(ctx, s.workPool, st.OrgID, func(tx pgx.Tx) error {
		n, err := s.contacts.ReserveTx(ctx, tx, st.OrgID, int(total))
		if err != nil && gw.ErrorCode(err) != gw.EFORBIDDEN {
			return err
		}
		if n < int(total) {
			refusal = err
			return errRollback
		}
		if err != nil {
			return err
		}
		batch := make([]contacts.Input, 0, batchRows)
		var size int
		var last int
		err = s.eachRow(ctx, st, func(r row, _ int64) error {
			batch, size, last = append(batch, r.in), size+r.bytes, r.line
			if len(batch) < batchRows && size < batchBytes {
				return nil
			}
			err := s.contacts.InsertTx(ctx, tx, st.OrgID, st.actor(), st.ID, batch, s.now())
			batch, size = batch[:0], 0
			return err
		}, nil)
		if err == nil {
			err = s.contacts.InsertTx(ctx, tx, st.OrgID, st.actor(), st.ID, batch, s.now())
		}
		if err == nil {
			err = recordBatch(ctx, tx, st.OrgID, st.ID, int64(last), st.Bytes, total, int(total), nil, 0)
		}
		if err == nil {
			err = finishImport(ctx, tx, st.OrgID, st.ID, StatusSucceeded, "", total, nil, 0, s.now())
		}
		return err
	})
	if errors.Is(err, errRollback) {
		msg := fmt.Sprintf("%s The file holds %d contacts: nothing was imported.", gw.ErrorMessage(refusal), total)
		return s.fail(ctx, st, msg, nil, 0)
	}
	return err
}

// errRollback rolls back a transaction that decided to write nothing.
var errRollback = errors.New("rollback")

// writeValid writes st's valid rows batch by batch, each batch committing
// with its rejected rows and the line it reached; it resumes after the
// line an earlier attempt reached.
func (s *Service) writeValid(ctx context.Context, st state) error {
	var batch []row
	var size int
	flush := func(read int64) error {
		if len(batch) == 0 {
			return nil
		}
		err := s.writeBatch(ctx, st, batch, read)
		batch, size = batch[:0], 0
		return err
	}
	err := s.eachRow(ctx, st, func(r row, read int64) error {
		if int64(r.line) <= st.linesDone {
			return nil // written by an earlier attempt
		}
		batch, size = append(batch, r), size+r.bytes
		if len(batch) < batchRows && size < batchBytes {
			return nil
		}
		return flush(read)
	}, func(read int64) error { return flush(read) })
	if err != nil {
		return err
	}
	return postgres.InOrgTx(ctx, s.workPool, st.OrgID, func(tx pgx.Tx) error {
		return finishImport(ctx, tx, st.OrgID, st.ID, StatusSucceeded, "", st.RowsTotal, nil, 0, s.now())
	})
}

// writeBatch commits one batch of skip_invalid rows: the valid ones the
// plan allows are written, the others reported.
func (s *Service) writeBatch(ctx context.Context, st state, batch []row, read int64) error {
	var valid []contacts.Input
	var validLines []int
	var rejected []Rejection
	for _, r := range batch {
		if r.err != nil {
			rejected = append(rejected, Rejection{Line: r.line, Messages: messages(r.err)})
			continue
		}
		valid = append(valid, r.in)
		validLines = append(validLines, r.line)
	}
	return postgres.InOrgTx(ctx, s.workPool, st.OrgID, func(tx pgx.Tx) error {
		n, refusal := s.contacts.ReserveTx(ctx, tx, st.OrgID, len(valid))
		if refusal != nil && gw.ErrorCode(refusal) != gw.EFORBIDDEN {
			return refusal
		}
		if n < len(valid) {
			msg := gw.ErrorMessage(refusal)
			for _, line := range validLines[n:] {
				rejected = append(rejected, Rejection{Line: line, Messages: []string{msg}})
			}
			slices.SortFunc(rejected, func(a, b Rejection) int { return a.Line - b.Line })
		}
		if err := s.contacts.InsertTx(ctx, tx, st.OrgID, st.actor(), st.ID, valid[:n], s.now()); err != nil {
			return err
		}
		return recordBatch(ctx, tx, st.OrgID, st.ID, int64(batch[len(batch)-1].line), read, st.RowsTotal, n,
			rejected, len(rejected))
	})
}

// eachRow streams st's file from the store and calls fn with each data
// row and the bytes of the file read so far, then end (when not nil) with
// the file's size. The file's defects are *errFile.
func (s *Service) eachRow(ctx context.Context, st state, fn func(r row, read int64) error, end func(read int64) error) error {
	br, err := s.bucket.NewReader(ctx, uploadKey(st.OrgID, st.ID), nil)
	if err != nil {
		return fmt.Errorf("open upload: %w", err)
	}
	defer br.Close()
	cr := &countingReader{r: br}
	rr, err := newRowReader(cr)
	if err != nil {
		return err
	}
	for {
		r, err := rr.next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		if err := fn(r, cr.n); err != nil {
			return err
		}
	}
	if end != nil {
		return end(cr.n)
	}
	return nil
}

// actor is who uploaded the import: its audit events are theirs.
func (st state) actor() gw.Actor { return gw.Actor{UserID: st.UserID, APIKeyID: st.APIKeyID} }

// deleteUpload deletes import id's uploaded file, if it is still there.
func (s *Service) deleteUpload(ctx context.Context, orgID, id string) error {
	err := s.bucket.Delete(context.WithoutCancel(ctx), uploadKey(orgID, id))
	if err != nil && gcerrNotFound(err) {
		return nil
	}
	return err
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}
