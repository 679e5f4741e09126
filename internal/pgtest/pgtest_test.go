package pgtest_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/groundwork-dev/groundwork/internal/pgtest"
	"github.com/groundwork-dev/groundwork/internal/postgres"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// TestIsolation runs two parallel tests, each writing to its own database;
// neither sees the other's rows.
func TestIsolation(t *testing.T) {
	t.Parallel()
	for _, instance := range []string{"a", "b"} {
		t.Run(instance, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			db := pgtest.New(t)

			var user string
			require.NoError(t, db.Runtime.QueryRow(ctx, `SELECT current_user`).Scan(&user))
			require.Equal(t, postgres.RuntimeRole, user)
			require.NoError(t, db.Owner.QueryRow(ctx, `SELECT current_user`).Scan(&user))
			require.Equal(t, postgres.OwnerRole, user)

			// heartbeats comes from migration 00001; the runtime role may
			// write it through the default privileges.
			for range 3 {
				_, err := db.Runtime.Exec(ctx, `INSERT INTO heartbeats (id, instance) VALUES ($1, $2)`, uuid.New(), instance)
				require.NoError(t, err)
			}
			var n int
			var instances []string
			require.NoError(t, db.Runtime.QueryRow(ctx, `SELECT count(*), array_agg(DISTINCT instance) FROM heartbeats`).Scan(&n, &instances))
			require.Equal(t, 3, n, "only this test's rows")
			require.Equal(t, []string{instance}, instances)
		})
	}
}

func TestRuntimeRoleHasNoDDL(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	_, err := db.Runtime.Exec(context.Background(), `CREATE TABLE nope (id int)`)
	require.ErrorContains(t, err, "permission denied")
	_, err = db.Runtime.Exec(context.Background(), `DROP TABLE heartbeats`)
	require.ErrorContains(t, err, "must be owner")
}

func TestDatabaseDroppedAfterTest(t *testing.T) {
	t.Parallel()
	var name string
	t.Run("inner", func(t *testing.T) {
		name = pgtest.New(t).Name
	})
	var exists bool
	require.NoError(t, pgtest.New(t).Owner.QueryRow(context.Background(),
		`SELECT EXISTS (SELECT FROM pg_database WHERE datname = $1)`, name).Scan(&exists))
	require.False(t, exists, "database %s dropped after its test", name)
}

func TestCluster(t *testing.T) {
	t.Parallel()
	local := pgtest.Cluster(t)
	require.Same(t, local, pgtest.Cluster(t), "one cluster per test binary")
	require.NotZero(t, local.Port())
}

// TestStaleSweep leaves a cluster behind as a killed test binary would, and
// checks that the sweep the next binary's Main runs stops and removes it.
func TestStaleSweep(t *testing.T) {
	t.Parallel()
	dead := exec.Command("true")
	require.NoError(t, dead.Run())
	dir, err := os.MkdirTemp("", "gwpgtest-"+strconv.Itoa(dead.Process.Pid)+"-*")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(dir) })
	require.NoError(t, os.Chmod(dir, 0o755))
	_, err = postgres.StartLocal(context.Background(), postgres.LocalOptions{DataDir: dir})
	require.NoError(t, err)
	b, err := os.ReadFile(filepath.Join(dir, "postgres", "postmaster.pid"))
	require.NoError(t, err)
	pid, err := strconv.Atoi(strings.SplitN(string(b), "\n", 2)[0])
	require.NoError(t, err)

	// Young directories are left alone (they may be being set up): age it.
	old := time.Now().Add(-time.Hour)
	require.NoError(t, os.Chtimes(dir, old, old))
	pgtest.SweepStale()
	require.NoDirExists(t, dir)
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err == nil { // a zombie when nobody reaps orphans
		require.Contains(t, string(stat), ") Z ", "postmaster %d stopped", pid)
	}
}
