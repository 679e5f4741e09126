package postgres

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Migrations returns the embedded SQL migrations, named NNNNN_name.sql.
func Migrations() fs.FS {
	sub, _ := fs.Sub(migrationFiles, "migrations") // cannot fail: the directory is embedded
	return sub
}

// MigrationState is the state of one migration, River's or Groundwork's.
type MigrationState struct {
	// Name identifies the migration, e.g. "00001_heartbeats.sql" or "river 006".
	Name string
	// Applied reports whether the migration is applied.
	Applied bool
	// AppliedAt is when it was applied (zero when pending or unknown).
	AppliedAt time.Time
}

// Migrator applies River's migrations and then Groundwork's own, as the
// owner role. A goose session lock (a PostgreSQL advisory lock) keeps two
// processes from migrating the same database at once.
type Migrator struct {
	pool  *pgxpool.Pool
	db    *sql.DB
	goose *goose.Provider
	river *rivermigrate.Migrator[pgx.Tx]
}

// MigratorOption adjusts the Migrator's connections.
type MigratorOption func(*pgxpool.Config)

// WithLockTimeout sets lock_timeout on every connection of the Migrator, so
// that a statement waiting for a lock fails with SQLSTATE 55P03 after d
// instead of queueing behind (and in front of) other queries. A migration's
// own SET LOCAL lock_timeout still overrides it inside that migration.
func WithLockTimeout(d time.Duration) MigratorOption {
	return func(cfg *pgxpool.Config) {
		cfg.ConnConfig.RuntimeParams["lock_timeout"] = strconv.FormatInt(d.Milliseconds(), 10) + "ms"
	}
}

// NewMigrator connects to ownerURL and prepares both migration sets. Close it
// when done.
func NewMigrator(ctx context.Context, ownerURL string, logger *slog.Logger, opts ...MigratorOption) (*Migrator, error) {
	cfg, err := pgxpool.ParseConfig(ownerURL)
	if err != nil {
		return nil, fmt.Errorf("parse owner database URL: %w", err)
	}
	cfg.MaxConns = 4
	for _, o := range opts {
		o(cfg)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect as owner: %w", err)
	}
	m := &Migrator{pool: pool, db: stdlib.OpenDBFromPool(pool)}
	locker, err := lock.NewPostgresSessionLocker(lock.WithLockTimeout(1, 600))
	if err != nil {
		m.Close()
		return nil, fmt.Errorf("create migration lock: %w", err)
	}
	m.goose, err = goose.NewProvider(goose.DialectPostgres, m.db, Migrations(),
		goose.WithSessionLocker(locker), goose.WithSlog(logger))
	if err != nil {
		m.Close()
		return nil, fmt.Errorf("load migrations: %w", err)
	}
	m.river, err = rivermigrate.New(riverpgxv5.New(pool), &rivermigrate.Config{Logger: logger})
	if err != nil {
		m.Close()
		return nil, fmt.Errorf("load River migrations: %w", err)
	}
	return m, nil
}

// Close releases the migrator's connections.
func (m *Migrator) Close() {
	if m.goose != nil {
		_ = m.goose.Close() // closes m.db
	} else if m.db != nil {
		_ = m.db.Close()
	}
	m.pool.Close()
}

// Up applies every pending migration, River's first, and returns the names of
// those it applied.
func (m *Migrator) Up(ctx context.Context) ([]string, error) {
	var applied []string
	res, err := m.river.Migrate(ctx, rivermigrate.DirectionUp, nil)
	if err != nil {
		return nil, fmt.Errorf("apply River migrations: %w", err)
	}
	for _, v := range res.Versions {
		applied = append(applied, riverName(v.Version))
	}
	results, err := m.goose.Up(ctx)
	for _, r := range results {
		if r.Error == nil {
			applied = append(applied, filepath.Base(r.Source.Path))
		}
	}
	if err != nil {
		return applied, fmt.Errorf("apply migrations: %w", err)
	}
	return applied, nil
}

// Down rolls back the newest applied Groundwork migration and returns its
// name. River's migrations are left alone. It returns an error when there is
// nothing to roll back.
func (m *Migrator) Down(ctx context.Context) (string, error) {
	r, err := m.goose.Down(ctx)
	if err != nil {
		if errors.Is(err, goose.ErrNoNextVersion) {
			return "", errors.New("roll back: no migration is applied")
		}
		return "", fmt.Errorf("roll back: %w", err)
	}
	return filepath.Base(r.Source.Path), nil
}

// DownTo rolls back Groundwork migrations, newest first, until version is the
// newest applied (0: all of them), and returns the names of those it rolled
// back. River's migrations are left alone.
func (m *Migrator) DownTo(ctx context.Context, version int64) ([]string, error) {
	results, err := m.goose.DownTo(ctx, version)
	var names []string
	for _, r := range results {
		if r.Error == nil {
			names = append(names, filepath.Base(r.Source.Path))
		}
	}
	if err != nil {
		return names, fmt.Errorf("roll back to version %d: %w", version, err)
	}
	return names, nil
}

// Status lists every known migration, River's first, with whether it is applied.
func (m *Migrator) Status(ctx context.Context) ([]MigrationState, error) {
	var out []MigrationState
	existing, err := m.river.ExistingVersions(ctx)
	if err != nil {
		return nil, fmt.Errorf("read River migrations: %w", err)
	}
	for _, v := range m.river.AllVersions() {
		st := MigrationState{Name: riverName(v.Version)}
		if i := slices.IndexFunc(existing, func(e rivermigrate.Migration) bool { return e.Version == v.Version }); i >= 0 {
			st.Applied = true
		}
		out = append(out, st)
	}
	statuses, err := m.goose.Status(ctx)
	if err != nil {
		return nil, fmt.Errorf("read migrations: %w", err)
	}
	for _, s := range statuses {
		out = append(out, MigrationState{
			Name:      filepath.Base(s.Source.Path),
			Applied:   s.State == goose.StateApplied,
			AppliedAt: s.AppliedAt,
		})
	}
	return out, nil
}

// Pending returns the names of the migrations not yet applied.
func (m *Migrator) Pending(ctx context.Context) ([]string, error) {
	states, err := m.Status(ctx)
	if err != nil {
		return nil, err
	}
	var pending []string
	for _, s := range states {
		if !s.Applied {
			pending = append(pending, s.Name)
		}
	}
	return pending, nil
}

func riverName(version int) string { return fmt.Sprintf("river %03d", version) }

// LatestVersion returns the version number of the newest embedded Groundwork
// migration: the schema version a current database reports.
func LatestVersion() int64 {
	var latest int64
	entries, _ := fs.ReadDir(Migrations(), ".")
	for _, e := range entries {
		if v, ok := migrationVersion(e.Name()); ok && v > latest {
			latest = v
		}
	}
	return latest
}

var migrationName = regexp.MustCompile(`^(\d+)_[a-z0-9_]+\.sql$`)

func migrationVersion(name string) (int64, bool) {
	m := migrationName.FindStringSubmatch(name)
	if m == nil {
		return 0, false
	}
	v, err := strconv.ParseInt(m[1], 10, 64)
	return v, err == nil
}

var createName = regexp.MustCompile(`^[a-z][a-z0-9_]{0,62}$`)

// CreateMigration writes an empty, numbered SQL migration named name into
// dir and returns its path. The name must be lower_snake_case.
func CreateMigration(dir, name string) (string, error) {
	if !createName.MatchString(name) {
		return "", fmt.Errorf("migration name %q: use lower_snake_case letters, digits and underscores, starting with a letter", name)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return "", fmt.Errorf("read migrations directory: %w", err)
	}
	var next int64 = 1
	for _, e := range entries {
		if v, ok := migrationVersion(e.Name()); ok && v >= next {
			next = v + 1
		}
	}
	path := filepath.Join(dir, fmt.Sprintf("%05d_%s.sql", next, name))
	body := "-- " + name + ": say what this migration changes and why.\n" +
		"-- +goose Up\nSET LOCAL lock_timeout = '5s';\nSET LOCAL statement_timeout = '60s';\n\n" +
		"-- +goose Down\nSET LOCAL lock_timeout = '5s';\n"
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return "", fmt.Errorf("create migration: %w", err)
	}
	if _, err := f.WriteString(body); err != nil {
		f.Close()
		return "", fmt.Errorf("write migration: %w", err)
	}
	return path, f.Close()
}
