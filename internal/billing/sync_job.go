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

	"github.com/groundwork-dev/groundwork/internal/jobs"
	"github.com/groundwork-dev/groundwork/internal/postgres"
)

// Coalesced syncs. A renewal alone sends half a dozen events
// (invoice.created, invoice.finalized, invoice.paid,
// invoice.payment_succeeded, customer.subscription.updated, ...), each of
// which used to re-fetch everything; Stripe allows 25 requests per second in
// test mode and 100 in live mode (https://docs.stripe.com/rate-limits). The
// webhook worker now only resolves an event to its organisation and what it
// asks to re-fetch (its hint), records that on the ledger row and enqueues a
// SyncOrgArgs job: unique per organisation and hint (River's UniqueOpts,
// https://riverqueue.com/docs/unique-jobs) and scheduled DefaultSyncDebounce
// later, so the events that arrive meanwhile with the same hint join the
// job already waiting instead of adding a sync of their own. The job syncs
// once and marks every event it covered processed.

// DefaultSyncDebounce is how long a coalesced sync waits for more events of
// the same organisation when SyncerConfig.Debounce is zero.
const DefaultSyncDebounce = 2 * time.Second

// maxSyncRounds is how many syncs one SyncOrgArgs job runs at most when
// events it covers keep arriving while it runs (their own inserts were
// skipped as duplicates of the running job); what is left after that waits
// for the reconciler.
const maxSyncRounds = 3

// SyncHintArgs is what a coalesced sync re-fetches on top of what the
// organisation's account refers to: a syncHint as job arguments. Every field
// but EventTime makes the job unique; EventTime is the first covered event's
// creation (used for the first failure of a payment and for disputes).
type SyncHintArgs struct {
	CustomerID      string    `json:"customer_id,omitempty" river:"unique"`
	SubscriptionID  string    `json:"subscription_id,omitempty" river:"unique"`
	InvoiceID       string    `json:"invoice_id,omitempty" river:"unique"`
	DisputeID       string    `json:"dispute_id,omitempty" river:"unique"`
	FailedEvent     bool      `json:"failed_event,omitempty" river:"unique"`
	FailedAttempt   int64     `json:"failed_attempt,omitempty" river:"unique"`
	CustomerDeleted bool      `json:"customer_deleted,omitempty" river:"unique"`
	CheckCustomer   bool      `json:"check_customer,omitempty" river:"unique"`
	EventTime       time.Time `json:"event_time,omitzero"`
}

// hintArgsOf is h as job arguments, reduced to what changes a sync: the
// invoice matters only for a failed payment (the others re-fetch the
// subscription's latest invoice anyway), so the events of a renewal share
// one job.
func hintArgsOf(h syncHint) SyncHintArgs {
	a := SyncHintArgs{CustomerID: h.customerID, SubscriptionID: h.subscriptionID, DisputeID: h.disputeID,
		CustomerDeleted: h.customerDeleted, CheckCustomer: h.checkCustomer, EventTime: h.eventTime}
	if h.failedEvent {
		a.InvoiceID, a.FailedEvent, a.FailedAttempt = h.invoiceID, true, h.failedAttempt
	}
	return a
}

// hint is a as a syncHint.
func (a SyncHintArgs) hint() syncHint {
	return syncHint{customerID: a.CustomerID, subscriptionID: a.SubscriptionID, invoiceID: a.InvoiceID,
		disputeID: a.DisputeID, failedEvent: a.FailedEvent, failedAttempt: a.FailedAttempt,
		customerDeleted: a.CustomerDeleted, checkCustomer: a.CheckCustomer, eventTime: a.EventTime}
}

// key is what the ledger records of a for the events a covers
// (stripe_events.sync_hint): a without EventTime, as JSON.
func (a SyncHintArgs) key() []byte {
	a.EventTime = time.Time{}
	b, _ := json.Marshal(a)
	return b
}

// SyncOrgArgs is the coalesced sync of one organisation on the billing
// queue (see DefaultSyncDebounce).
type SyncOrgArgs struct {
	OrgID string       `json:"org_id" river:"unique"`
	Hint  SyncHintArgs `json:"hint"`
	// Followup marks the job enqueued while the same organisation and
	// hint's job was already running (enqueueSync): a running job may have
	// read the ledger for the last time, so the event would wait for the
	// reconciler. Follow-ups coalesce among themselves.
	Followup bool `json:"followup,omitempty" river:"unique"`
}

// Kind implements river.JobArgs.
func (SyncOrgArgs) Kind() string { return "billing.sync_org" }

// InsertOpts implements river.JobArgsWithInsertOpts: the billing queue, one
// job per organisation and hint waiting or running at a time.
func (SyncOrgArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: jobs.QueueBilling, UniqueOpts: jobs.OnePending}
}

// enqueueSync enqueues, in tx, a coalesced sync of orgID with hint h, run
// the debounce from now unless one with the same hint is waiting already.
// Without a JobInserter it enqueues nothing.
func (s *Syncer) enqueueSync(ctx context.Context, tx pgx.Tx, orgID string, h syncHint) error {
	if s.cfg.Jobs == nil {
		return nil
	}
	debounce := s.cfg.Debounce
	if debounce == 0 {
		debounce = DefaultSyncDebounce
	}
	// River schedules by the database's clock, not the Syncer's (a test
	// clock may be anywhere): the wall clock it is.
	opts := &river.InsertOpts{ScheduledAt: time.Now().Add(debounce)}
	args := SyncOrgArgs{OrgID: orgID, Hint: hintArgsOf(h)}
	res, err := s.cfg.Jobs.InsertTx(ctx, tx, args, opts)
	if err == nil && res.UniqueSkippedAsDuplicate && res.Job != nil && res.Job.State == rivertype.JobStateRunning {
		// The waiting job is running: it may be past its last look at the
		// ledger. A follow-up syncs again after it.
		args.Followup = true
		_, err = s.cfg.Jobs.InsertTx(ctx, tx, args, opts)
	}
	if err != nil {
		return fmt.Errorf("billing: enqueue sync of %s: %w", orgID, err)
	}
	return nil
}

// QueueEvent is what the webhook worker does with a recorded event: it
// resolves the organisation and the objects the event concerns (as
// ProcessEvent does), records them on the ledger row and enqueues the
// coalesced sync that will process it. Without a JobInserter it is
// ProcessEvent. An event of no organisation, or of a deleted one, is marked
// processed with the reason, as by ProcessEvent.
func (s *Syncer) QueueEvent(ctx context.Context, eventID string) error {
	if s.cfg.Jobs == nil {
		return s.ProcessEvent(ctx, eventID)
	}
	orgID, h, done, err := s.resolveEvent(ctx, eventID)
	if err != nil || done {
		return err
	}
	args := hintArgsOf(h)
	err = postgres.InTx(ctx, s.cfg.Pool, postgres.TxOptions{}, func(tx pgx.Tx) error {
		if err := setEventHint(ctx, tx, eventID, orgID, args.key()); err != nil {
			return err
		}
		return s.enqueueSync(ctx, tx, orgID, h)
	})
	if err != nil {
		return s.recordFailure(ctx, eventID, orgID, err)
	}
	return nil
}

// RunSyncJob runs a coalesced sync: it syncs the organisation with the
// job's hint and marks processed the ledger rows resolved to the same
// organisation and hint before the sync began. Events resolved while it
// ran (whose jobs were skipped as duplicates of this one) get another
// round, up to maxSyncRounds. On failure the covered rows record the error
// (and count an attempt) and the job is retried by River; the reconciler
// processes rows left behind.
func (s *Syncer) RunSyncJob(ctx context.Context, args SyncOrgArgs) error {
	pool := s.cfg.Pool
	exists, err := orgExists(ctx, pool, args.OrgID)
	if err != nil {
		return err
	}
	key := args.Hint.key()
	ids, err := coveredEvents(ctx, pool, args.OrgID, key)
	if err != nil {
		return err
	}
	if !exists {
		for _, id := range ids {
			if err := markEventSkipped(ctx, pool, id, ErrDeletedOrg); err != nil {
				return err
			}
		}
		return nil
	}
	for round := 1; ; round++ {
		if _, err := s.sync(ctx, args.OrgID, args.Hint.hint()); err != nil {
			errs := []error{err}
			for _, id := range ids {
				// A background context: the failure is recorded even when ctx ended.
				errs = append(errs, recordEventFailure(context.WithoutCancel(ctx), pool, id, args.OrgID, failureMessage(err)))
			}
			return errors.Join(errs...)
		}
		if err := markEventsProcessed(ctx, pool, ids, args.OrgID); err != nil {
			return err
		}
		if ids, err = coveredEvents(ctx, pool, args.OrgID, key); err != nil || len(ids) == 0 || round == maxSyncRounds {
			return err
		}
	}
}

// SyncOrgWorker is the River worker of SyncOrgArgs.
type SyncOrgWorker struct {
	river.WorkerDefaults[SyncOrgArgs]
	Syncer *Syncer
}

// Work runs the coalesced sync; an error makes River retry the job.
func (w *SyncOrgWorker) Work(ctx context.Context, job *river.Job[SyncOrgArgs]) error {
	return w.Syncer.RunSyncJob(ctx, job.Args)
}
