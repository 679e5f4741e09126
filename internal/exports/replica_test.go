package exports_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/groundwork-dev/groundwork/internal/exports"
	"github.com/groundwork-dev/groundwork/internal/pgtest"
	"github.com/groundwork-dev/groundwork/internal/postgres"
)

// TestReadReplica runs exports against a real streaming replica of the
// test cluster (pg_basebackup -R). With the replica's replay paused and a
// contact written on the primary since, an export allowed an hour of lag
// reads the replica — as the runtime role under row-level security — and
// so misses that contact: its queries ran there. With a millisecond of
// allowed lag, the next export falls back to the primary, has the contact,
// and says why; the lag gauge reports the replica's delay.
func TestReadReplica(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	replica := pgtest.Replica(t)
	runtime, err := pgxpool.New(ctx, replica.URL(postgres.RuntimeRole, b.db.Name))
	require.NoError(t, err)
	t.Cleanup(runtime.Close)
	super, err := pgx.Connect(ctx, replica.SuperuserURL(b.db.Name))
	require.NoError(t, err)
	t.Cleanup(func() { super.Close(context.Background()) })

	// A transaction replayed on the replica (so its replay time is known),
	// then replay paused, then one the replica receives but does not apply.
	b.contact(t, "Ada", "ada@example.com", "")
	waitFor(t, func() bool {
		var n int
		require.NoError(t, super.QueryRow(ctx, `SELECT count(*) FROM contacts`).Scan(&n)) // superuser: no RLS
		return n == 1
	})
	_, err = super.Exec(ctx, `SELECT pg_wal_replay_pause()`)
	require.NoError(t, err)
	t.Cleanup(func() { _, _ = super.Exec(context.Background(), `SELECT pg_wal_replay_resume()`) })
	b.contact(t, "Grace", "grace@example.com", "")
	waitFor(t, func() bool {
		var pending bool
		require.NoError(t, super.QueryRow(ctx, `SELECT pg_last_wal_receive_lsn() > pg_last_wal_replay_lsn()`).Scan(&pending))
		return pending
	})

	var n int
	require.NoError(t, runtime.QueryRow(ctx, `SELECT count(*) FROM contacts`).Scan(&n))
	require.Zero(t, n, "the runtime role on the replica sees no tenant rows without app.org_id")

	run := func(maxLag time.Duration) (exports.Export, string) {
		t.Helper()
		svc := exports.NewService(b.db.Runtime, nil, b.bucket, b.mods.Keys, b.mods.Jobs, b.clock,
			exports.Sources{Contacts: b.mods.Contacts, Members: b.mods.Orgs, Audit: b.mods.Audit},
			exports.Config{Replica: postgres.NewReplica(runtime, maxLag)})
		e, err := svc.Request(ctx, b.owner, exports.Request{Tables: []string{exports.TableContacts}})
		require.NoError(t, err)
		require.NoError(t, svc.Run(ctx, e.OrgID, e.ID, 1, 3))
		e, err = svc.Get(ctx, b.owner, e.ID)
		require.NoError(t, err)
		require.Equal(t, exports.StatusSucceeded, e.Status)
		return e, string(gunzip(t, b.download(t, e, "contacts.csv.gz")))
	}

	e, file := run(time.Hour)
	require.Equal(t, exports.ReadFromReplica, e.ReadFrom)
	require.Contains(t, file, "ada@example.com", "decrypted, under row-level security, on the replica")
	require.NotContains(t, file, "grace@example.com", "the replica had not replayed Grace: the export read there")
	require.EqualValues(t, 1, e.RowsWritten)

	lag, err := postgres.NewReplica(runtime, 0).Lag(ctx)
	require.NoError(t, err)
	require.Positive(t, lag, "replay is paused with WAL pending")
	reg := prometheus.NewRegistry()
	reg.MustRegister(postgres.NewReplica(runtime, 0).Collector())
	gauges := map[string]float64{}
	mfs, err := reg.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		gauges[mf.GetName()] = mf.GetMetric()[0].GetGauge().GetValue()
	}
	require.Equal(t, 1.0, gauges["groundwork_replica_up"])
	require.GreaterOrEqual(t, gauges["groundwork_replica_lag_seconds"], lag.Seconds(), "the scrape measures the lag")

	e, file = run(time.Millisecond)
	require.True(t, strings.HasPrefix(e.ReadFrom, "primary: replica lagging"), e.ReadFrom)
	require.Contains(t, file, "grace@example.com", "read from the primary")
	require.EqualValues(t, 2, e.RowsWritten)

	_, err = super.Exec(ctx, `SELECT pg_wal_replay_resume()`)
	require.NoError(t, err)
	waitFor(t, func() bool {
		lag, err := postgres.NewReplica(runtime, 0).Lag(ctx)
		return err == nil && lag == 0
	})
}

// waitFor polls cond every 50 ms for up to 30 s.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for range 600 {
		if cond() {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatal("condition not met within 30 s")
}
