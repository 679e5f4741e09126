package exports

import (
	"archive/zip"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/jackc/pgx/v5"
	"gocloud.dev/blob"

	"github.com/groundwork-dev/groundwork/internal/postgres"
)

// errCancelled stops an export whose row says it was cancelled.
var errCancelled = errors.New("export cancelled")

// Run writes export id of orgID: attempt (from 1) of at most maxAttempts.
// Every attempt starts from scratch, deleting what an earlier one left. A
// cancelled export ends without files and without error; a failure is
// returned for a retry, and on the last attempt also marks the export
// failed, without files.
func (s *Service) Run(ctx context.Context, orgID, id string, attempt, maxAttempts int) error {
	var e Export
	var ok bool
	err := postgres.InOrgTx(ctx, s.exportPool, orgID, func(tx pgx.Tx) error {
		var err error
		e, ok, err = startExport(ctx, tx, orgID, id, attempt, s.now())
		return err
	})
	if err != nil || !ok {
		return err
	}
	if err := s.deleteFiles(ctx, orgID, id); err != nil {
		return err
	}
	written, files, err := s.write(ctx, e)
	if err == nil {
		err = postgres.InOrgTx(ctx, s.exportPool, orgID, func(tx pgx.Tx) error {
			now := s.now()
			ok, err := finishExport(ctx, tx, orgID, id, written, files, now, now.Add(s.cfg.Retention))
			if err == nil && !ok {
				err = errCancelled
			}
			if err == nil {
				err = s.tellReady(ctx, tx, e, written, files, now.Add(s.cfg.Retention))
			}
			return err
		})
	}
	switch {
	case err == nil:
		s.logger.Info("export written", "org_id", orgID, "export_id", id, "rows", written, "files", len(files))
		return nil
	case errors.Is(err, errCancelled):
		s.logger.Info("export cancelled", "org_id", orgID, "export_id", id)
		return s.deleteFiles(context.WithoutCancel(ctx), orgID, id)
	}
	cleanup := context.WithoutCancel(ctx)
	if delErr := s.deleteFiles(cleanup, orgID, id); delErr != nil {
		err = errors.Join(err, delErr)
	}
	if attempt >= maxAttempts {
		msg := "The export failed; please try again. If it fails again, contact support."
		if fErr := postgres.InOrgTx(cleanup, s.exportPool, orgID, func(tx pgx.Tx) error {
			return failExport(cleanup, tx, orgID, id, msg, s.now())
		}); fErr != nil {
			err = errors.Join(err, fErr)
		}
	}
	return fmt.Errorf("run export %s: %w", id, err)
}

// write streams e's tables into the store and returns the rows written and
// the files. On error or cancellation, the blob writer is aborted: no
// file of this attempt becomes visible.
func (s *Service) write(ctx context.Context, e Export) (int64, []File, error) {
	readPool, err := s.readPool(ctx, e) // the replica's, while it is fresh enough
	if err != nil {
		return 0, nil, err
	}
	tx, err := beginSnapshot(ctx, readPool, e.OrgID)
	if err != nil {
		return 0, nil, err
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()

	var estimate int64
	for _, t := range e.Tables {
		n, err := s.sources.tableOf(t).count(ctx, tx, e.OrgID)
		if err != nil {
			return 0, nil, err
		}
		estimate += n
	}
	p := &progress{s: s, ctx: ctx, e: e, estimate: estimate}
	if err := p.record(); err != nil {
		return 0, nil, err
	}

	var files []File
	if e.Packaging == PackagingZip {
		f, err := s.writeZip(ctx, tx, e, p)
		if err != nil {
			return 0, nil, err
		}
		files = append(files, f)
	} else {
		for _, t := range e.Tables {
			f, err := s.writeGzip(ctx, tx, e, t, p)
			if err != nil {
				return 0, nil, err
			}
			files = append(files, f)
		}
	}
	return p.written, files, nil
}

// writeGzip writes table t of e as one gzip file.
func (s *Service) writeGzip(ctx context.Context, tx pgx.Tx, e Export, t string, p *progress) (File, error) {
	name := fileName(t, e.Format, e.Packaging)
	fctx, cancel := context.WithCancel(ctx)
	defer cancel()
	w, err := s.bucket.NewWriter(fctx, objectKey(e.OrgID, e.ID, name), &blob.WriterOptions{ContentType: "application/gzip"})
	if err != nil {
		return File{}, fmt.Errorf("write %s: %w", name, err)
	}
	cw := &countingWriter{w: w}
	gz, _ := gzip.NewWriterLevel(cw, gzip.BestSpeed)
	before := p.written
	err = s.writeTable(ctx, tx, e, t, gz, p)
	if err == nil {
		err = gz.Close()
	}
	if err != nil {
		return File{}, abortWriter(err, cancel, w)
	}
	if err := w.Close(); err != nil {
		return File{}, fmt.Errorf("write %s: %w", name, err)
	}
	return File{Name: name, Rows: p.written - before, Bytes: cw.n}, nil
}

// writeZip writes every table of e into one zip file.
func (s *Service) writeZip(ctx context.Context, tx pgx.Tx, e Export, p *progress) (File, error) {
	name := "export.zip"
	fctx, cancel := context.WithCancel(ctx)
	defer cancel()
	w, err := s.bucket.NewWriter(fctx, objectKey(e.OrgID, e.ID, name), &blob.WriterOptions{ContentType: "application/zip"})
	if err != nil {
		return File{}, fmt.Errorf("write %s: %w", name, err)
	}
	cw := &countingWriter{w: w}
	zw := zip.NewWriter(cw)
	err = func() error {
		for _, t := range e.Tables {
			fw, err := zw.CreateHeader(&zip.FileHeader{Name: fileName(t, e.Format, e.Packaging), Method: zip.Deflate,
				Modified: e.CreatedAt})
			if err != nil {
				return err
			}
			if err := s.writeTable(ctx, tx, e, t, fw, p); err != nil {
				return err
			}
		}
		return zw.Close()
	}()
	if err != nil {
		return File{}, abortWriter(err, cancel, w)
	}
	if err := w.Close(); err != nil {
		return File{}, fmt.Errorf("write %s: %w", name, err)
	}
	return File{Name: name, Rows: p.written, Bytes: cw.n}, nil
}

// abortWriter gives up on w after err: cancelling w's context first makes
// Close discard what was written instead of publishing it. It returns err.
func abortWriter(err error, cancel context.CancelFunc, w *blob.Writer) error {
	cancel()
	_ = w.Close() // reports the cancellation; nothing is published
	return err
}

// writeTable encodes table t's rows in e's format to w, batch by batch.
func (s *Service) writeTable(ctx context.Context, tx pgx.Tx, e Export, t string, w io.Writer, p *progress) error {
	def := s.sources.tableOf(t)
	enc := newEncoder(e.Format, w)
	if err := enc.header(def.columns); err != nil {
		return err
	}
	err := def.batches(ctx, tx, e.OrgID, func(rows [][]any) error {
		for _, r := range rows {
			if err := enc.row(r); err != nil {
				return err
			}
		}
		if err := enc.flush(); err != nil {
			return err
		}
		p.written += int64(len(rows))
		return p.record()
	})
	if err != nil {
		return fmt.Errorf("export %s: %w", t, err)
	}
	return enc.flush()
}

// progress records an export's rows written after each batch, on the
// exports' pool, and notices a cancellation there.
type progress struct {
	s        *Service
	ctx      context.Context
	e        Export
	written  int64
	estimate int64
}

func (p *progress) record() error {
	return postgres.InOrgTx(p.ctx, p.s.exportPool, p.e.OrgID, func(tx pgx.Tx) error {
		ok, err := setProgress(p.ctx, tx, p.e.OrgID, p.e.ID, p.written, max(p.estimate, p.written))
		if err == nil && !ok {
			return errCancelled
		}
		return err
	})
}
