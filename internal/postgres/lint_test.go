package postgres

import (
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/groundwork-dev/groundwork/internal/gwtest"
	"github.com/stretchr/testify/require"
)

// lintScript returns the path of scripts/lint-migrations.sh. Without squawk
// (node_modules/.bin/squawk) the test is skipped, or fails under CI.
func lintScript(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("../..")
	require.NoError(t, err)
	gwtest.RequireTool(t, filepath.Join(root, "node_modules", ".bin", "squawk"), "run scripts/install-deps.sh (npm ci installs squawk)")
	return filepath.Join(root, "scripts", "lint-migrations.sh")
}

func runLint(t *testing.T, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(lintScript(t), args...)
	cmd.Env = append(os.Environ(), "SQUAWK=") // the pinned squawk, whatever the caller's environment says
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// TestLintMigrationsUnsafe: the linter fails on a CREATE INDEX without
// CONCURRENTLY on an existing table, naming the rule.
func TestLintMigrationsUnsafe(t *testing.T) {
	out, err := runLint(t, "testdata/unsafe")
	require.Error(t, err, out)
	var exit *exec.ExitError
	require.ErrorAs(t, err, &exit)
	require.Equal(t, 1, exit.ExitCode(), out)
	require.Contains(t, out, "require-concurrent-index-creation")
	require.Contains(t, out, "00001_index_without_concurrently.sql")
	require.NotContains(t, out, "DROP INDEX", "the Down section is not linted")
}

// TestLintMigrationsEmbedded: the shipped migrations pass (make lint checks
// this too).
func TestLintMigrationsEmbedded(t *testing.T) {
	out, err := runLint(t, "migrations")
	require.NoError(t, err, out)
}

// TestLintMigrationsPasses: NO TRANSACTION migrations are linted in their own
// pass, without --assume-in-transaction, and must use plain SET for the
// timeouts; every migration must set both timeouts.
func TestLintMigrationsPasses(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		path := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(path, []byte(body), 0o644))
		return path
	}
	good := write("00001_concurrent.sql", `-- +goose NO TRANSACTION
-- +goose Up
SET lock_timeout = '5s';
SET statement_timeout = '0';
CREATE INDEX CONCURRENTLY IF NOT EXISTS contacts_name_idx ON contacts (org_id, name);
-- +goose Down
DROP INDEX CONCURRENTLY IF EXISTS contacts_name_idx;
`)
	out, err := runLint(t, good)
	require.NoError(t, err, out)
	require.Contains(t, out, "0 in-transaction and 1 NO TRANSACTION")

	// In a NO TRANSACTION file squawk also wants IF NOT EXISTS (a failed
	// run cannot be rolled back), which --assume-in-transaction would hide.
	notRobust := write("00002_not_robust.sql", `-- +goose NO TRANSACTION
-- +goose Up
SET lock_timeout = '5s';
SET statement_timeout = '0';
CREATE INDEX CONCURRENTLY contacts_name_idx ON contacts (org_id, name);
`)
	out, err = runLint(t, notRobust)
	require.Error(t, err, out)
	require.Contains(t, out, "prefer-robust-stmts")

	local := write("00003_local.sql", `-- +goose NO TRANSACTION
-- +goose Up
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';
CREATE INDEX CONCURRENTLY IF NOT EXISTS contacts_name_idx ON contacts (org_id, name);
`)
	out, err = runLint(t, local)
	require.Error(t, err, out)
	require.Contains(t, out, "SET LOCAL lock_timeout has no effect outside a transaction")

	noTimeouts := write("00004_no_timeouts.sql", `-- +goose Up
CREATE TABLE widgets (id uuid PRIMARY KEY);
-- +goose Down
SET LOCAL lock_timeout = '5s';
SET LOCAL statement_timeout = '60s';
DROP TABLE widgets;
`)
	out, err = runLint(t, noTimeouts)
	require.Error(t, err, out)
	require.Contains(t, out, "does not set lock_timeout")
	require.Contains(t, out, "does not set statement_timeout")
}

var (
	setLockTimeout      = regexp.MustCompile(`(?im)^\s*SET\s+(LOCAL\s+)?lock_timeout\s*(=|TO)`)
	setStatementTimeout = regexp.MustCompile(`(?im)^\s*SET\s+(LOCAL\s+)?statement_timeout\s*(=|TO)`)
	gooseDown           = regexp.MustCompile(`(?m)^\s*--\s*\+goose\s+Down`)
)

// upSection returns the migration's text before its "-- +goose Down" line.
func upSection(body string) string {
	if loc := gooseDown.FindStringIndex(body); loc != nil {
		return body[:loc[0]]
	}
	return body
}

// TestMigrationsSetTimeouts: every embedded migration's Up section sets
// lock_timeout and statement_timeout. It needs no squawk, so it always runs.
func TestMigrationsSetTimeouts(t *testing.T) {
	entries, err := fs.ReadDir(Migrations(), ".")
	require.NoError(t, err)
	require.NotEmpty(t, entries)
	for _, e := range entries {
		b, err := fs.ReadFile(Migrations(), e.Name())
		require.NoError(t, err)
		up := upSection(string(b))
		require.Regexp(t, setLockTimeout, up, "%s: the Up section must set lock_timeout", e.Name())
		require.Regexp(t, setStatementTimeout, up, "%s: the Up section must set statement_timeout", e.Name())
	}
}

// TestCompatMarkers: a migration marked backward compatible records itself
// in schema_compat on the way up and removes itself on the way down, and
// only a marked one does.
func TestCompatMarkers(t *testing.T) {
	entries, err := fs.ReadDir(Migrations(), ".")
	require.NoError(t, err)
	for _, e := range entries {
		v, ok := migrationVersion(e.Name())
		require.True(t, ok, e.Name())
		marked, err := CompatMarked(Migrations(), e.Name())
		require.NoError(t, err)
		b, err := fs.ReadFile(Migrations(), e.Name())
		require.NoError(t, err)
		oneLine := func(s string) string { return strings.Join(strings.Fields(s), " ") }
		body, up := oneLine(string(b)), oneLine(upSection(string(b)))
		insert := fmt.Sprintf("INSERT INTO schema_compat (version) VALUES (%d);", v)
		remove := fmt.Sprintf("DELETE FROM schema_compat WHERE version = %d;", v)
		if marked {
			require.Contains(t, up, insert, "%s is marked backward compatible", e.Name())
			require.Contains(t, body, remove, "%s is marked backward compatible", e.Name())
		} else {
			require.NotContains(t, body, "INSERT INTO schema_compat", "%s records itself without the %q marker", e.Name(), CompatMarker)
		}
	}
}
