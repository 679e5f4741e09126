package backup

import (
	"bufio"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strings"

	"github.com/jackc/pgx/v5"
)

// openDump streams the plain pg_dump output of backup m: downloaded,
// decrypted (each 1 MB segment authenticated) and decompressed. Once the
// reader is at EOF, finish checks the stored size and SHA-256 against the
// manifest (it drains what is left first). close releases the download.
func (s *Service) openDump(ctx context.Context, m *Manifest) (dump io.Reader, finish func() error, closeFn func(), err error) {
	r, err := s.bucket.NewReader(ctx, dumpKey(m.ID), nil)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("open %s: %w", dumpKey(m.ID), err)
	}
	hash := sha256.New()
	stored := &counter{w: hash}
	tee := io.TeeReader(r, stored)
	dec, err := s.key.aead.NewDecryptingReader(tee, dumpAD(m.ID))
	if err != nil {
		r.Close()
		return nil, nil, nil, fmt.Errorf("backup %s: decrypt (wrong backup key, or damaged): %w", m.ID, err)
	}
	gz, err := gzip.NewReader(&errorf{r: dec, format: "backup %s: decrypt (damaged or wrong key): %w", id: m.ID})
	if err != nil {
		r.Close()
		return nil, nil, nil, fmt.Errorf("backup %s: decompress: %w", m.ID, err)
	}
	finish = func() error {
		if _, err := io.Copy(io.Discard, tee); err != nil {
			return fmt.Errorf("backup %s: download: %w", m.ID, err)
		}
		if stored.n != m.StoredBytes {
			return fmt.Errorf("backup %s: dump.enc is %d bytes, the manifest says %d", m.ID, stored.n, m.StoredBytes)
		}
		if sum := hex.EncodeToString(hash.Sum(nil)); sum != m.SHA256 {
			return fmt.Errorf("backup %s: dump.enc SHA-256 %s does not match the manifest's %s", m.ID, sum, m.SHA256)
		}
		return nil
	}
	return gz, finish, func() { r.Close() }, nil
}

// errorf wraps the errors of a reader (other than EOF) with context.
type errorf struct {
	r      io.Reader
	format string
	id     string
}

// Read implements io.Reader, wrapping a read error with the backup it came from.
func (e *errorf) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err != nil && !errors.Is(err, io.EOF) {
		err = fmt.Errorf(e.format, e.id, err)
	}
	return n, err
}

// feed runs cmd with src on its stdin. When cmd stops reading early
// (pg_restore --list reads only the table of contents), the rest of src is
// still read to its end, so that it is fully decrypted and checked.
func feed(cmd *exec.Cmd, src io.Reader) error {
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	rec := &readErr{r: src}
	_, copyErr := io.Copy(stdin, rec)
	if copyErr != nil && rec.err == nil { // the program closed its stdin
		_, copyErr = io.Copy(io.Discard, rec)
	}
	stdin.Close()
	waitErr := cmd.Wait()
	if copyErr != nil {
		return copyErr // a damaged dump explains a failing program
	}
	return waitErr
}

type readErr struct {
	r   io.Reader
	err error
}

// Read implements io.Reader, remembering the first read error.
func (r *readErr) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	if err != nil && !errors.Is(err, io.EOF) {
		r.err = err
	}
	return n, err
}

// VerifyReport is what Verify found.
type VerifyReport struct {
	Manifest *Manifest
	// Entries is the number of items in the dump's table of contents.
	Entries int
}

// Verify downloads backup id, checks its SHA-256 and size, decrypts and
// decompresses it fully, and reads its table of contents with
// pg_restore --list. Any damage is an error.
func (s *Service) Verify(ctx context.Context, id string) (*VerifyReport, error) {
	m, err := s.Manifest(ctx, id)
	if err != nil {
		return nil, err
	}
	pgRestore, err := s.tool("pg_restore")
	if err != nil {
		return nil, err
	}
	dump, finish, closeFn, err := s.openDump(ctx, m)
	if err != nil {
		return nil, err
	}
	defer closeFn()
	plain := &counter{w: io.Discard}
	var toc strings.Builder
	cmd := exec.CommandContext(ctx, pgRestore, "--list")
	cmd.Stdout = &toc
	var stderr strings.Builder
	cmd.Stderr = &limitedWriter{w: &stderr, n: 8 << 10}
	err = feed(cmd, io.TeeReader(dump, plain))
	if ferr := finish(); ferr != nil {
		return nil, ferr
	}
	if err != nil {
		return nil, fmt.Errorf("backup %s: pg_restore --list: %w: %s", id, err, strings.TrimSpace(stderr.String()))
	}
	if plain.n != m.DumpBytes {
		return nil, fmt.Errorf("backup %s: dump is %d bytes, the manifest says %d", id, plain.n, m.DumpBytes)
	}
	rep := &VerifyReport{Manifest: m}
	sc := bufio.NewScanner(strings.NewReader(toc.String()))
	for sc.Scan() {
		if line := strings.TrimSpace(sc.Text()); line != "" && !strings.HasPrefix(line, ";") {
			rep.Entries++
		}
	}
	if rep.Entries == 0 {
		return nil, fmt.Errorf("backup %s: the dump's table of contents is empty", id)
	}
	return rep, nil
}

// ErrTargetNotEmpty is returned by Restore for a database that already has
// tables, without Force.
var ErrTargetNotEmpty = errors.New("the target database is not empty")

// RestoreOptions tune Restore.
type RestoreOptions struct {
	// Force restores into a database that already has tables in public,
	// dropping the objects the backup holds first (pg_restore --clean).
	Force bool
}

// RestoreReport is what Restore did and found.
type RestoreReport struct {
	Manifest *Manifest
	// TablesChecked is the number of tables compared with the manifest.
	TablesChecked int
	// Mismatches lists tables whose row count or checksum differ.
	Mismatches []string
}

// OK reports whether every table matched the manifest.
func (r *RestoreReport) OK() bool { return len(r.Mismatches) == 0 }

// Restore restores backup id into the database at targetURL, as that URL's
// role (objects end up owned by it: pg_restore --no-owner), in a single
// transaction that stops at the first error. It refuses a database with
// tables in public unless opts.Force. It then compares every table's row
// count and checksum with the manifest; the role must bypass row-level
// security for that (a superuser, or BYPASSRLS). Mismatches are in the
// report and make the error non-nil.
func (s *Service) Restore(ctx context.Context, id, targetURL string, opts RestoreOptions) (*RestoreReport, error) {
	m, err := s.Manifest(ctx, id)
	if err != nil {
		return nil, err
	}
	pgRestore, err := s.tool("pg_restore")
	if err != nil {
		return nil, err
	}
	conn, err := pgx.Connect(ctx, targetURL)
	if err != nil {
		return nil, fmt.Errorf("restore: connect to the target: %w", err)
	}
	var tables int
	err = conn.QueryRow(ctx, `SELECT count(*) FROM pg_tables WHERE schemaname = 'public'`).Scan(&tables)
	conn.Close(context.WithoutCancel(ctx))
	if err != nil {
		return nil, fmt.Errorf("restore: inspect the target: %w", err)
	}
	if tables > 0 && !opts.Force {
		return nil, fmt.Errorf("restore: %w (%d tables in public); restore into an empty database, or use --force to replace the backup's objects", ErrTargetNotEmpty, tables)
	}
	dump, finish, closeFn, err := s.openDump(ctx, m)
	if err != nil {
		return nil, err
	}
	defer closeFn()
	cmdURL, password, err := splitPassword(targetURL)
	if err != nil {
		return nil, err
	}
	args := []string{"--dbname=" + cmdURL, "--no-owner", "--no-password", "--exit-on-error", "--single-transaction"}
	if opts.Force {
		args = append(args, "--clean", "--if-exists")
	}
	cmd := exec.CommandContext(ctx, pgRestore, args...)
	cmd.Env = pgEnv(password)
	var stderr strings.Builder
	cmd.Stderr = &limitedWriter{w: &stderr, n: 8 << 10}
	err = feed(cmd, dump)
	if ferr := finish(); ferr != nil {
		return nil, fmt.Errorf("restore: %w", ferr)
	}
	if err != nil {
		return nil, fmt.Errorf("restore: pg_restore: %w: %s", err, strings.TrimSpace(stderr.String()))
	}
	rep := &RestoreReport{Manifest: m}
	if rep.TablesChecked, rep.Mismatches, err = Check(ctx, targetURL, m); err != nil {
		return rep, fmt.Errorf("restore: check: %w", err)
	}
	if !rep.OK() {
		return rep, fmt.Errorf("restore: %d of %d tables differ from the backup's manifest: %s",
			len(rep.Mismatches), rep.TablesChecked, strings.Join(rep.Mismatches, "; "))
	}
	return rep, nil
}

// Check compares the tables of the database at url with the manifest m:
// each table's row count and checksum. It returns how many tables it
// compared and a description of each mismatch (missing tables included).
func Check(ctx context.Context, url string, m *Manifest) (int, []string, error) {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return 0, nil, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	tx, err := conn.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return 0, nil, err
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	got, err := TableChecksums(ctx, tx)
	if err != nil {
		return 0, nil, err
	}
	return len(m.Tables), Compare(m.Tables, got), nil
}

// Compare lists the differences between the tables of a manifest (want)
// and those found (got). Tables found but not in the manifest are ignored.
func Compare(want, got []Table) []string {
	found := make(map[string]Table, len(got))
	for _, t := range got {
		found[t.QualifiedName()] = t
	}
	var out []string
	for _, w := range want {
		g, ok := found[w.QualifiedName()]
		switch {
		case !ok:
			out = append(out, w.QualifiedName()+": missing")
		case g.Rows != w.Rows:
			out = append(out, fmt.Sprintf("%s: %d rows, the backup has %d", w.QualifiedName(), g.Rows, w.Rows))
		case g.Checksum != w.Checksum:
			out = append(out, fmt.Sprintf("%s: checksum %s, the backup has %s", w.QualifiedName(), g.Checksum, w.Checksum))
		}
	}
	return out
}
