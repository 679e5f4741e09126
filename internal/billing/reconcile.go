package billing

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"github.com/stripe/stripe-go/v85"

	"github.com/groundwork-dev/groundwork/internal/jobs"
	"github.com/groundwork-dev/groundwork/internal/postgres"
)

// Reconciler catches what webhooks missed. Each run:
//  1. backfills the ledger from Stripe's event list (events since the newest
//     recorded one, less an overlap), inserting with ON CONFLICT DO NOTHING;
//  2. processes every ledger row not yet processed: those just backfilled,
//     those that failed (attempts > 0), and those older than RetryAfter
//     whose job was lost;
//  3. re-syncs every organisation whose live subscription's period has
//     ended, in case even the event list missed the renewal.
type Reconciler struct {
	Syncer *Syncer
	// RetryAfter is how long an unprocessed ledger row is left to its job
	// before the reconciler processes it; zero is 10 minutes.
	RetryAfter time.Duration
	// Overlap is how far before the newest recorded event the backfill
	// starts; zero is one hour.
	Overlap time.Duration
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

func (r *Reconciler) backfill(ctx context.Context) ([]string, error) {
	pool := r.Syncer.cfg.Pool
	newest, err := newestEventTime(ctx, pool)
	if err != nil {
		return nil, err
	}
	since := backfillSince(r.Syncer.cfg.Clock.Now(), newest, r.Overlap)
	params := &stripe.EventListParams{CreatedRange: &stripe.RangeQueryParams{GreaterThanOrEqual: since.Unix()}}
	params.Limit = stripe.Int64(100)
	var fresh []string
	for ev, err := range r.Syncer.cfg.Stripe.V1Events.List(ctx, params).All(ctx) {
		if err != nil {
			return fresh, fmt.Errorf("billing: list Stripe events: %w", err)
		}
		if ev.APIVersion != stripe.APIVersion {
			continue // refused at the webhook too (ErrAPIVersionMismatch)
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
	return fresh, nil
}

func (r *Reconciler) pending(ctx context.Context, fresh []string) ([]string, error) {
	after := r.RetryAfter
	if after <= 0 {
		after = 10 * time.Minute
	}
	return pendingEvents(ctx, r.Syncer.cfg.Pool, after, fresh)
}

// resyncEnded syncs every organisation whose live subscription's period has
// ended by the Syncer's clock, and enqueues the delivery of outbox rows left
// unsent. orgs has no row-level security; each
// billing_accounts row is read in its organisation's transaction.
func (r *Reconciler) resyncEnded(ctx context.Context) (synced, failed int, err error) {
	s := r.Syncer
	orgs, err := orgIDs(ctx, s.cfg.Pool)
	if err != nil {
		return 0, 0, err
	}
	now := s.cfg.Clock.Now()
	var errs []error
	for _, org := range orgs {
		var due bool
		err := postgres.InOrgTx(ctx, s.cfg.Pool, org, func(tx pgx.Tx) error {
			var unsent bool
			var err error
			if due, unsent, err = reconcileState(ctx, tx, org, now); err != nil {
				return err
			}
			if unsent && s.cfg.Jobs != nil { // outbox rows whose delivery job failed for good
				_, err := s.cfg.Jobs.InsertTx(ctx, tx, DeliverOutboxArgs{OrgID: org}, nil)
				return err
			}
			return nil
		})
		if err == nil && due {
			err = s.Sync(ctx, org)
			if err == nil {
				synced++
			}
		}
		if err != nil {
			failed++
			errs = append(errs, fmt.Errorf("billing: reconcile organisation %s: %w", org, err))
		}
	}
	return synced, failed, errors.Join(errs...)
}

// backfillSince is where a backfill at now starts listing Stripe's events:
// overlap (zero or less: one hour) before the newest recorded event, but
// not before the 30 days Stripe keeps events.
func backfillSince(now time.Time, newest *time.Time, overlap time.Duration) time.Time {
	if overlap <= 0 {
		overlap = time.Hour
	}
	since := now.Add(-30 * 24 * time.Hour) // Stripe keeps events 30 days
	if newest != nil && newest.Add(-overlap).After(since) {
		since = newest.Add(-overlap)
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
	return river.InsertOpts{Queue: jobs.QueueBilling, UniqueOpts: river.UniqueOpts{ByArgs: true, ByState: []rivertype.JobState{
		rivertype.JobStateAvailable, rivertype.JobStatePending, rivertype.JobStateRunning,
		rivertype.JobStateRetryable, rivertype.JobStateScheduled}}}
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
