package billing

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/groundwork-dev/groundwork/internal/jobs"
	"github.com/groundwork-dev/groundwork/internal/postgres"
)

// Sweeper is the slow daily safety net under the webhooks and the
// reconciler's backfill: it re-syncs every organisation that has a Stripe
// customer (Syncer.Sync, which also notices a customer deleted in Stripe),
// one at a time with Pace between them, so that whatever both missed (an
// event Stripe no longer lists, a change that sent no event of the types
// the backfill lists) is repaired within a day. Organisations without a
// customer cost no Stripe request.
type Sweeper struct {
	Syncer *Syncer
	// Pace is the pause after each organisation synced, keeping the sweep
	// far below Stripe's rate limit (25 requests per second in test mode,
	// https://docs.stripe.com/rate-limits) so that it never delays the
	// webhook work; zero is 200 ms, negative none.
	Pace time.Duration
}

// SweepResult says what a sweep did.
type SweepResult struct {
	Synced int // organisations re-synced
	Failed int // organisations whose sync failed
}

// Run sweeps once. A failed organisation is counted and the sweep goes
// on; Run returns the errors joined at the end, or ctx's error if it ended.
func (w *Sweeper) Run(ctx context.Context) (SweepResult, error) {
	var res SweepResult
	s := w.Syncer
	orgs, err := orgIDs(ctx, s.cfg.Pool)
	if err != nil {
		return res, err
	}
	pace := w.Pace
	if pace == 0 {
		pace = 200 * time.Millisecond
	}
	var errs []error
	for _, org := range orgs {
		var customer bool
		err := postgres.InOrgTx(ctx, s.cfg.Pool, org, func(tx pgx.Tx) error {
			a, err := loadAccount(ctx, tx, org, false)
			customer = a.CustomerID != ""
			return err
		})
		if err == nil && customer {
			err = s.Sync(ctx, org)
		}
		switch {
		case err != nil:
			res.Failed++
			errs = append(errs, fmt.Errorf("billing: sweep organisation %s: %w", org, err))
		case customer:
			res.Synced++
		}
		if ctx.Err() != nil {
			return res, errors.Join(append(errs, ctx.Err())...)
		}
		if customer && pace > 0 {
			t := time.NewTimer(pace)
			select {
			case <-ctx.Done():
				t.Stop()
				return res, errors.Join(append(errs, ctx.Err())...)
			case <-t.C:
			}
		}
	}
	return res, errors.Join(errs...)
}

// SweepArgs is the daily sweep job on the billing queue.
type SweepArgs struct{}

// Kind implements river.JobArgs.
func (SweepArgs) Kind() string { return "billing.sweep" }

// InsertOpts implements river.JobArgsWithInsertOpts: the billing queue, one
// pending sweep at a time.
func (SweepArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: jobs.QueueBilling, UniqueOpts: jobs.OnePending}
}

// SweepWorker runs the Sweeper.
type SweepWorker struct {
	river.WorkerDefaults[SweepArgs]
	Sweeper *Sweeper
}

// Work runs one sweep.
func (w *SweepWorker) Work(ctx context.Context, _ *river.Job[SweepArgs]) error {
	_, err := w.Sweeper.Run(ctx)
	return err
}

// Timeout implements river.Worker: a sweep paces itself through every
// organisation, far longer than River's default minute.
func (w *SweepWorker) Timeout(*river.Job[SweepArgs]) time.Duration { return 6 * time.Hour }

// PeriodicSweep is the periodic job that enqueues SweepArgs every interval
// (GROUNDWORK_BILLING_SWEEP_INTERVAL, 24h), not at start: a restart does
// not sweep again.
func PeriodicSweep(interval time.Duration) *river.PeriodicJob {
	return river.NewPeriodicJob(river.PeriodicInterval(interval),
		func() (river.JobArgs, *river.InsertOpts) { return SweepArgs{}, nil }, nil)
}
