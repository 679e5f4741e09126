// Package backup takes, lists, verifies, prunes, restores and rehearses
// logical backups of the application database.
//
// A backup is pg_dump --format=custom run against a snapshot exported by a
// REPEATABLE READ transaction that stays open while pg_dump runs. In that
// same transaction the manifest is computed: every table's row count and
// content checksum, the schema version (goose and River) and the app
// version. So the manifest describes exactly the data in the dump, and a
// restore can be checked against it. pg_dump takes ACCESS SHARE locks only:
// backups never block reads or writes (only DDL such as ALTER TABLE waits).
//
// Row-level security: the backup connects as a role that bypasses it (the
// embedded cluster's superuser; on an external server a role with
// BYPASSRLS), with row_security = off, so that a role which cannot see
// every row makes the backup fail instead of silently skipping rows.
//
// Storage, in a gocloud.dev/blob bucket (file:// or s3://):
//
//	backups/<id>/dump.enc       gzip of the dump, encrypted with Tink streaming
//	                            AEAD (AES256_GCM_HKDF_1MB), associated data "<id>/dump"
//	backups/<id>/manifest.json  written last: sizes, SHA-256 of dump.enc, tables
//
// A backup without its manifest is incomplete (interrupted): List reports
// it as such and nothing restores it.
package backup

import (
	"compress/gzip"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"gocloud.dev/blob"

	"github.com/groundwork-dev/groundwork/internal/gw"
	"github.com/groundwork-dev/groundwork/internal/postgres"
)

// Manifest describes one complete backup. It is computed in the snapshot
// the dump was taken from.
type Manifest struct {
	ID            string    `json:"id"`
	StartedAt     time.Time `json:"started_at"`
	FinishedAt    time.Time `json:"finished_at"`
	AppVersion    string    `json:"app_version"`
	SchemaVersion int64     `json:"schema_version"` // newest applied goose migration
	RiverVersion  int       `json:"river_version"`  // newest applied River migration
	Database      string    `json:"database"`
	ServerVersion string    `json:"server_version"`
	Format        string    `json:"format"`       // "pg_dump custom"
	Compression   string    `json:"compression"`  // "gzip"
	Encryption    string    `json:"encryption"`   // "tink AES256_GCM_HKDF_1MB"
	KeyID         uint32    `json:"key_id"`       // primary key of the backup keyset
	DumpBytes     int64     `json:"dump_bytes"`   // pg_dump's output
	StoredBytes   int64     `json:"stored_bytes"` // dump.enc
	SHA256        string    `json:"sha256"`       // of dump.enc, hex
	Checksum      string    `json:"checksum"`     // how table checksums are computed
	Tables        []Table   `json:"tables"`
}

// Table is one table's row count and content checksum.
type Table struct {
	Schema   string `json:"schema"`
	Name     string `json:"name"`
	Rows     int64  `json:"rows"`
	Checksum string `json:"checksum"`
}

// QualifiedName is schema.name.
func (t Table) QualifiedName() string { return t.Schema + "." + t.Name }

// ChecksumMethod documents Table.Checksum: the sum, as numeric, of
// hashtextextended(row::text, 0) over the table's rows. It is independent
// of row order (no primary key needed) and computed with fixed output
// settings (ChecksumSettings), so the same rows give the same checksum on
// any server of the same major version. A sum of 64-bit hashes can in
// principle hide compensating changes; it is a check of the restore, not a
// cryptographic proof (the dump itself is authenticated by AEAD and SHA-256).
const ChecksumMethod = "sum(hashtextextended(row::text, 0))"

// ChecksumSettings fix every setting that changes a row's text form.
var ChecksumSettings = []string{
	"SET LOCAL TimeZone = 'UTC'",
	"SET LOCAL DateStyle = 'ISO, YMD'",
	"SET LOCAL IntervalStyle = 'postgres'",
	"SET LOCAL extra_float_digits = 3",
	"SET LOCAL bytea_output = 'hex'",
	"SET LOCAL row_security = off",
}

// Config configures a Service.
type Config struct {
	// BinDir holds pg_dump, pg_restore and pg_amcheck; "" finds them
	// (postgres.FindBinaries, then PATH).
	BinDir string
	// AppVersion is recorded in each manifest.
	AppVersion string
	// Logger receives progress messages; nil discards them.
	Logger *slog.Logger
	// Clock tells the time; nil means the system clock.
	Clock gw.Clock
}

// Service takes and manages backups in a bucket.
type Service struct {
	bucket *blob.Bucket
	key    *Key
	cfg    Config
}

// New returns a Service storing backups in bucket, encrypted with key.
func New(bucket *blob.Bucket, key *Key, cfg Config) *Service {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Clock == nil {
		cfg.Clock = gw.SystemClock{}
	}
	if cfg.BinDir == "" {
		if dir, err := postgres.FindBinaries(); err == nil {
			cfg.BinDir = dir
		}
	}
	return &Service{bucket: bucket, key: key, cfg: cfg}
}

// tool returns the path of a PostgreSQL client program.
func (s *Service) tool(name string) (string, error) {
	if s.cfg.BinDir != "" {
		p := filepath.Join(s.cfg.BinDir, name)
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	p, err := exec.LookPath(name)
	if err != nil {
		return "", fmt.Errorf("%s not found (in %q or on PATH): install the PostgreSQL client programs", name, s.cfg.BinDir)
	}
	return p, nil
}

func dumpKey(id string) string     { return "backups/" + id + "/dump.enc" }
func manifestKey(id string) string { return "backups/" + id + "/manifest.json" }
func dumpAD(id string) []byte      { return []byte(id + "/dump") }

// newID is sortable by time: 20260102T150405Z-1a2b3c.
func newID(now time.Time) string {
	var b [3]byte
	_, _ = rand.Read(b[:])
	return now.UTC().Format("20060102T150405Z") + "-" + hex.EncodeToString(b[:])
}

// Create backs up the database at sourceURL, which must connect as a role
// that bypasses row-level security, and returns the manifest once it is
// stored. On any error, or a cancelled ctx, no manifest is written.
func (s *Service) Create(ctx context.Context, sourceURL string) (*Manifest, error) {
	pgDump, err := s.tool("pg_dump")
	if err != nil {
		return nil, err
	}
	m := &Manifest{
		ID: newID(s.cfg.Clock.Now()), StartedAt: s.cfg.Clock.Now().UTC(), AppVersion: s.cfg.AppVersion,
		Format: "pg_dump custom", Compression: "gzip", Encryption: "tink AES256_GCM_HKDF_1MB",
		KeyID: s.key.keyID, Checksum: ChecksumMethod,
	}
	log := s.cfg.Logger.With("backup", m.ID)
	conn, err := pgx.Connect(ctx, sourceURL)
	if err != nil {
		return nil, fmt.Errorf("backup: connect: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	tx, err := conn.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return nil, fmt.Errorf("backup: begin: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	var snapshot string
	if err := tx.QueryRow(ctx, `SELECT pg_export_snapshot()`).Scan(&snapshot); err != nil {
		return nil, fmt.Errorf("backup: export snapshot: %w", err)
	}
	if err := describe(ctx, tx, m); err != nil {
		return nil, fmt.Errorf("backup: manifest: %w", err)
	}
	if m.Tables, err = TableChecksums(ctx, tx); err != nil {
		return nil, fmt.Errorf("backup: manifest: %w", err)
	}

	// Upload: pg_dump → gzip → encrypt → SHA-256 → blob. The writer's
	// context is cancelled on failure, which discards the partial object.
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	w, err := s.bucket.NewWriter(wctx, dumpKey(m.ID), &blob.WriterOptions{ContentType: "application/octet-stream"})
	if err != nil {
		return nil, fmt.Errorf("backup: open %s: %w", dumpKey(m.ID), err)
	}
	hash := sha256.New()
	stored := &counter{w: io.MultiWriter(w, hash)}
	enc, err := s.key.aead.NewEncryptingWriter(stored, dumpAD(m.ID))
	if err != nil {
		cancel()
		_ = w.Close()
		return nil, fmt.Errorf("backup: encrypt: %w", err)
	}
	zw, _ := gzip.NewWriterLevel(enc, gzip.BestSpeed)
	raw := &counter{w: zw}

	cmdURL, password, err := splitPassword(sourceURL)
	if err != nil {
		cancel()
		_ = w.Close()
		return nil, err
	}
	cmd := exec.CommandContext(ctx, pgDump, "--format=custom", "--compress=0", "--no-password",
		"--snapshot="+snapshot, "--dbname="+cmdURL)
	cmd.Env = pgEnv(password)
	cmd.Stdout = raw
	var stderr strings.Builder
	cmd.Stderr = &limitedWriter{w: &stderr, n: 8 << 10}
	log.Info("backup started", "tables", len(m.Tables))
	err = cmd.Run()
	if err == nil {
		err = zw.Close()
	}
	if err == nil {
		err = enc.Close()
	}
	if err == nil {
		err = ctx.Err()
	}
	if err != nil {
		cancel()
		_ = w.Close()
		if msg := strings.TrimSpace(stderr.String()); msg != "" {
			return nil, fmt.Errorf("backup: pg_dump: %w: %s", err, msg)
		}
		return nil, fmt.Errorf("backup: %w", err)
	}
	if err := w.Close(); err != nil {
		return nil, fmt.Errorf("backup: store %s: %w", dumpKey(m.ID), err)
	}
	_ = tx.Commit(ctx) // read-only; the snapshot is no longer needed

	m.DumpBytes, m.StoredBytes = raw.n, stored.n
	m.SHA256 = hex.EncodeToString(hash.Sum(nil))
	m.FinishedAt = s.cfg.Clock.Now().UTC()
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := s.bucket.WriteAll(ctx, manifestKey(m.ID), b, &blob.WriterOptions{ContentType: "application/json"}); err != nil {
		return nil, fmt.Errorf("backup: store manifest: %w", err)
	}
	log.Info("backup done", "dump_bytes", m.DumpBytes, "stored_bytes", m.StoredBytes,
		"duration", m.FinishedAt.Sub(m.StartedAt).Round(time.Millisecond))
	return m, nil
}

// describe fills in the manifest's database, server and schema versions.
func describe(ctx context.Context, q pgx.Tx, m *Manifest) error {
	if err := q.QueryRow(ctx, `SELECT current_database(), current_setting('server_version')`).Scan(&m.Database, &m.ServerVersion); err != nil {
		return err
	}
	var goose, river bool
	if err := q.QueryRow(ctx, `SELECT to_regclass('goose_db_version') IS NOT NULL, to_regclass('river_migration') IS NOT NULL`).Scan(&goose, &river); err != nil {
		return err
	}
	if goose {
		if err := q.QueryRow(ctx, `SELECT coalesce(max(version_id), 0) FROM goose_db_version WHERE is_applied`).Scan(&m.SchemaVersion); err != nil {
			return err
		}
	}
	if river {
		if err := q.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM river_migration WHERE line = 'main'`).Scan(&m.RiverVersion); err != nil {
			return err
		}
	}
	return nil
}

// TableChecksums returns every user table's row count and checksum
// (ChecksumMethod), ordered by schema and name, read in tx. It fails when
// row-level security would hide rows from the connected role.
func TableChecksums(ctx context.Context, tx pgx.Tx) ([]Table, error) {
	for _, s := range ChecksumSettings {
		if _, err := tx.Exec(ctx, s); err != nil {
			return nil, fmt.Errorf("%s: %w", s, err)
		}
	}
	rows, err := tx.Query(ctx, `SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\_%'
		ORDER BY 1, 2`)
	if err != nil {
		return nil, fmt.Errorf("list tables: %w", err)
	}
	tables, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Table, error) {
		var t Table
		return t, r.Scan(&t.Schema, &t.Name)
	})
	if err != nil {
		return nil, fmt.Errorf("list tables: %w", err)
	}
	for i := range tables {
		t := &tables[i]
		ident := pgx.Identifier{t.Schema, t.Name}.Sanitize()
		err := tx.QueryRow(ctx, `SELECT count(*), coalesce(sum(hashtextextended(t::text, 0)), 0)::text FROM `+ident+` t`).Scan(&t.Rows, &t.Checksum)
		if err != nil {
			return nil, fmt.Errorf("checksum %s (the role must bypass row-level security): %w", t.QualifiedName(), err)
		}
	}
	return tables, nil
}

// splitPassword removes the password from a connection URL, to pass it to
// a client program through PGPASSWORD instead of its command line.
func splitPassword(conn string) (string, string, error) {
	u, err := url.Parse(conn)
	if err != nil || u.Scheme == "" {
		return conn, "", nil // keyword/value form: passed as is
	}
	pw, _ := u.User.Password()
	if u.User != nil {
		u.User = url.User(u.User.Username())
	}
	q := u.Query()
	if q.Has("password") {
		pw = q.Get("password")
		q.Del("password")
		u.RawQuery = q.Encode()
	}
	return u.String(), pw, nil
}

// pgEnv is the environment of a client program: ours without libpq's
// variables, plus the password.
func pgEnv(password string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "PG") {
			env = append(env, kv)
		}
	}
	if password != "" {
		env = append(env, "PGPASSWORD="+password)
	}
	return env
}

type counter struct {
	w io.Writer
	n int64
}

// Write implements io.Writer, counting what the underlying writer took.
func (c *counter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// limitedWriter keeps the first n bytes and drops the rest.
type limitedWriter struct {
	w io.Writer
	n int
}

// Write implements io.Writer: it keeps what fits and reports all of p written.
func (l *limitedWriter) Write(p []byte) (int, error) {
	if l.n > 0 {
		k := min(len(p), l.n)
		_, _ = l.w.Write(p[:k])
		l.n -= k
	}
	return len(p), nil
}

// ErrNotFound is returned for a backup ID with no complete backup.
var ErrNotFound = errors.New("backup not found")
