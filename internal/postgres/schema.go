package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgerrcode"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"
)

// SchemaChecker tells whether the database schema matches this build: every
// embedded migration applied, River's included, and none this build does not
// know, except one marked backward compatible (see CompatMarker). It runs as
// the runtime role.
type SchemaChecker struct {
	pool      *pgxpool.Pool
	wantApp   int64
	wantRiver int
}

// NewSchemaChecker returns a checker for the database behind pool.
func NewSchemaChecker(pool *pgxpool.Pool) (*SchemaChecker, error) {
	m, err := rivermigrate.New(riverpgxv5.New(pool), nil)
	if err != nil {
		return nil, fmt.Errorf("load River migrations: %w", err)
	}
	all := m.AllVersions()
	return &SchemaChecker{pool: pool, wantApp: LatestVersion(), wantRiver: all[len(all)-1].Version}, nil
}

// Version returns the newest applied Groundwork migration version.
func (s *SchemaChecker) Version(ctx context.Context) (int64, error) {
	app, _, err := s.versions(ctx)
	return app, err
}

// Check returns nil when the database answers and its schema is current, and
// otherwise an error saying which of the two is wrong. A schema one version
// ahead of this build is current when that version is in schema_compat; any
// other schema ahead of this build is an error wrapping ErrSchemaAhead.
func (s *SchemaChecker) Check(ctx context.Context) error {
	_, err := s.CheckAhead(ctx)
	return err
}

// CheckAhead is Check, also reporting whether the database is ahead of this
// build (by one backward-compatible migration, when err is nil).
func (s *SchemaChecker) CheckAhead(ctx context.Context) (ahead bool, err error) {
	app, river, err := s.versions(ctx)
	if err != nil {
		return false, err
	}
	if app < s.wantApp || river < s.wantRiver {
		return false, fmt.Errorf("schema not current: version %d of %d, River %d of %d; run groundwork migrate up",
			app, s.wantApp, river, s.wantRiver)
	}
	return CheckSchemaAhead(ctx, s.pool, app, s.wantApp)
}

func (s *SchemaChecker) versions(ctx context.Context) (app int64, river int, err error) {
	err = s.pool.QueryRow(ctx, `SELECT
		(SELECT coalesce(max(version_id), 0) FROM goose_db_version),
		(SELECT coalesce(max(version), 0) FROM river_migration WHERE line = 'main')`).Scan(&app, &river)
	if pgErr, ok := errors.AsType[*pgconn.PgError](err); ok && pgErr.Code == pgerrcode.UndefinedTable {
		return 0, 0, nil // never migrated: Check reports the schema as not current
	}
	if err != nil {
		return 0, 0, fmt.Errorf("database unreachable: %w", err)
	}
	return app, river, nil
}
