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
