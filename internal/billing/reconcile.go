package billing

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/stripe/stripe-go/v85"

	"github.com/groundwork-dev/groundwork/internal/jobs"
	"github.com/groundwork-dev/groundwork/internal/postgres"
)

// Reconciler catches what webhooks missed. Each run:
//  1. backfills the ledger from Stripe's event list: the events of the
//     types the application handles that Stripe has not delivered
//     (delivery_success=false), created since the older of Window ago and
//     the backfill's own cursor (the start of the last complete backfill,
//     less Overlap), inserting with ON CONFLICT DO NOTHING;
//  2. processes every ledger row not yet processed: those just backfilled,
//     those that failed (attempts > 0), and those older than RetryAfter
//     whose job was lost;
//  3. re-syncs every organisation whose live subscription's period has
//     ended, in case even the event list missed the renewal.
//
// The cursor is the backfill's own, not the newest event in the ledger:
// other organisations' events keep arriving while one organisation's are
// missed, and a window anchored on them would pass over the missed ones.
type Reconciler struct {
	Syncer *Syncer
	// RetryAfter is how long an unprocessed ledger row is left to its job
	// before the reconciler processes it; zero is 10 minutes.
	RetryAfter time.Duration
	// Overlap is how far before its cursor the backfill starts; zero is
	// one hour.
	Overlap time.Duration
	// Window is how far back every backfill looks at least; zero is
	// StripeRetryWindow.
	Window time.Duration
	// chunk is how many organisations one round trip reads; zero is
	// reconcileChunk (tests make it small).
	chunk int
}

// StripeRetryWindow is how long Stripe retries a webhook delivery in live
// mode ("up to three days with an exponential back off",
// https://docs.stripe.com/webhooks#retries): an event missed within it may
// still be pending, and one missed before it was given up. Every backfill
// covers it.
const StripeRetryWindow = 3 * 24 * time.Hour

// stripeEventRetention is how long Stripe lists events
// (https://docs.stripe.com/api/events/list: "events going back 30 days").
const stripeEventRetention = 30 * 24 * time.Hour

// BackfillEventTypes are the event types the backfill lists: those the
// webhook endpoint subscribes to (docs/billing.md), spelled out, since the
// list's types filter takes exact names only, at most 20 per request
// (https://docs.stripe.com/api/events/list).
var BackfillEventTypes = []string{
	"checkout.session.completed", "checkout.session.expired",
	"checkout.session.async_payment_succeeded", "checkout.session.async_payment_failed",
	"customer.updated", "customer.deleted",
	"customer.subscription.created", "customer.subscription.updated", "customer.subscription.deleted",
	"customer.subscription.paused", "customer.subscription.resumed",
	"customer.subscription.pending_update_applied", "customer.subscription.pending_update_expired",
	"customer.subscription.trial_will_end",
	"invoice.created", "invoice.finalized", "invoice.finalization_failed", "invoice.paid",
	"invoice.payment_succeeded", "invoice.payment_failed", "invoice.payment_action_required",
	"invoice.voided", "invoice.marked_uncollectible",
	"charge.dispute.created", "charge.dispute.updated", "charge.dispute.closed",
	"charge.dispute.funds_withdrawn", "charge.dispute.funds_reinstated",
	"subscription_schedule.created", "subscription_schedule.updated", "subscription_schedule.released",
	"subscription_schedule.canceled", "subscription_schedule.completed", "subscription_schedule.aborted",
	"subscription_schedule.expiring",
}

// ReconcileResult says what a run did.
type ReconcileResult struct {
	Backfilled int // events inserted into the ledger
	Processed  int // ledger rows processed successfully
	Failed     int // ledger rows or organisations that failed (see stripe_events.last_error)
	Resynced   int // organisations re-synced because their period ended
}

// Run reconciles once. Errors of single events or organisations are
// recorded and counted; Run returns them joined after doing everything else.
func (r *Reconciler) Run(ctx context.Context) (ReconcileResult, error) {
	var res ReconcileResult
	var errs []error
	fresh, err := r.backfill(ctx)
	res.Backfilled = len(fresh)
	if err != nil {
		errs = append(errs, err)
	}
	ids, err := r.pending(ctx, fresh)
	if err != nil {
		return res, errors.Join(append(errs, err)...)
	}
	for _, id := range ids {
		if err := r.Syncer.ProcessEvent(ctx, id); err != nil {
			res.Failed++
			errs = append(errs, err)
			continue
		}
		res.Processed++
	}
	n, failed, err := r.resyncEnded(ctx)
	res.Resynced, res.Failed = n, res.Failed+failed
	if err != nil {
		errs = append(errs, err)
	}
	return res, errors.Join(errs...)
}

// backfill lists the events Stripe has not delivered since the backfill's
// start (backfillSince) and records those missing from the ledger; it
// returns their IDs. Only the events' IDs, types, times and objects'
// identities are used later (ProcessEvent re-fetches every object), so an
// event is recorded whatever its API version: List Events renders each
// event in the version of its creation, which differs from the SDK's on an
// account whose default version is another. The cursor moves only after a
// complete listing.
func (r *Reconciler) backfill(ctx context.Context) ([]string, error) {
	pool := r.Syncer.cfg.Pool
	now := r.Syncer.cfg.Clock.Now()
	cursor, err := backfillCursor(ctx, pool)
	if err != nil {
		return nil, err
	}
	since := backfillSince(now, cursor, r.Window, r.Overlap)
	var fresh []string
	for chunk := range slices.Chunk(BackfillEventTypes, 20) {
		params := &stripe.EventListParams{CreatedRange: &stripe.RangeQueryParams{GreaterThanOrEqual: since.Unix()},
			DeliverySuccess: stripe.Bool(false), Types: stripe.StringSlice(chunk)}
		params.Limit = stripe.Int64(100)
		for ev, err := range r.Syncer.cfg.Stripe.V1Events.List(ctx, params).All(ctx) {
			if err != nil {
				return fresh, fmt.Errorf("billing: list Stripe events: %w", err)
			}
			payload, err := json.Marshal(ev)
			if err != nil {
				return fresh, fmt.Errorf("billing: encode Stripe event %s: %w", ev.ID, err)
			}
			added, err := insertEvent(ctx, pool, ev, payload)
			if err != nil {
				return fresh, err
			}
			if added {
				fresh = append(fresh, ev.ID)
			}
		}
	}
	return fresh, setBackfillCursor(ctx, pool, now)
}

func (r *Reconciler) pending(ctx context.Context, fresh []string) ([]string, error) {
	after := r.RetryAfter
	if after <= 0 {
		after = 10 * time.Minute
	}
	return pendingEvents(ctx, r.Syncer.cfg.Pool, after, fresh)
}

// reconcileChunk is how many organisations resyncEnded reads in one round
// trip.
const reconcileChunk = 500

// resyncEnded syncs every organisation whose live subscription's period has
// ended by the Syncer's clock, and enqueues the delivery of outbox rows left
// unsent. orgs has no row-level security and billing_accounts has: the
// state of reconcileChunk organisations at a time is read in one round
// trip (reconcileStates), and only the organisations found due or with
// unsent rows cost more (a sync, an enqueue).
func (r *Reconciler) resyncEnded(ctx context.Context) (synced, failed int, err error) {
	s := r.Syncer
	orgs, err := orgIDs(ctx, s.cfg.Pool)
	if err != nil {
		return 0, 0, err
	}
	now := s.cfg.Clock.Now()
	var errs []error
	size := r.chunk
	if size <= 0 {
		size = reconcileChunk
	}
	for chunk := range slices.Chunk(orgs, size) {
		states, err := reconcileStates(ctx, s.cfg.Pool, chunk, now)
		if err != nil {
			return synced, failed, errors.Join(append(errs, err)...)
		}
		for _, st := range states {
			var err error
			if st.unsent && s.cfg.Jobs != nil { // outbox rows whose delivery job failed for good
				err = postgres.InOrgTx(ctx, s.cfg.Pool, st.orgID, func(tx pgx.Tx) error {
					_, err := s.cfg.Jobs.InsertTx(ctx, tx, DeliverOutboxArgs{OrgID: st.orgID}, nil)
					return err
				})
			}
			if err == nil && st.due {
				if err = s.Sync(ctx, st.orgID); err == nil {
					synced++
				}
			}
			if err != nil {
				failed++
				errs = append(errs, fmt.Errorf("billing: reconcile organisation %s: %w", st.orgID, err))
			}
		}
	}
	return synced, failed, errors.Join(errs...)
}

// backfillSince is where a backfill at now starts listing Stripe's events:
// the older of window (zero or less: StripeRetryWindow) before now and
// overlap (zero or less: one hour) before the cursor, the start of the last
// complete backfill, but never before the 30 days Stripe keeps events (where
// it starts without a cursor).
func backfillSince(now time.Time, cursor *time.Time, window, overlap time.Duration) time.Time {
	if window <= 0 {
		window = StripeRetryWindow
	}
	if overlap <= 0 {
		overlap = time.Hour
	}
	oldest := now.Add(-stripeEventRetention)
	if cursor == nil {
		return oldest
	}
	since := now.Add(-window)
	if c := cursor.Add(-overlap); c.Before(since) {
		since = c
	}
	if since.Before(oldest) {
		return oldest
	}
	return since
}

// ReconcileArgs is the periodic reconciliation job on the billing queue.
type ReconcileArgs struct{}

// Kind implements river.JobArgs.
func (ReconcileArgs) Kind() string { return "billing.reconcile" }

// InsertOpts implements river.JobArgsWithInsertOpts: the billing queue, one
// pending run at a time.
func (ReconcileArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: jobs.QueueBilling, UniqueOpts: jobs.OnePending}
}

// ReconcileWorker runs the Reconciler.
type ReconcileWorker struct {
	river.WorkerDefaults[ReconcileArgs]
	Reconciler *Reconciler
}

// Work runs one reconciliation.
func (w *ReconcileWorker) Work(ctx context.Context, _ *river.Job[ReconcileArgs]) error {
	_, err := w.Reconciler.Run(ctx)
	return err
}

// PeriodicReconcile is the periodic job that enqueues ReconcileArgs every
// interval (and once at start).
func PeriodicReconcile(interval time.Duration) *river.PeriodicJob {
	return river.NewPeriodicJob(river.PeriodicInterval(interval),
		func() (river.JobArgs, *river.InsertOpts) { return ReconcileArgs{}, nil },
		&river.PeriodicJobOpts{RunOnStart: true})
}
