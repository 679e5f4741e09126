package ops

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/groundwork-dev/groundwork/internal/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// TestSnapshotReadsEachPart fills the tables the console reads and checks
// each part of a snapshot, as the runtime role.
func TestSnapshotReadsEachPart(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	ctx := context.Background()
	r := NewReader(db.Runtime, nil)

	s := r.Snapshot(ctx)
	require.Empty(t, s.QueuesErr)
	require.Empty(t, s.Queues)
	require.Nil(t, s.Rehearsal, "never rehearsed")
	require.Empty(t, s.RehearsalErr)
	require.Empty(t, s.ArchiverErr)
	require.NotEmpty(t, s.Archiver.Mode)
	require.Empty(t, s.LedgerErr)
	require.True(t, s.Ledger.Present)
	require.Positive(t, s.SchemaVersion)
	require.Positive(t, s.Pool.Max)
	if s.SlowSQLErr != "" {
		require.Contains(t, s.SlowSQLErr, "pg_stat_statements", "says why slow SQL is missing")
	}

	_, err := db.Owner.Exec(ctx, `INSERT INTO river_job (kind, queue, state, args, max_attempts, scheduled_at, finalized_at)
		VALUES ('x', 'default', 'available', '{}', 1, now() - interval '20 minutes', NULL),
		       ('x', 'default', 'discarded', '{}', 1, now(), now())`)
	require.NoError(t, err)
	_, err = db.Owner.Exec(ctx, `INSERT INTO backup_rehearsals (backup_id, started_at, duration_ms, backup_bytes, tables_checked, mismatches, ok, error)
		VALUES ('b1', now() - interval '1 hour', 93000, 1, 1, 0, false, 'row counts differ')`)
	require.NoError(t, err)
	_, err = db.Owner.Exec(ctx, `INSERT INTO stripe_events (id, type, api_version, created, payload, received_at, attempts)
		VALUES ('evt_1', 'invoice.paid', '2026-01-28.clover', now(), '{}', now() - interval '2 hours', 2)`)
	require.NoError(t, err)

	s = r.Snapshot(ctx)
	require.Len(t, s.Queues, 1)
	q := s.Queues[0]
	require.Equal(t, "default", q.Queue)
	require.EqualValues(t, 1, q.Available)
	require.EqualValues(t, 1, q.Discarded)
	require.Greater(t, q.OldestAvailable, 19*time.Minute)
	require.NotNil(t, s.Rehearsal)
	require.False(t, s.Rehearsal.OK)
	require.Equal(t, 93*time.Second, s.Rehearsal.Duration)
	require.EqualValues(t, 1, s.Ledger.Unprocessed)
	require.EqualValues(t, 1, s.Ledger.Failed)
	require.Greater(t, s.Ledger.OldestUnprocessed, time.Hour)
}
