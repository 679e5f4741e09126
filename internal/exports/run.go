package exports

import (
	"archive/zip"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/jackc/pgx/v5"
	"gocloud.dev/blob"

	"github.com/groundwork-dev/groundwork/internal/postgres"
)

// errStopped stops an attempt whose export is no longer its own to run:
// cancelled, or given to another attempt (RecoverStalled) after this one
// stopped beating for a while.
var errStopped = errors.New("export cancelled or taken over by another attempt")

// Run writes export id of orgID: attempt (from 1) of at most maxAttempts
// of its job. Every attempt starts from scratch, deleting what an earlier
// one left, and writes its files under a directory of its own; every
// write it makes to the export's row names it (the row's attempts, its
// fencing token), and a heartbeat says it is alive (RecoverStalled). A
// cancelled export, or one taken over by another attempt, ends this one
// without files and without error; a failure is returned for a retry, and
// on the last attempt also marks the export failed, without files.
func (s *Service) Run(ctx context.Context, orgID, id string, attempt, maxAttempts int) error {
	var e Export
	var ok bool
	err := postgres.InOrgTx(ctx, s.exportPool, orgID, func(tx pgx.Tx) error {
		var err error
		e, ok, err = startExport(ctx, tx, orgID, id, s.now())
		return err
	})
	if err != nil || !ok {
		return err
	}
	hctx, stopBeating := s.heartbeat(ctx, e)
	// An earlier attempt's files: a dead one never published any; one
	// superseded while still alive may yet publish some, under its own
	// directory (deleted when this one succeeds, or by the retention).
	err = s.deleteFiles(hctx, orgID, id)
	var written int64
	var files []File
	if err == nil {
		written, files, err = s.write(hctx, e)
	}
	if errors.Is(context.Cause(hctx), errStopped) {
		err = errStopped
	}
	stopBeating()
	if err == nil {
		err = postgres.InOrgTx(ctx, s.exportPool, orgID, func(tx pgx.Tx) error {
			now := s.now()
			ok, err := finishExport(ctx, tx, orgID, id, e.attempt, written, files, now, now.Add(s.cfg.Retention))
			if err == nil && !ok {
				err = errStopped
			}
			if err == nil {
				err = s.tellReady(ctx, tx, e, written, files, now.Add(s.cfg.Retention))
			}
			return err
		})
	}
	mine := attemptPrefix(orgID, id, e.attempt)
	cleanup := context.WithoutCancel(ctx)
	switch {
	case err == nil:
		s.logger.Info("export written", "org_id", orgID, "export_id", id, "rows", written, "files", len(files),
			"attempt", e.attempt)
		if delErr := s.deleteUnder(cleanup, exportPrefix(orgID, id), mine); delErr != nil {
			s.logger.Warn("delete an earlier attempt's export files", "org_id", orgID, "export_id", id, "error", delErr.Error())
		}
		return nil
	case errors.Is(err, errStopped):
		s.logger.Info("export attempt stopped: cancelled or taken over", "org_id", orgID, "export_id", id, "attempt", e.attempt)
		return s.deleteUnder(cleanup, mine, "")
	}
	if delErr := s.deleteUnder(cleanup, mine, ""); delErr != nil {
		err = errors.Join(err, delErr)
	}
	if attempt >= maxAttempts {
		msg := "The export failed; please try again. If it fails again, contact support."
		if fErr := postgres.InOrgTx(cleanup, s.exportPool, orgID, func(tx pgx.Tx) error {
			return failExport(cleanup, tx, orgID, id, e.attempt, msg, s.now())
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
	stall, err := streamTimeout(ctx, tx)
	if err != nil {
		return 0, nil, err
	}
	p := &progress{s: s, ctx: ctx, e: e, estimate: estimate, stall: stall,
		pace: newPacer(s.cfg.MaxRowsPerSec, s.interactiveBusy(), s.clock.Now, sleepCtx)}
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
	w, err := s.bucket.NewWriter(fctx, objectKey(e.OrgID, e.ID, e.attempt, name), &blob.WriterOptions{ContentType: "application/gzip"})
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
	w, err := s.bucket.NewWriter(fctx, objectKey(e.OrgID, e.ID, e.attempt, name), &blob.WriterOptions{ContentType: "application/zip"})
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

// How often an export, while it writes a table, records its progress and
// paces itself.
const (
	// progressRows is how many rows an export writes between two records
	// of its progress (which is also where it notices a cancellation).
	progressRows = 10_000
	// paceRows is how many rows it writes between two checks of its pace.
	paceRows = 1_000
)

// errStalled ends an export whose read delivered no paceRows rows within
// the statement timeout of the exports' pool.
var errStalled = errors.New("the export's read stalled: no 1,000 rows within the statement timeout")

// writeTable encodes table t's rows in e's format to w, as one statement
// streams them: the read, the decryption, the encoding and w's
// compression run row by row, in this goroutine. Every paceRows rows it
// paces itself (Config.MaxRowsPerSec), every progressRows rows it records
// its progress; a read that brings no paceRows rows within the pool's
// statement timeout (p.stall), its pacing not counted, is cancelled.
func (s *Service) writeTable(ctx context.Context, tx pgx.Tx, e Export, t string, w io.Writer, p *progress) error {
	def := s.sources.tableOf(t)
	enc := newEncoder(e.Format, w)
	if err := enc.header(def.columns); err != nil {
		return err
	}
	rctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	alive := func() {}
	if p.stall > 0 {
		watchdog := time.AfterFunc(p.stall, func() { cancel(errStalled) })
		defer watchdog.Stop()
		alive = func() { watchdog.Reset(p.stall) }
	}
	base, last := p.written, p.written
	enc.every = paceRows
	enc.onRows = func() error {
		p.written = base + enc.rows
		if p.written-last >= progressRows {
			last = p.written
			if err := p.record(); err != nil {
				return err
			}
		}
		if err := p.pace.wait(rctx, p.written); err != nil {
			return err
		}
		alive()
		return nil
	}
	err := def.rows(rctx, tx, e.OrgID, enc)
	if err == nil {
		err = enc.flush()
	}
	p.written = base + enc.rows
	if cause := context.Cause(rctx); err != nil && errors.Is(cause, errStalled) {
		err = errStalled
	}
	if err != nil {
		return fmt.Errorf("export %s: %w", t, err)
	}
	return p.record()
}

// progress records an export's rows written (and a heartbeat) on the
// exports' pool (a connection besides the snapshot's), and notices there
// a cancellation or another attempt's taking over.
type progress struct {
	s        *Service
	ctx      context.Context
	e        Export
	written  int64
	estimate int64
	pace     *pacer
	stall    time.Duration // the pool's statement timeout; 0: none
}

func (p *progress) record() error {
	return postgres.InOrgTx(p.ctx, p.s.exportPool, p.e.OrgID, func(tx pgx.Tx) error {
		ok, err := setProgress(p.ctx, tx, p.e.OrgID, p.e.ID, p.e.attempt, p.written, max(p.estimate, p.written), p.s.now())
		if err == nil && !ok {
			return errStopped
		}
		return err
	})
}

// streamTimeout returns tx's statement_timeout (0: none) and lifts it for
// the rest of tx: each table is read by one statement, which lasts as
// long as the table takes to write. writeTable enforces the timeout per
// paceRows rows instead.
func streamTimeout(ctx context.Context, tx pgx.Tx) (time.Duration, error) {
	var ms int64
	if err := tx.QueryRow(ctx, `SELECT setting::bigint FROM pg_settings WHERE name = 'statement_timeout'`).Scan(&ms); err != nil {
		return 0, fmt.Errorf("read statement_timeout: %w", err)
	}
	if _, err := tx.Exec(ctx, `SET LOCAL statement_timeout = 0`); err != nil {
		return 0, fmt.Errorf("lift statement_timeout: %w", err)
	}
	return time.Duration(ms) * time.Millisecond, nil
}

// pacer keeps an export under a rate of rows a second while the
// interactive app is busy, and lets it run at full speed otherwise.
type pacer struct {
	rate  float64 // rows a second; 0: no pacing
	now   func() time.Time
	sleep func(ctx context.Context, d time.Duration) error
	// busy reports whether the app answered requests since it was last
	// asked; nil: always busy.
	busy func() bool
	// at is when the rows counted so far (rows) were due; an export that
	// fell behind (a slow read) may catch up by at most paceBurst.
	at   time.Time
	rows int64
}

// paceBurst is how far behind its pace an export may fall and then catch
// up at full speed.
const paceBurst = 100 * time.Millisecond

// newPacer returns a pacer of rate rows a second while busy says so,
// starting now.
func newPacer(rate int, busy func() bool, now func() time.Time, sleep func(context.Context, time.Duration) error) *pacer {
	return &pacer{rate: float64(rate), busy: busy, now: now, sleep: sleep, at: now()}
}

// wait sleeps until rows rows (a total) are due, if the app is busy.
func (p *pacer) wait(ctx context.Context, rows int64) error {
	if p.rate <= 0 {
		return nil
	}
	now := p.now()
	if p.busy != nil && !p.busy() {
		p.at, p.rows = now, rows // idle: no debt, no credit
		return nil
	}
	p.at = p.at.Add(time.Duration(float64(rows-p.rows) / p.rate * float64(time.Second)))
	p.rows = rows
	if d := p.at.Sub(now); d > 0 {
		return p.sleep(ctx, d)
	}
	if floor := now.Add(-paceBurst); p.at.Before(floor) {
		p.at = floor
	}
	return nil
}

// An export is paced while the app is busy: while its interactive pool
// hands out at least busyAcquiresPerSec connections a second, measured
// over busyWindow. A page view now and then, the job queue's polling or
// the export's own progress (when the pools are one) do not slow it.
const (
	busyAcquiresPerSec = 50
	busyWindow         = 100 * time.Millisecond
)

// interactiveBusy reports whether the app is answering requests (or
// running jobs) besides the export, whose reads and progress use the
// exports' own pool: whether the interactive pool handed out
// busyAcquiresPerSec connections a second over the last busyWindow.
func (s *Service) interactiveBusy() func() bool {
	last, at, busy := s.pool.Stat().AcquireCount(), s.clock.Now(), false
	return func() bool {
		now := s.clock.Now()
		if d := now.Sub(at); d >= busyWindow {
			n := s.pool.Stat().AcquireCount()
			busy = float64(n-last) >= busyAcquiresPerSec*d.Seconds()
			last, at = n, now
		}
		return busy
	}
}

// sleepCtx sleeps for d or until ctx is done.
func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}
