package billing

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"

	"github.com/groundwork-dev/groundwork/internal/gw"
	"github.com/groundwork-dev/groundwork/internal/jobs"
)

// DefaultLedgerRetention is how long processed rows stay in the webhook
// ledger when LedgerPruner.Retention is zero: 90 days, three times as long
// as Stripe lists events (https://docs.stripe.com/api/events/list: "events
// going back 30 days"), so the reconciler's backfill never lists an event
// the ledger has forgotten, and far longer than a dunning cycle (the first
// failure of one is read from the ledger only until it is stored).
const DefaultLedgerRetention = 90 * 24 * time.Hour

// minLedgerRetention is the shortest retention a LedgerPruner accepts:
// longer than Stripe lists events, so that a backfill cannot record again
// an event that was pruned.
const minLedgerRetention = 31 * 24 * time.Hour

// LedgerPruner keeps the webhook ledger bounded: it deletes processed rows
// processed longer than the retention ago, in batches, and keeps every row
// not processed yet (waiting for its job, or failing: attempts and
// last_error are what operators look at).
type LedgerPruner struct {
	// Pool is the runtime-role pool (the ledger has no row-level security).
	Pool *pgxpool.Pool
	// Clock tells the time; nil is the system clock.
	Clock gw.Clock
	// Retention is how long a processed row is kept; zero is
	// DefaultLedgerRetention, and less than 31 days is raised to 31.
	Retention time.Duration
	// Batch is how many rows one DELETE removes at most (short
	// transactions, no long lock on the ledger); zero is 1000.
	Batch int
}

// Run prunes once and returns how many rows it deleted.
func (p *LedgerPruner) Run(ctx context.Context) (int64, error) {
	var clock gw.Clock = gw.SystemClock{}
	if p.Clock != nil {
		clock = p.Clock
	}
	retention := p.Retention
	if retention == 0 {
		retention = DefaultLedgerRetention
	}
	retention = max(retention, minLedgerRetention)
	batch := p.Batch
	if batch <= 0 {
		batch = 1000
	}
	cutoff := clock.Now().Add(-retention)
	var total int64
	for {
		n, err := pruneProcessedEvents(ctx, p.Pool, cutoff, batch)
		total += n
		if err != nil {
			return total, fmt.Errorf("billing: prune the ledger: %w", err)
		}
		if n < int64(batch) {
			return total, nil
		}
	}
}

// PruneLedgerArgs is the daily ledger retention job on the billing queue.
type PruneLedgerArgs struct{}

// Kind implements river.JobArgs.
func (PruneLedgerArgs) Kind() string { return "billing.prune_ledger" }

// InsertOpts implements river.JobArgsWithInsertOpts: the billing queue, one
// pending run at a time.
func (PruneLedgerArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: jobs.QueueBilling, UniqueOpts: jobs.OnePending}
}

// PruneLedgerWorker runs the LedgerPruner.
type PruneLedgerWorker struct {
	river.WorkerDefaults[PruneLedgerArgs]
	Pruner *LedgerPruner
}

// Work prunes once.
func (w *PruneLedgerWorker) Work(ctx context.Context, _ *river.Job[PruneLedgerArgs]) error {
	_, err := w.Pruner.Run(ctx)
	return err
}

// PeriodicPruneLedger is the periodic job that enqueues PruneLedgerArgs
// every interval (daily in serve).
func PeriodicPruneLedger(interval time.Duration) *river.PeriodicJob {
	return river.NewPeriodicJob(river.PeriodicInterval(interval),
		func() (river.JobArgs, *river.InsertOpts) { return PruneLedgerArgs{}, nil }, nil)
}
