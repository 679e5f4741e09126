package postgres

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/jackc/pgerrcode"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/pressly/goose/v3"
	"github.com/riverqueue/river/rivermigrate"
)

// MigrationRun is the outcome of applying one migration.
type MigrationRun struct {
	// Name identifies the migration, as in MigrationState.
	Name string
	// Duration is how long it took to apply (or to fail).
	Duration time.Duration
	// Err is why it failed; nil when it was applied.
	Err error
}

// LockTimeout reports whether the migration failed waiting for a lock
// (lock_timeout expired: SQLSTATE 55P03, lock_not_available).
func (r MigrationRun) LockTimeout() bool { return hasCode(r.Err, pgerrcode.LockNotAvailable) }

// StatementTimeout reports whether the migration failed because a statement
// ran past statement_timeout (SQLSTATE 57014, query_canceled).
func (r MigrationRun) StatementTimeout() bool { return hasCode(r.Err, pgerrcode.QueryCanceled) }

func hasCode(err error, code string) bool {
	pgErr, ok := errors.AsType[*pgconn.PgError](err)
	return ok && pgErr.Code == code
}

// UpTimed applies every pending migration, River's first, like Up, and
// reports each one's duration. Applying stops at the first failure, which is
// the last run returned (with Err set) as well as the returned error.
func (m *Migrator) UpTimed(ctx context.Context) ([]MigrationRun, error) {
	var runs []MigrationRun
	start := time.Now()
	res, err := m.river.Migrate(ctx, rivermigrate.DirectionUp, nil)
	if err != nil {
		// River does not say which of its migrations failed.
		runs = append(runs, MigrationRun{Name: "river", Duration: time.Since(start), Err: err})
		return runs, fmt.Errorf("apply River migrations: %w", err)
	}
	for _, v := range res.Versions {
		runs = append(runs, MigrationRun{Name: riverName(v.Version), Duration: v.Duration})
	}
	results, err := m.goose.Up(ctx)
	for _, r := range results {
		runs = append(runs, MigrationRun{Name: filepath.Base(r.Source.Path), Duration: r.Duration, Err: r.Error})
	}
	if err != nil {
		if partial, ok := errors.AsType[*goose.PartialError](err); ok && partial.Failed != nil &&
			(len(runs) == 0 || runs[len(runs)-1].Err == nil) {
			f := partial.Failed
			runErr := f.Error
			if runErr == nil {
				runErr = partial.Err
			}
			runs = append(runs, MigrationRun{Name: filepath.Base(f.Source.Path), Duration: f.Duration, Err: runErr})
		}
		return runs, fmt.Errorf("apply migrations: %w", err)
	}
	return runs, nil
}
