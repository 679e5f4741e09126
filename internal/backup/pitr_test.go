package backup

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"

	"github.com/groundwork-dev/groundwork/internal/gwtest"
	"github.com/groundwork-dev/groundwork/internal/postgres"
)

// requirePgbackrest skips without pgbackrest, or fails under CI=true: CI
// must run the PITR tests.
func requirePgbackrest(t *testing.T) {
	t.Helper()
	gwtest.RequireTool(t, "pgbackrest", "run scripts/install-deps.sh (apt-get install pgbackrest) to run the PITR tests")
}

// pitrDataDir is a short data dir the cluster's user can reach under root.
func pitrDataDir(t *testing.T) string {
	dir, err := os.MkdirTemp("", "gwpitr-t-")
	require.NoError(t, err)
	require.NoError(t, os.Chmod(dir, 0o755))
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

func TestPitrRestoreToPointInTime(t *testing.T) {
	requirePgbackrest(t)
	ctx := context.Background()
	logger := slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
	dataDir := pitrDataDir(t)
	lap := time.Now()
	step := func(name string) {
		t.Logf("%s: %s", name, time.Since(lap).Round(time.Millisecond))
		lap = time.Now()
	}

	local, err := postgres.StartLocal(ctx, postgres.LocalOptions{DataDir: dataDir, Logger: logger})
	require.NoError(t, err)
	t.Cleanup(func() { local.Close(context.Background()) })
	owner, err := pgx.Connect(ctx, local.OwnerURL())
	require.NoError(t, err)
	_, err = owner.Exec(ctx, `CREATE TABLE notes (id int PRIMARY KEY, body text NOT NULL);
		CREATE TABLE heartbeats (id uuid PRIMARY KEY, written_at timestamptz NOT NULL DEFAULT now(), instance text NOT NULL)`)
	require.NoError(t, err)
	owner.Close(ctx)
	step("start cluster")

	res, err := PitrSetup(ctx, local, dataDir, logger)
	require.NoError(t, err)
	require.True(t, res.Restarted, "archive_mode needs a restart")
	require.NotEmpty(t, res.Backup)
	step("pitr setup")
	conf, err := os.ReadFile(res.Paths.Config)
	require.NoError(t, err)
	require.Contains(t, string(conf), "pg1-path="+local.PGData())
	require.Contains(t, string(conf), "repo1-retention-full=2")

	// The runtime pool still works after the restart.
	pool, err := pgxpool.New(ctx, local.RuntimeURL())
	require.NoError(t, err)
	defer pool.Close()
	var mode string
	require.NoError(t, pool.QueryRow(ctx, `SHOW archive_mode`).Scan(&mode))
	require.Equal(t, "on", mode)

	// pgBackRest records a backup's stop time in whole seconds, and restores
	// to a time only from a backup that stopped before it.
	// (The sleeps here only ever wait at least as long as needed: a busy
	// machine makes them longer, never too short.)
	time.Sleep(time.Second)
	beforeHeartbeat := time.Now().Round(0) // wall clock, as PostgreSQL's timestamps
	_, err = pool.Exec(ctx, `INSERT INTO notes VALUES (1, 'one'), (2, 'two');
		INSERT INTO heartbeats (id, instance) VALUES (gen_random_uuid(), 'test')`)
	require.NoError(t, err)
	require.NoError(t, PitrFlushWAL(ctx, local.SuperuserURL("postgres"), 30*time.Second))
	time.Sleep(50 * time.Millisecond)
	target := time.Now()
	time.Sleep(50 * time.Millisecond)
	_, err = pool.Exec(ctx, `INSERT INTO notes VALUES (3, 'three'); DELETE FROM notes WHERE id = 1`)
	require.NoError(t, err)
	require.NoError(t, PitrFlushWAL(ctx, local.SuperuserURL("postgres"), 30*time.Second))
	step("write and archive")

	// The archiver's metrics.
	c := NewPitrArchiverCollector(pool)
	require.NoError(t, testutil.CollectAndCompare(c, strings.NewReader(`
# HELP groundwork_wal_archive_failures_total Failed attempts to archive a WAL segment (pg_stat_archiver.failed_count).
# TYPE groundwork_wal_archive_failures_total counter
groundwork_wal_archive_failures_total 0
`), "groundwork_wal_archive_failures_total"))
	reg := prometheus.NewPedanticRegistry()
	require.NoError(t, reg.Register(c))
	families, err := reg.Gather()
	require.NoError(t, err)
	// The last segment was archived by the flush after target, and before
	// now: a range from the test's own events, however long they took.
	seen := false
	for _, f := range families {
		if f.GetName() == "groundwork_wal_last_archived_timestamp_seconds" {
			seen = true
			archivedAt := f.GetMetric()[0].GetGauge().GetValue()
			require.GreaterOrEqual(t, archivedAt, float64(target.UnixNano())/1e9-0.001, "archived after the target")
			require.LessOrEqual(t, archivedAt, float64(time.Now().UnixNano())/1e9+0.001, "archived before now")
		}
	}
	require.True(t, seen, "groundwork_wal_last_archived_timestamp_seconds is collected")

	// Restore into a non-empty directory is refused.
	full := filepath.Join(pitrDataDir(t), "full")
	require.NoError(t, os.Mkdir(full, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(full, "x"), nil, 0o644))
	_, err = PitrRestore(ctx, PitrRestoreOptions{DataDir: dataDir, Into: full, Target: target})
	require.ErrorContains(t, err, "not empty")

	// Restore to the noted time: exactly the earlier rows.
	into := filepath.Join(pitrDataDir(t), "pg")
	var rows []string
	restored, err := PitrRestore(ctx, PitrRestoreOptions{
		DataDir: dataDir, Into: into, Target: target, Logger: logger,
		Check: func(ctx context.Context, url func(string) string) error {
			conn, err := pgx.Connect(ctx, url(postgres.DatabaseName))
			if err != nil {
				return err
			}
			defer conn.Close(ctx)
			r, err := conn.Query(ctx, `SELECT id || ':' || body FROM notes ORDER BY id`)
			if err != nil {
				return err
			}
			rows, err = pgx.CollectRows(r, pgx.RowTo[string])
			return err
		},
	})
	require.NoError(t, err)
	require.Equal(t, []string{"1:one", "2:two"}, rows)
	require.NoFileExists(t, filepath.Join(into, "postmaster.pid"), "left stopped")
	auto, err := os.ReadFile(filepath.Join(into, "postgresql.auto.conf"))
	require.NoError(t, err)
	require.Contains(t, string(auto), "archive_mode = 'off'")
	gconf, err := os.ReadFile(filepath.Join(into, "groundwork.conf"))
	require.NoError(t, err)
	require.Contains(t, string(gconf), "unix_socket_directories = '"+into+"'")
	require.Contains(t, restored.StartCommand(""), "pg_ctl start -D "+into)
	step("restore")

	// The original still has the later state.
	var n int
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM notes`).Scan(&n))
	require.Equal(t, 2, n)

	// A rehearsal to the same time finds the heartbeat within the RPO.
	reh, err := PitrRehearse(ctx, dataDir, target, PitrRPO, logger)
	require.NoError(t, err)
	require.True(t, reh.OK)
	// The newest heartbeat is the one written after beforeHeartbeat, so the
	// lag is at most the time from then to the target, however long that was
	// (1ms for PostgreSQL's microsecond timestamps).
	require.Positive(t, reh.Lag)
	require.LessOrEqual(t, reh.Lag, target.Round(0).Sub(beforeHeartbeat)+time.Millisecond)
	require.FileExists(t, filepath.Join(res.Paths.Dir, "rehearsals.jsonl"))
	// With an RPO shorter than the lag it fails, and says why.
	_, err = PitrRehearse(ctx, dataDir, target, time.Nanosecond, logger)
	require.ErrorContains(t, err, "more than the RPO")
	step("rehearse x2")

	// The periodic base backup: a differential on top of setup's fresh full.
	typ, err := PitrBaseBackup(ctx, dataDir, PitrFullEvery, logger)
	require.NoError(t, err)
	require.Equal(t, "diff", typ)
	info, err := PitrInfo(ctx, dataDir)
	require.NoError(t, err)
	require.Len(t, info.Backups, 2)
	require.Equal(t, "diff", info.Backups[1].Type)
	step("base backup")

	// Verify: sound, then damaged.
	_, err = PitrVerify(ctx, dataDir, logger)
	require.NoError(t, err)
	// A file missing from the backup: pgbackrest verify still exits 0.
	damaged := filepath.Join(res.Paths.Repo, "backup", PitrStanza, res.Backup, "pg_data", "PG_VERSION.zst")
	require.FileExists(t, damaged)
	require.NoError(t, os.Remove(damaged))
	vr, err := PitrVerify(ctx, dataDir, logger)
	t.Log(vr.Output)
	require.Error(t, err)
	require.NotEmpty(t, vr.Problems)
	step("verify x2")
}

func TestPitrVerifyProblems(t *testing.T) {
	t.Parallel()
	ok := `stanza: groundwork
status: ok
  archiveId: 15-1, total WAL checked: 4, total valid WAL: 4
    missing: 0, checksum invalid: 0, size invalid: 0, other: 0
  backup: 20240101-000000F, status: valid, total files checked: 10, total valid files: 10
    missing: 0, checksum invalid: 0, size invalid: 0, other: 0
`
	require.Empty(t, pitrVerifyProblems(ok))
	bad := strings.Replace(ok, "status: ok", "status: error", 1)
	bad = strings.Replace(bad, "checksum invalid: 0", "checksum invalid: 1", 1)
	require.Len(t, pitrVerifyProblems(bad), 2)
	require.NotEmpty(t, pitrVerifyProblems("P00  ERROR: [028]: backup and archive info files exist but do not match"))
}

func TestPitrBackupType(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)
	full := func(age time.Duration) PitrBackup { return PitrBackup{Type: "full", Stop: now.Add(-age)} }
	diff := func(age time.Duration) PitrBackup { return PitrBackup{Type: "diff", Stop: now.Add(-age)} }
	for _, tc := range []struct {
		name    string
		backups []PitrBackup
		want    string
	}{
		{"empty repository", nil, "full"},
		{"fresh full", []PitrBackup{full(time.Hour)}, "diff"},
		{"full a week old", []PitrBackup{full(PitrFullEvery), diff(time.Hour)}, "full"},
		{"old and fresh full", []PitrBackup{full(10 * 24 * time.Hour), full(24 * time.Hour)}, "diff"},
		{"only differentials", []PitrBackup{diff(time.Hour)}, "full"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, pitrBackupType(PitrRepoInfo{Backups: tc.backups}, now, PitrFullEvery))
		})
	}
}

// The periodic PITR jobs do nothing (and do not fail) until PITR is set up.
func TestPitrJobsWaitForSetup(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	require.NoError(t, (&PitrBaseWorker{DataDir: dir}).Work(context.Background(), nil))
	require.NoError(t, (&PitrRehearseWorker{DataDir: dir}).Work(context.Background(), nil))
	_, err := PitrBaseBackup(context.Background(), dir, PitrFullEvery, nil)
	require.ErrorIs(t, err, ErrPitrNotConfigured)
}
