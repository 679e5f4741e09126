package main

import (
	"context"
	"io"
	"io/fs"
	"log/slog"
	"regexp"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/groundwork-dev/groundwork/internal/postgres"
)

// latestMigration returns the file name of the newest embedded migration.
func latestMigration(t *testing.T) string {
	t.Helper()
	names, err := fs.Glob(postgres.Migrations(), "*.sql")
	require.NoError(t, err)
	require.NotEmpty(t, names)
	return names[len(names)-1] // zero-padded: lexical order is version order
}

// TestMigrateRehearse rehearses the pending migration on a database (here the
// embedded cluster's, standing in for a restored copy): each migration's
// duration is reported; a migration blocked on a lock is reported as a lock
// timeout; a slow one fails -max-duration.
func TestMigrateRehearse(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	env := map[string]string{"GROUNDWORK_DATA_DIR": dataDir(t)}
	_, _, err := runCmd(t, env, "migrate", "rehearse")
	require.ErrorContains(t, err, "migrate rehearse:", "without -from-url it needs a backup to restore")

	_, _, err = runCmd(t, env, "migrate", "up")
	require.NoError(t, err)
	local, err := postgres.StartLocal(ctx, postgres.LocalOptions{DataDir: env["GROUNDWORK_DATA_DIR"], Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	require.NoError(t, err)
	t.Cleanup(func() { _ = local.Close(context.Background()) })
	url := local.OwnerURL()
	latest := latestMigration(t)

	rollBack := func() {
		t.Helper()
		m, err := postgres.NewMigrator(ctx, url, slog.New(slog.NewTextHandler(io.Discard, nil)))
		require.NoError(t, err)
		defer m.Close()
		_, err = m.Down(ctx)
		require.NoError(t, err)
	}

	// Never on the configured database.
	_, _, err = runCmd(t, map[string]string{"DATABASE_OWNER_URL": url}, "migrate", "rehearse", "-from-url", url)
	require.ErrorContains(t, err, "never on the live database")

	rollBack()
	out, _, err := runCmd(t, env, "migrate", "rehearse", "-from-url", url)
	require.NoError(t, err, out)
	require.Regexp(t, regexp.QuoteMeta(latest)+`\s+\d+(\.\d+)?[µnm]?s\s+ok`, out)

	out, _, err = runCmd(t, env, "migrate", "rehearse", "-from-url", url)
	require.NoError(t, err)
	require.Contains(t, out, "no pending migrations")

	// Too slow: any real migration takes longer than a nanosecond.
	rollBack()
	out, _, err = runCmd(t, env, "migrate", "rehearse", "-from-url", url, "-max-duration", "1ns")
	require.ErrorContains(t, err, "took longer than -max-duration 1ns: "+latest)
	require.Contains(t, out, "TOO SLOW")

	// Blocked: another session holds a lock that recording the migration
	// needs (reads still pass). The migration's own SET LOCAL lock_timeout
	// (5s) applies inside it.
	rollBack()
	blocker, err := postgres.Open(ctx, url, 1)
	require.NoError(t, err)
	defer blocker.Close()
	tx, err := blocker.Begin(ctx)
	require.NoError(t, err)
	_, err = tx.Exec(ctx, `LOCK TABLE goose_db_version IN EXCLUSIVE MODE`)
	require.NoError(t, err)
	out, _, err = runCmd(t, env, "migrate", "rehearse", "-from-url", url, "-lock-timeout", "200ms")
	require.NoError(t, tx.Rollback(ctx))
	require.ErrorContains(t, err, "lock timeout in "+latest)
	require.Regexp(t, regexp.QuoteMeta(latest)+`\s+\S+\s+LOCK TIMEOUT \(55P03\)`, out)
	// The rehearsal ran with the flag's lock_timeout (what it reports, not a
	// stopwatch: a busy machine makes any run slow).
	require.Contains(t, out, "(lock_timeout 200ms,")
}
