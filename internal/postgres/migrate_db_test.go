package postgres_test

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/groundwork-dev/groundwork/internal/pgtest"
	"github.com/groundwork-dev/groundwork/internal/postgres"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

var emptyDBs atomic.Int64

// emptyDatabase creates a database with the roles' privileges but no
// migrations (pgtest's databases are clones of a migrated template), owned
// by postgres.OwnerRole, and returns its owner URL. It is dropped when the
// test ends.
func emptyDatabase(t *testing.T) string {
	t.Helper()
	ctx := context.Background()
	local := pgtest.Cluster(t)
	name := fmt.Sprintf("empty_%d", emptyDBs.Add(1))
	admin, err := pgx.Connect(ctx, local.SuperuserURL("postgres"))
	require.NoError(t, err)
	defer admin.Close(ctx)
	_, err = admin.Exec(ctx, "CREATE DATABASE "+name+" TEMPLATE template0 OWNER "+postgres.OwnerRole)
	require.NoError(t, err)
	t.Cleanup(func() {
		admin, err := pgx.Connect(context.Background(), local.SuperuserURL("postgres"))
		if err != nil {
			return // the cluster is gone with it
		}
		defer admin.Close(context.Background())
		_, _ = admin.Exec(context.Background(), "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
	})
	setup, err := pgx.Connect(ctx, local.SuperuserURL(name))
	require.NoError(t, err)
	defer setup.Close(ctx)
	for _, sql := range postgres.DatabaseSetupSQL() {
		_, err := setup.Exec(ctx, sql)
		require.NoError(t, err, sql)
	}
	return local.URL(postgres.OwnerRole, name)
}

// catalog is a text dump of the schema: columns, indexes, constraints,
// row-level security policies, functions and the runtime role's grants.
func catalog(t *testing.T, url string) string {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	require.NoError(t, err)
	defer conn.Close(ctx)
	var b strings.Builder
	for _, q := range []string{
		`SELECT table_name, column_name, data_type, is_nullable, coalesce(column_default, ''), ordinal_position::text
		 FROM information_schema.columns WHERE table_schema = 'public' ORDER BY 1, 2`,
		`SELECT tablename, indexname, indexdef, '', '', '' FROM pg_indexes WHERE schemaname = 'public' ORDER BY 1, 2`,
		`SELECT tablename, policyname, cmd, array_to_string(roles, ','), coalesce(qual, ''), coalesce(with_check, '')
		 FROM pg_policies WHERE schemaname = 'public' ORDER BY 1, 2`,
		`SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid), '', '', ''
		 FROM pg_constraint WHERE connamespace = 'public'::regnamespace ORDER BY 1, 2`,
		`SELECT proname, pg_get_function_identity_arguments(oid), md5(prosrc), '', '', ''
		 FROM pg_proc WHERE pronamespace = 'public'::regnamespace ORDER BY 1, 2`,
		`SELECT table_name, grantee, privilege_type, '', '', ''
		 FROM information_schema.role_table_grants WHERE table_schema = 'public' AND grantee = '` + postgres.RuntimeRole + `' ORDER BY 1, 2, 3`,
		`SELECT c.relname, c.relrowsecurity::text, c.relforcerowsecurity::text, '', '', ''
		 FROM pg_class c WHERE c.relnamespace = 'public'::regnamespace AND c.relkind = 'r' ORDER BY 1`,
	} {
		rows, err := conn.Query(ctx, q)
		require.NoError(t, err, q)
		for rows.Next() {
			var f [6]string
			require.NoError(t, rows.Scan(&f[0], &f[1], &f[2], &f[3], &f[4], &f[5]))
			b.WriteString(strings.Join(f[:], " | ") + "\n")
		}
		require.NoError(t, rows.Err())
		b.WriteString("--\n")
	}
	return b.String()
}

// TestMigrateUpDownUp applies every migration to an empty database, rolls
// every Groundwork migration back, applies them again, and requires the same
// schema both times: every Down section undoes its Up.
func TestMigrateUpDownUp(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := emptyDatabase(t)
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	m, err := postgres.NewMigrator(ctx, url, logger)
	require.NoError(t, err)
	defer m.Close()

	applied, err := m.Up(ctx)
	require.NoError(t, err)
	require.Contains(t, applied, "00001_heartbeats.sql")
	first := catalog(t, url)
	require.Contains(t, first, "schema_compat")

	rolledBack, err := m.DownTo(ctx, 0)
	require.NoError(t, err)
	// One per file (a branch's numbers may have gaps until the merge
	// renumbers them).
	files, err := fs.ReadDir(postgres.Migrations(), ".")
	require.NoError(t, err)
	require.Len(t, rolledBack, len(files), "every Groundwork migration is rolled back")
	pending, err := m.Pending(ctx)
	require.NoError(t, err)
	require.Len(t, pending, len(files))
	down := catalog(t, url)
	for _, table := range []string{"users", "contacts", "audit_events", "schema_compat"} {
		require.NotContains(t, down, table+" |", "after rolling everything back")
	}

	_, err = m.Up(ctx)
	require.NoError(t, err)
	require.Equal(t, first, catalog(t, url), "the schema after up, down to 0, up differs from the first up")
	_, err = m.DownTo(ctx, 0)
	require.NoError(t, err)
	_, err = m.Down(ctx)
	require.ErrorContains(t, err, "no migration is applied")
}

// fakeAhead records a migration version this binary does not have, as a
// newer release's migrate up would, and optionally marks it compatible.
func fakeAhead(t *testing.T, owner *pgxpool.Pool, version int64, compatible bool) {
	t.Helper()
	ctx := context.Background()
	_, err := owner.Exec(ctx, `INSERT INTO goose_db_version (version_id, is_applied) VALUES ($1, true)`, version)
	require.NoError(t, err)
	if compatible {
		_, err = owner.Exec(ctx, `INSERT INTO schema_compat (version) VALUES ($1)`, version)
		require.NoError(t, err)
	}
}

// TestSchemaAhead: a schema one version ahead is accepted only when that
// version is in schema_compat; further ahead never.
func TestSchemaAhead(t *testing.T) {
	t.Parallel()
	latest := postgres.LatestVersion()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	check := func(t *testing.T, db *pgtest.DB) (bool, error) {
		ctx := context.Background()
		c, err := postgres.NewSchemaChecker(db.Runtime)
		require.NoError(t, err)
		ahead, err := c.CheckAhead(ctx)
		require.Equal(t, err, c.Check(ctx))
		// The Migrator (prepareSchema) agrees.
		m, merr := postgres.NewMigrator(ctx, db.OwnerURL, logger)
		require.NoError(t, merr)
		defer m.Close()
		_, mAhead, merr := m.CheckAhead(ctx)
		require.Equal(t, ahead, mAhead)
		require.Equal(t, err == nil, merr == nil, "checker: %v, migrator: %v", err, merr)
		return ahead, err
	}

	t.Run("current", func(t *testing.T) {
		t.Parallel()
		ahead, err := check(t, pgtest.New(t))
		require.NoError(t, err)
		require.False(t, ahead)
	})
	t.Run("one ahead, compatible", func(t *testing.T) {
		t.Parallel()
		db := pgtest.New(t)
		fakeAhead(t, db.Owner, latest+1, true)
		ahead, err := check(t, db)
		require.NoError(t, err)
		require.True(t, ahead)
	})
	t.Run("one ahead, not compatible", func(t *testing.T) {
		t.Parallel()
		db := pgtest.New(t)
		fakeAhead(t, db.Owner, latest+1, false)
		_, err := check(t, db)
		require.ErrorIs(t, err, postgres.ErrSchemaAhead)
		require.ErrorContains(t, err, fmt.Sprintf("database schema is ahead of this binary: version %d > %d; deploy the newer version", latest+1, latest))
	})
	t.Run("two ahead, both compatible", func(t *testing.T) {
		t.Parallel()
		db := pgtest.New(t)
		fakeAhead(t, db.Owner, latest+1, true)
		fakeAhead(t, db.Owner, latest+2, true)
		_, err := check(t, db)
		require.ErrorIs(t, err, postgres.ErrSchemaAhead)
		require.ErrorContains(t, err, fmt.Sprintf("version %d > %d", latest+2, latest))
	})
	t.Run("runtime role cannot mark", func(t *testing.T) {
		t.Parallel()
		db := pgtest.New(t)
		_, err := db.Runtime.Exec(context.Background(), `INSERT INTO schema_compat (version) VALUES ($1)`, latest+1)
		require.ErrorContains(t, err, "permission denied")
	})
}
