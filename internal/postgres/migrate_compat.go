package postgres

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strings"

	"github.com/jackc/pgerrcode"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// CompatMarker, as the first line of a migration file, marks the migration
// backward compatible: the previous release runs correctly on the schema it
// leaves (it only adds tables, nullable or defaulted columns, indexes,
// functions; it drops or renames nothing the previous release uses). Such a
// migration must also record itself in the database, where the previous
// release, which has never seen the file, can find it:
//
//	-- groundwork: backward-compatible
//	-- +goose Up
//	INSERT INTO schema_compat (version) VALUES (N);
//	-- +goose Down
//	DELETE FROM schema_compat WHERE version = N;
//
// TestCompatMarkers keeps the file marker and the row in step.
const CompatMarker = "-- groundwork: backward-compatible"

// ErrSchemaAhead is returned (wrapped) when the database has a migration this
// binary does not know and that migration is not marked backward compatible.
var ErrSchemaAhead = errors.New("database schema is ahead of this binary")

// querier is what CheckSchemaAhead needs of a pool or connection.
type querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// CheckSchemaAhead compares the database's newest Groundwork migration,
// dbVersion, with known, the newest this binary embeds (LatestVersion). It
// returns ahead == false and nil when the database is not ahead. When it is
// exactly one version ahead and that version is in schema_compat, it returns
// ahead == true and nil: the caller may run, and should say so. Anything
// further ahead is an error wrapping ErrSchemaAhead.
func CheckSchemaAhead(ctx context.Context, q querier, dbVersion, known int64) (ahead bool, err error) {
	if dbVersion <= known {
		return false, nil
	}
	refuse := fmt.Errorf("%w: version %d > %d; deploy the newer version", ErrSchemaAhead, dbVersion, known)
	if dbVersion != known+1 {
		return true, refuse
	}
	var compatible bool
	err = q.QueryRow(ctx, `SELECT EXISTS (SELECT FROM schema_compat WHERE version = $1)`, dbVersion).Scan(&compatible)
	if pgErr, ok := errors.AsType[*pgconn.PgError](err); ok && pgErr.Code == pgerrcode.UndefinedTable {
		return true, refuse
	}
	if err != nil {
		return true, fmt.Errorf("read schema_compat: %w", err)
	}
	if !compatible {
		return true, fmt.Errorf("%w (migration %d is not marked backward compatible)", refuse, dbVersion)
	}
	return true, nil
}

// CheckAhead is CheckSchemaAhead for the Migrator's database and this
// binary's migrations.
func (m *Migrator) CheckAhead(ctx context.Context) (dbVersion int64, ahead bool, err error) {
	err = m.pool.QueryRow(ctx, `SELECT coalesce(max(version_id), 0) FROM goose_db_version`).Scan(&dbVersion)
	if pgErr, ok := errors.AsType[*pgconn.PgError](err); ok && pgErr.Code == pgerrcode.UndefinedTable {
		return 0, false, nil // never migrated
	}
	if err != nil {
		return 0, false, fmt.Errorf("read schema version: %w", err)
	}
	ahead, err = CheckSchemaAhead(ctx, m.pool, dbVersion, LatestVersion())
	return dbVersion, ahead, err
}

// compatMarked reports whether the embedded migration file name carries
// CompatMarker on its first line.
func compatMarked(fsys fs.FS, name string) (bool, error) {
	b, err := fs.ReadFile(fsys, name)
	if err != nil {
		return false, err
	}
	first, _, _ := strings.Cut(string(b), "\n")
	return strings.TrimSpace(first) == CompatMarker, nil
}
