package billing

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/stretchr/testify/require"
	"github.com/stripe/stripe-go/v85"

	"github.com/groundwork-dev/groundwork/internal/jobs"
	"github.com/groundwork-dev/groundwork/internal/pgtest"
	"github.com/groundwork-dev/groundwork/internal/postgres"
	"github.com/groundwork-dev/groundwork/internal/stripefake"
)

// syncEnv is an organisation that has completed a Pro checkout on the fake;
// no event has been delivered yet.
type syncEnv struct {
	t      *testing.T
	ctx    context.Context
	db     *pgtest.DB
	fake   *stripefake.Server
	syncer *Syncer
	ledger *Ledger
	org    string
	cus    string
	sub    string
	next   int // index of the first fake event not yet received
}

func newSyncEnv(t *testing.T) *syncEnv {
	t.Helper()
	ctx := context.Background()
	db := pgtest.New(t)
	fake := stripefake.New(stripefake.Options{Prices: []stripefake.Price{
		{ID: "price_pro_monthly", Product: "prod_pro", UnitAmount: 3000},
		{ID: "price_pro_yearly", Product: "prod_pro", UnitAmount: 30000, Interval: "year"},
		{ID: "price_business_monthly", Product: "prod_business", UnitAmount: 9000},
		{ID: "price_business_yearly", Product: "prod_business", UnitAmount: 90000, Interval: "year"},
	}}).Start(t)
	cat, err := NewCatalog(PriceIDs{ProMonth: "price_pro_monthly", ProYear: "price_pro_yearly",
		BusinessMonth: "price_business_monthly", BusinessYear: "price_business_yearly"})
	require.NoError(t, err)
	sc := fake.Client()
	syncer, err := NewSyncer(SyncerConfig{Pool: db.Runtime, Stripe: sc, Catalog: cat, Clock: fake})
	require.NoError(t, err)
	client, err := jobs.NewClient(db.Runtime, jobs.Config{Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	ledger, err := NewLedger(db.Runtime, client, newSecret)
	require.NoError(t, err)

	org := pgtest.Org(t, db, "Acme")
	cp := &stripe.CustomerCreateParams{Metadata: map[string]string{CustomerOrgMetadata: org}}
	cp.SetIdempotencyKey("customer:" + org)
	cus, err := sc.V1Customers.Create(ctx, cp)
	require.NoError(t, err)
	cs, err := sc.V1CheckoutSessions.Create(ctx, &stripe.CheckoutSessionCreateParams{
		Mode: stripe.String("subscription"), Customer: stripe.String(cus.ID), ClientReferenceID: stripe.String(org),
		SuccessURL: stripe.String("https://app.test/billing/success"),
		LineItems:  []*stripe.CheckoutSessionCreateLineItemParams{{Price: stripe.String("price_pro_monthly"), Quantity: stripe.Int64(1)}},
	})
	require.NoError(t, err)
	sub, err := fake.CompleteCheckout(cs.ID)
	require.NoError(t, err)
	return &syncEnv{t: t, ctx: ctx, db: db, fake: fake, syncer: syncer, ledger: ledger, org: org, cus: cus.ID, sub: sub}
}

// receive records every fake event not yet received, as signed deliveries,
// and returns their IDs and types, oldest first.
func (e *syncEnv) receive() (ids, types []string) {
	e.t.Helper()
	evs := e.fake.Events()
	for _, ev := range evs[e.next:] {
		payload := stripefake.EventPayload(ev)
		id, _, err := e.ledger.Receive(e.ctx, payload, stripefake.SignPayload(payload, time.Now(), newSecret))
		require.NoError(e.t, err)
		ids = append(ids, id)
		types = append(types, string(ev.Type))
	}
	e.next = len(evs)
	return ids, types
}

// skip forgets the fake events not yet received: webhooks that never came.
func (e *syncEnv) skip() { e.next = len(e.fake.Events()) }

func (e *syncEnv) process(ids ...string) {
	e.t.Helper()
	for _, id := range ids {
		require.NoError(e.t, e.syncer.ProcessEvent(e.ctx, id), "event %s", id)
	}
}

func (e *syncEnv) account() Account {
	e.t.Helper()
	a, err := e.syncer.Account(e.ctx, e.org)
	require.NoError(e.t, err)
	return a
}

func (e *syncEnv) outbox() map[string]int {
	e.t.Helper()
	out := map[string]int{}
	// billing_outbox is under row-level security, even for its owner.
	require.NoError(e.t, postgres.InOrgTx(e.ctx, e.db.Runtime, e.org, func(tx pgx.Tx) error {
		rows, err := tx.Query(e.ctx, `SELECT key FROM billing_outbox WHERE org_id = $1`, e.org)
		if err != nil {
			return err
		}
		keys, err := pgx.CollectRows(rows, pgx.RowTo[string])
		for _, k := range keys {
			out[k]++
		}
		return err
	}))
	return out
}

// requireTruth asserts the stored snapshot is the fake's subscription.
func (e *syncEnv) requireTruth() Account {
	e.t.Helper()
	a := e.account()
	truth := e.fake.Subscription(e.sub)
	require.Equal(e.t, e.cus, a.CustomerID)
	require.Equal(e.t, e.sub, a.SubscriptionID)
	require.Equal(e.t, truth.Status, a.Snapshot.Status)
	require.Equal(e.t, truth.Items.Data[0].Price.ID, a.Snapshot.PriceID)
	require.Equal(e.t, time.Unix(truth.Items.Data[0].CurrentPeriodEnd, 0).UTC(), a.Snapshot.CurrentPeriodEnd)
	require.Equal(e.t, truth.CancelAtPeriodEnd, a.Snapshot.CancelAtPeriodEnd)
	inv := e.fake.Invoice(e.fake.LatestInvoice(e.sub))
	require.Equal(e.t, inv.ID, a.LatestInvoiceID)
	require.Equal(e.t, inv.Status, a.Snapshot.LatestInvoiceStatus)
	return a
}

func (e *syncEnv) requireProcessed(ids ...string) {
	e.t.Helper()
	for _, id := range ids {
		var processed *time.Time
		var orgRef *string
		var lastErr string
		require.NoError(e.t, e.db.Runtime.QueryRow(e.ctx, `SELECT processed_at, org_ref::text, last_error FROM stripe_events WHERE id = $1`,
			id).Scan(&processed, &orgRef, &lastErr))
		require.NotNil(e.t, processed, "event %s processed", id)
		require.Empty(e.t, lastErr)
		require.NotNil(e.t, orgRef)
		require.Equal(e.t, e.org, *orgRef)
	}
}

func (e *syncEnv) requireEntitled(plan PlanID, access Access) Entitlements {
	e.t.Helper()
	ent, err := e.syncer.Entitlements(e.ctx, e.org)
	require.NoError(e.t, err)
	require.Equal(e.t, plan, ent.Plan, ent.Reason)
	require.Equal(e.t, access, ent.Access, ent.Reason)
	return ent
}

func TestSyncHappyCheckout(t *testing.T) {
	t.Parallel()
	e := newSyncEnv(t)
	e.requireEntitled(PlanFree, AccessFull)
	ids, types := e.receive()
	require.Contains(t, types, "checkout.session.completed")
	// Through the River worker, as the billing queue runs it.
	w := &ProcessEventWorker{Syncer: e.syncer}
	for _, id := range ids {
		require.NoError(t, w.Work(e.ctx, &river.Job[ProcessEventArgs]{Args: ProcessEventArgs{EventID: id}}))
	}
	e.requireProcessed(ids...)
	a := e.requireTruth()
	require.Equal(t, stripe.SubscriptionStatusActive, a.Snapshot.Status)
	require.Equal(t, stripe.InvoiceStatusPaid, a.Snapshot.LatestInvoiceStatus)
	require.True(t, a.Snapshot.FirstPaymentFailedAt.IsZero())
	e.requireEntitled(PlanPro, AccessFull)
	require.Empty(t, e.outbox())
}

func TestSyncDuplicatesSequentialAndConcurrent(t *testing.T) {
	t.Parallel()
	e := newSyncEnv(t)
	ids, _ := e.receive()
	e.process(ids...)
	first := e.requireTruth()

	// A failed payment on renewal gives an email to deduplicate.
	require.NoError(t, e.fake.SetCardDeclines(e.cus, true))
	_, err := e.fake.Renew(e.sub)
	require.NoError(t, err)
	more, _ := e.receive()
	e.process(more...)
	e.process(more...) // sequential duplicates
	all := append(ids, more...)
	var wg sync.WaitGroup
	errs := make([]error, 0)
	var mu sync.Mutex
	for range 3 { // concurrent duplicates of every event
		for _, id := range all {
			wg.Go(func() {
				if err := e.syncer.ProcessEvent(e.ctx, id); err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
			})
		}
	}
	wg.Wait()
	// Twenty-odd syncs of one account at once (production coalesces them
	// into one job per organisation) may overtake one another on every
	// attempt; such a sync gives up with errSyncOvertaken and its job runs
	// it again later, as the sequential pass below does. Nothing else may fail.
	for _, err := range errs {
		require.ErrorIs(t, err, errSyncOvertaken)
	}
	if len(errs) > 0 {
		t.Logf("%d of %d concurrent syncs were overtaken on every attempt; processing again", len(errs), 3*len(all))
		e.process(all...)
	}
	a := e.requireTruth()
	require.Equal(t, stripe.SubscriptionStatusPastDue, a.Snapshot.Status)
	require.NotEqual(t, first.Snapshot.CurrentPeriodEnd, a.Snapshot.CurrentPeriodEnd)
	inv := e.fake.LatestInvoice(e.sub)
	require.Equal(t, map[string]int{"invoice:" + inv + ":attempt:1:payment_failed_email": 1}, e.outbox())
	e.requireProcessed(all...)
}

func TestSyncReversedOrder(t *testing.T) {
	t.Parallel()
	e := newSyncEnv(t)
	ids, types := e.receive()
	// Newest first: invoice.paid, subscription.updated before created, ...
	slices.Reverse(ids)
	slices.Reverse(types)
	require.Less(t, slices.Index(types, "customer.subscription.updated"), slices.Index(types, "customer.subscription.created"))
	require.Less(t, slices.Index(types, "invoice.paid"), slices.Index(types, "customer.subscription.created"))
	// The first event processed alone already gives the final state.
	e.process(ids[0])
	e.requireTruth()
	e.process(ids[1:]...)
	e.requireTruth()
	e.requireEntitled(PlanPro, AccessFull)
	e.requireProcessed(ids...)
}

func TestSyncFailedPaymentThenRecovered(t *testing.T) {
	t.Parallel()
	e := newSyncEnv(t)
	ids, _ := e.receive()
	e.process(ids...)

	require.NoError(t, e.fake.SetCardDeclines(e.cus, true))
	inv, err := e.fake.Renew(e.sub)
	require.NoError(t, err)
	failedAt := e.fake.Now()
	failed, _ := e.receive()

	// The events are processed two days later: grace counts from the
	// failure, not from processing.
	e.fake.Advance(48 * time.Hour)
	e.process(failed...)
	a := e.requireTruth()
	require.Equal(t, stripe.SubscriptionStatusPastDue, a.Snapshot.Status)
	require.Equal(t, failedAt, a.Snapshot.FirstPaymentFailedAt)
	ent := e.requireEntitled(PlanPro, AccessBanner)
	require.Equal(t, failedAt.Add(DefaultGraceDays*24*time.Hour), ent.GraceEndsAt)

	// A retry fails too: a second email, and the first failure is kept.
	e.fake.Advance(24 * time.Hour)
	require.NoError(t, e.fake.FailPayment(inv))
	retry, _ := e.receive()
	e.process(retry...)
	a = e.requireTruth()
	require.Equal(t, failedAt, a.Snapshot.FirstPaymentFailedAt)
	require.Equal(t, map[string]int{
		"invoice:" + inv + ":attempt:1:payment_failed_email": 1,
		"invoice:" + inv + ":attempt:2:payment_failed_email": 1,
	}, e.outbox())

	// Past the grace period: read-only.
	e.fake.Advance(5 * 24 * time.Hour)
	e.requireEntitled(PlanPro, AccessReadOnly)

	// Recovered: grace cleared, full access, one recovery email.
	require.NoError(t, e.fake.PayInvoice(inv))
	paid, _ := e.receive()
	e.process(paid...)
	e.process(failed...) // a late redelivery of the failure changes nothing
	a = e.requireTruth()
	require.Equal(t, stripe.SubscriptionStatusActive, a.Snapshot.Status)
	require.True(t, a.Snapshot.FirstPaymentFailedAt.IsZero())
	e.requireEntitled(PlanPro, AccessFull)
	require.Equal(t, map[string]int{
		"invoice:" + inv + ":attempt:1:payment_failed_email": 1,
		"invoice:" + inv + ":attempt:2:payment_failed_email": 1,
		"invoice:" + inv + ":payment_recovered_email":        1,
	}, e.outbox())
}

func TestReconcilerCatchesMissedWebhooks(t *testing.T) {
	t.Parallel()
	for _, declines := range []bool{false, true} {
		t.Run(map[bool]string{false: "renewal paid", true: "renewal failed"}[declines], func(t *testing.T) {
			t.Parallel()
			e := newSyncEnv(t)
			ids, _ := e.receive()
			e.process(ids...)
			before := e.requireTruth()

			require.NoError(t, e.fake.SetCardDeclines(e.cus, declines))
			_, err := e.fake.Renew(e.sub)
			require.NoError(t, err)
			renewedAt := e.fake.Now()
			e.fake.Advance(4 * 24 * time.Hour)
			e.skip() // no webhook for four days

			// The snapshot is stale: the period it shows has ended.
			require.Equal(t, before.Snapshot.CurrentPeriodEnd, e.account().Snapshot.CurrentPeriodEnd)

			r := &Reconciler{Syncer: e.syncer}
			res, err := r.Run(e.ctx)
			require.NoError(t, err)
			require.Positive(t, res.Backfilled)
			require.Zero(t, res.Failed)
			a := e.requireTruth()
			require.True(t, a.Snapshot.CurrentPeriodEnd.After(e.fake.Now()))
			if declines {
				require.Equal(t, stripe.SubscriptionStatusPastDue, a.Snapshot.Status)
				require.Equal(t, renewedAt, a.Snapshot.FirstPaymentFailedAt, "grace from the failure, not from the reconciler's run")
				e.requireEntitled(PlanPro, AccessBanner)
				require.Len(t, e.outbox(), 1)
			} else {
				require.Equal(t, stripe.SubscriptionStatusActive, a.Snapshot.Status)
				e.requireEntitled(PlanPro, AccessFull)
				require.Empty(t, e.outbox())
			}

			// A second run finds nothing to do; the late webhooks change nothing.
			res, err = r.Run(e.ctx)
			require.NoError(t, err)
			require.Zero(t, res.Backfilled)
			require.Zero(t, res.Resynced)
			e.requireTruth()
		})
	}
}

func TestReconcilerResyncsEndedPeriodsWithoutEvents(t *testing.T) {
	t.Parallel()
	e := newSyncEnv(t)
	ids, _ := e.receive()
	e.process(ids...)
	_, err := e.fake.Renew(e.sub)
	require.NoError(t, err)
	e.fake.Advance(4 * 24 * time.Hour)
	// The period-end sweep alone, without the event backfill, brings the
	// snapshot to the truth.
	n, failed, err := (&Reconciler{Syncer: e.syncer}).resyncEnded(e.ctx)
	require.NoError(t, err)
	require.Zero(t, failed)
	require.Equal(t, 1, n)
	e.requireTruth()
}
