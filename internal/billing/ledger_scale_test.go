package billing

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/groundwork-dev/groundwork/internal/pgtest"
	"github.com/groundwork-dev/groundwork/internal/postgres"
	"github.com/groundwork-dev/groundwork/internal/stripefake"
)

// fixedClock is a gw.Clock that always says t.
type fixedClock struct{ t time.Time }

func (c fixedClock) Now() time.Time { return c.t }

// recordEvent inserts a ledger row of type typ about object objectID,
// created at created and processed at processed (nil: not processed),
// with attempts failed attempts.
func recordEvent(t *testing.T, db *pgtest.DB, id, typ, objectID string, created time.Time, processed *time.Time, attempts int) {
	t.Helper()
	payload := fmt.Sprintf(`{"id":%q,"object":"event","type":%q,"data":{"object":{"id":%q}}}`, id, typ, objectID)
	_, err := db.Owner.Exec(context.Background(), `INSERT INTO stripe_events (id, type, api_version, created, payload,
		received_at, processed_at, attempts) VALUES ($1, $2, '2026-03-25.dahlia', $3, $4::jsonb, $3, $5, $6)`,
		id, typ, created, payload, processed, attempts)
	require.NoError(t, err)
}

// TestFirstRecordedFailureIsAnIndexLookup: the first failure of an invoice
// is looked up through stripe_events_failed_invoice_idx, not by scanning
// the ledger's JSON (item 19 of issue 11), and is the earliest failure of
// that invoice only.
func TestFirstRecordedFailureIsAnIndexLookup(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	ctx := context.Background()
	t0 := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	for i := range 200 {
		recordEvent(t, db, fmt.Sprintf("evt_other_%d", i), "invoice.paid", fmt.Sprintf("in_%d", i), t0, &t0, 1)
	}
	recordEvent(t, db, "evt_f2", "invoice.payment_failed", "in_x", t0.Add(72*time.Hour), &t0, 1)
	recordEvent(t, db, "evt_f1", "invoice.payment_failed", "in_x", t0.Add(time.Hour), &t0, 1)
	recordEvent(t, db, "evt_fy", "invoice.payment_failed", "in_y", t0, &t0, 1)
	recordEvent(t, db, "evt_px", "invoice.paid", "in_x", t0, &t0, 1)
	at, err := firstRecordedFailure(ctx, db.Runtime, "in_x")
	require.NoError(t, err)
	require.NotNil(t, at)
	require.Equal(t, t0.Add(time.Hour), at.UTC())

	require.NoError(t, pgx.BeginFunc(ctx, db.Runtime, func(tx pgx.Tx) error {
		// A tiny table is cheaper to scan: make the planner show whether
		// the index can serve the query at all.
		if _, err := tx.Exec(ctx, `SET LOCAL enable_seqscan = off`); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, "EXPLAIN "+firstFailureSQL, "in_x")
		if err != nil {
			return err
		}
		lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return err
		}
		plan := strings.Join(lines, "\n")
		require.Contains(t, plan, "stripe_events_failed_invoice_idx", plan)
		require.NotContains(t, plan, "Seq Scan", plan)
		return nil
	}))
}

// TestLedgerPrunerKeepsWhatIsNotProcessed: the retention job deletes the
// rows processed longer ago than the retention, in batches, and keeps the
// recent ones and every row not processed yet, however old (item 19).
func TestLedgerPrunerKeepsWhatIsNotProcessed(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	ctx := context.Background()
	now := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	old, recent := now.Add(-100*24*time.Hour), now.Add(-10*24*time.Hour)
	for i := range 5 {
		recordEvent(t, db, fmt.Sprintf("evt_old_%d", i), "invoice.paid", "in_1", old, &old, 1)
	}
	recordEvent(t, db, "evt_recent", "invoice.paid", "in_2", recent, &recent, 1)
	recordEvent(t, db, "evt_failing", "invoice.paid", "in_3", old, nil, 7)
	recordEvent(t, db, "evt_waiting", "invoice.paid", "in_4", old, nil, 0)

	p := &LedgerPruner{Pool: db.Runtime, Clock: fixedClock{now}, Batch: 2}
	n, err := p.Run(ctx)
	require.NoError(t, err)
	require.EqualValues(t, 5, n)
	rows, err := db.Owner.Query(ctx, `SELECT id FROM stripe_events ORDER BY id`)
	require.NoError(t, err)
	left, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	require.Equal(t, []string{"evt_failing", "evt_recent", "evt_waiting"}, left)

	// A retention shorter than Stripe's 30-day event list is raised: a
	// backfill must never record again an event that was pruned.
	p.Retention = 24 * time.Hour
	n, err = p.Run(ctx)
	require.NoError(t, err)
	require.Zero(t, n, "evt_recent, 10 days old, is kept")
}

// countingPool is a runtime-role pool on db that counts the round trips
// its connections make (queries, and batches as one).
func countingPool(t *testing.T, db *pgtest.DB) (*pgxpool.Pool, *atomic.Int64) {
	t.Helper()
	cfg, err := pgxpool.ParseConfig(db.RuntimeURL)
	require.NoError(t, err)
	var n atomic.Int64
	cfg.ConnConfig.Tracer = roundTrips{&n}
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	return pool, &n
}

// roundTrips is a pgx tracer counting queries and batches.
type roundTrips struct{ n *atomic.Int64 }

func (c roundTrips) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	c.n.Add(1)
	return ctx
}
func (c roundTrips) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}
func (c roundTrips) TraceBatchStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceBatchStartData) context.Context {
	c.n.Add(1)
	return ctx
}
func (c roundTrips) TraceBatchQuery(context.Context, *pgx.Conn, pgx.TraceBatchQueryData) {}
func (c roundTrips) TraceBatchEnd(context.Context, *pgx.Conn, pgx.TraceBatchEndData)     {}

// TestResyncEndedReadsOrganisationsInBatches: every reconciliation reads
// the state of many organisations per round trip, not one transaction per
// organisation (item 19), and still finds the one whose period ended and
// the one with outbox rows left unsent.
func TestResyncEndedReadsOrganisationsInBatches(t *testing.T) {
	t.Parallel()
	s := newScenario(t, stripefake.Options{})
	s.subscribe(PlanPro)
	s.deliver()
	const idle = 9
	for range idle {
		pgtest.Org(t, s.db, "Idle")
	}
	pool, trips := countingPool(t, s.db)
	cfg := s.syncer.cfg
	cfg.Pool = pool
	syncer, err := NewSyncer(cfg)
	require.NoError(t, err)
	r := &Reconciler{Syncer: syncer, chunk: 4}

	// Nothing due: the organisations, then one round trip per 4 of them.
	before := trips.Load()
	synced, failed, err := r.resyncEnded(s.ctx)
	require.NoError(t, err)
	require.Zero(t, synced+failed)
	require.Equal(t, int64(1+3), trips.Load()-before, "%d organisations, 4 a round trip", idle+1)

	unsent := pgtest.Org(t, s.db, "Unsent")
	require.NoError(t, postgres.InOrgTx(s.ctx, s.db.Runtime, unsent, func(tx pgx.Tx) error {
		_, err := insertOutbox(s.ctx, tx, unsent, newOutbox("k1", OutboxPaymentFailedEmail, map[string]any{}))
		return err
	}))
	// s.org's period ends without a webhook.
	s.fake.Advance(32 * 24 * time.Hour)
	states, err := reconcileStates(s.ctx, pool, mustOrgIDs(t, pool), s.fake.Now())
	require.NoError(t, err)
	require.ElementsMatch(t, []orgReconcileState{{orgID: s.org, due: true}, {orgID: unsent, unsent: true}}, states)

	synced, failed, err = r.resyncEnded(s.ctx)
	require.NoError(t, err)
	require.Equal(t, 1, synced)
	require.Zero(t, failed)
	var deliveries int
	require.NoError(t, s.db.Owner.QueryRow(s.ctx, `SELECT count(*) FROM river_job WHERE kind = $1 AND args->>'org_id' = $2`,
		DeliverOutboxArgs{}.Kind(), unsent).Scan(&deliveries))
	require.Equal(t, 1, deliveries)
}

func mustOrgIDs(t *testing.T, pool *pgxpool.Pool) []string {
	t.Helper()
	ids, err := orgIDs(context.Background(), pool)
	require.NoError(t, err)
	return ids
}
