package maintenance

import (
	"context"
	"testing"
	"time"

	"github.com/groundwork-dev/groundwork/internal/gw"
	"github.com/groundwork-dev/groundwork/internal/pgtest"
	"github.com/stretchr/testify/require"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func TestBeatWritesAndPrunes(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	ctx := context.Background()
	store := NewStore(db.Runtime)

	_, err := store.Latest(ctx)
	require.Equal(t, gw.ENOTFOUND, gw.ErrorCode(err))

	now := time.Now().UTC().Truncate(time.Microsecond)
	_, err = db.Runtime.Exec(ctx, `INSERT INTO heartbeats (id, written_at, instance) VALUES ($1, $2, 'old'), ($3, $4, 'recent')`,
		gw.NewID(), now.Add(-2*time.Hour), gw.NewID(), now.Add(-30*time.Minute))
	require.NoError(t, err)

	deleted, err := store.Beat(ctx, "host:1", now, time.Hour)
	require.NoError(t, err)
	require.EqualValues(t, 1, deleted, "only the row older than the retention goes")

	latest, err := store.Latest(ctx)
	require.NoError(t, err)
	require.Equal(t, "host:1", latest.Instance)
	require.True(t, latest.WrittenAt.Equal(now))

	var left int
	require.NoError(t, db.Runtime.QueryRow(ctx, `SELECT count(*) FROM heartbeats`).Scan(&left))
	require.Equal(t, 2, left)
}

// TestDeploymentsRecordedNewestFirst: each start is recorded with what ran
// where, listed newest first, and the table keeps only the newest
// maxDeploymentRows.
func TestDeploymentsRecordedNewestFirst(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	ctx := context.Background()
	store := NewStore(db.Runtime)

	require.NoError(t, store.RecordStart(ctx, Deployment{Role: "serve", Version: "v1", Commit: "aaa", BuildTime: "t1", Host: "web-1", PID: 10}))
	require.NoError(t, store.RecordStart(ctx, Deployment{Role: "worker", Version: "v2", Commit: "bbb", BuildTime: "t2", Host: "job-1", PID: 11}))
	list, err := store.Deployments(ctx, 10)
	require.NoError(t, err)
	require.Len(t, list, 2)
	require.Equal(t, "worker", list[0].Role)
	require.Equal(t, "bbb", list[0].Commit)
	require.Equal(t, "job-1", list[0].Host)
	require.Equal(t, 11, list[0].PID)
	require.False(t, list[0].StartedAt.IsZero())
	require.Equal(t, "v1", list[1].Version)

	_, err = db.Owner.Exec(ctx, `INSERT INTO deployments (role, version, commit, build_time, host, pid)
		SELECT 'serve', 'old', 'x', 't', 'h', g FROM generate_series(1, $1) g`, maxDeploymentRows)
	require.NoError(t, err)
	require.NoError(t, store.RecordStart(ctx, Deployment{Role: "serve", Version: "v3", Commit: "ccc", BuildTime: "t3", Host: "web-2", PID: 12}))
	var n int
	require.NoError(t, db.Runtime.QueryRow(ctx, `SELECT count(*) FROM deployments`).Scan(&n))
	require.Equal(t, maxDeploymentRows, n, "older starts are forgotten")
	list, err = store.Deployments(ctx, 1)
	require.NoError(t, err)
	require.Equal(t, "v3", list[0].Version)
}
