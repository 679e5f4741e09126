package backup_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/groundwork-dev/groundwork/internal/backup"
	"github.com/groundwork-dev/groundwork/internal/postgres"
)

// BenchmarkPitrRestore measures PitrRestore (pgbackrest restore to a point
// in time, start, replay to the target, promote, a row-count check, stop)
// on an embedded cluster of its own, with GROUNDWORK_BENCH_PITR_ROWS
// (default 100000) rows of about 300 bytes in the full backup and a few
// more archived in WAL after it. It reports pitr_restore_s, and
// pitr_setup_s (PitrSetup: archiving on, restart, stanza, first full
// backup) for reference.
func BenchmarkPitrRestore(b *testing.B) {
	if _, err := exec.LookPath("pgbackrest"); err != nil {
		b.Skip("pgbackrest is not installed (apt-get install pgbackrest, or make deps); skipping the PITR restore benchmark")
	}
	ctx := context.Background()
	logger := slog.New(slog.DiscardHandler)
	rows := envInt("GROUNDWORK_BENCH_PITR_ROWS", 100_000)
	// Short dirs the cluster's user can reach when we run as root: the
	// restored cluster's socket path must fit in 107 bytes.
	shortDir := func() string {
		dir, err := os.MkdirTemp("", "gwpitr-b-")
		require.NoError(b, err)
		require.NoError(b, os.Chmod(dir, 0o755))
		b.Cleanup(func() { os.RemoveAll(dir) })
		return dir
	}
	dataDir := shortDir()
	local, err := postgres.StartLocal(ctx, postgres.LocalOptions{DataDir: dataDir, Logger: logger})
	require.NoError(b, err)
	b.Cleanup(func() { local.Close(context.Background()) })
	owner, err := pgx.Connect(ctx, local.OwnerURL())
	require.NoError(b, err)
	_, err = owner.Exec(ctx, fmt.Sprintf(`CREATE TABLE notes (id int PRIMARY KEY, body text NOT NULL);
		INSERT INTO notes SELECT g, repeat(md5(g::text), 8) FROM generate_series(1, %d) g`, rows))
	require.NoError(b, err)
	owner.Close(ctx)

	start := time.Now()
	_, err = backup.PitrSetup(ctx, local, dataDir, logger)
	require.NoError(b, err)
	setupSeconds := time.Since(start).Seconds()

	// pgBackRest restores to a time only from a backup that stopped (in
	// whole seconds) before it.
	time.Sleep(time.Second)
	runtime, err := pgx.Connect(ctx, local.RuntimeURL())
	require.NoError(b, err)
	defer runtime.Close(ctx)
	_, err = runtime.Exec(ctx, fmt.Sprintf(`INSERT INTO notes SELECT g, 'after backup' FROM generate_series(%d, %d) g`, rows+1, rows+1000))
	require.NoError(b, err)
	require.NoError(b, backup.PitrFlushWAL(ctx, local.SuperuserURL("postgres"), 30*time.Second))
	time.Sleep(50 * time.Millisecond)
	target := time.Now()
	time.Sleep(50 * time.Millisecond)
	_, err = runtime.Exec(ctx, `DELETE FROM notes WHERE id <= 1000`)
	require.NoError(b, err)
	require.NoError(b, backup.PitrFlushWAL(ctx, local.SuperuserURL("postgres"), 30*time.Second))

	var got int
	var secs float64
	for b.Loop() {
		b.StopTimer()
		into := filepath.Join(shortDir(), "pg")
		b.StartTimer()
		t0 := time.Now()
		_, err := backup.PitrRestore(ctx, backup.PitrRestoreOptions{
			DataDir: dataDir, Into: into, Target: target, Logger: logger,
			Check: func(ctx context.Context, url func(string) string) error {
				conn, err := pgx.Connect(ctx, url(postgres.DatabaseName))
				if err != nil {
					return err
				}
				defer conn.Close(ctx)
				return conn.QueryRow(ctx, `SELECT count(*) FROM notes`).Scan(&got)
			},
		})
		secs = time.Since(t0).Seconds()
		require.NoError(b, err)
	}
	require.Equal(b, rows+1000, got, "the restore holds the rows up to the target")
	b.ReportMetric(secs, "pitr_restore_s")
	b.ReportMetric(setupSeconds, "pitr_setup_s")
	b.ReportMetric(float64(rows+1000), "rows")
}
