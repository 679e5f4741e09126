package billing

import (
	"context"
	"fmt"
	"time"

	"github.com/stripe/stripe-go/v85"
)

// fetched is what a sync reads about an organisation: the Stripe objects
// its stored account and the event being processed refer to, re-fetched,
// and, when a first payment failure is to be stored, the earliest failure
// the event ledger recorded. nextAccount turns it into the new account.
type fetched struct {
	// sub is the organisation's subscription: of the stored one and the
	// event's, those of the customer, the live or else the newer one; nil
	// when there is none.
	sub *stripe.Subscription
	// schedule is sub's subscription schedule, fetched only while sub is
	// live (scheduleToFetch); nil otherwise.
	schedule *stripe.SubscriptionSchedule
	// invoice is sub's latest invoice; nil without sub or invoice.
	invoice *stripe.Invoice
	// recordedFailure is when the earliest invoice.payment_failed event
	// recorded for invoice was created; read only when sub has just started
	// failing (needsFirstFailure), nil otherwise or when none is recorded.
	recordedFailure *time.Time
	// eventInvoice is the invoice of the invoice.payment_failed event being
	// processed (invoice itself when it is the same); nil for other events.
	eventInvoice *stripe.Invoice
	// disputes are the event's dispute, the account's governing one and
	// every stored dispute still open, re-fetched.
	disputes []*stripe.Dispute
	// storedDisputes are the organisation's disputes as stored when the
	// account was read.
	storedDisputes []disputeRow
	// now is the Syncer's clock when the fetch began.
	now time.Time
	// customerDeleted: Stripe deleted the customer (the event said so, or
	// it read back deleted); nothing else is read then.
	customerDeleted bool
}

// fetch reads what a sync of prev with hint h needs, for the organisation
// that is Stripe customer customerID and has the stored disputes, in this
// order: whether the customer was deleted (then nothing else), the
// subscriptions, the schedule, the latest invoice, the first recorded
// failure (in the ledger, through the pool), the event's invoice and the
// disputes. It decides nothing beyond what to read next, and holds no
// transaction; the first error stops it.
func (s *Syncer) fetch(ctx context.Context, prev Account, customerID string, h syncHint, stored []disputeRow) (fetched, error) {
	f := fetched{now: s.cfg.Clock.Now(), storedDisputes: stored}
	var err error
	if f.customerDeleted, err = s.customerDeleted(ctx, customerID, h); err != nil || f.customerDeleted {
		return f, err
	}
	if f.sub, err = s.fetchSubscription(ctx, customerID, prev.SubscriptionID, h.subscriptionID); err != nil {
		return f, err
	}
	if f.sub != nil {
		if id := scheduleToFetch(f.sub); id != "" {
			if f.schedule, err = s.fetchSchedule(ctx, id); err != nil {
				return f, err
			}
		}
		if f.invoice, err = s.latestInvoice(ctx, f.sub); err != nil {
			return f, err
		}
	}
	if needsFirstFailure(prev, f.sub) && f.invoice != nil {
		if f.recordedFailure, err = firstRecordedFailure(ctx, s.cfg.Pool, f.invoice.ID); err != nil {
			return f, err
		}
	}
	if h.failedEvent && h.invoiceID != "" {
		if f.eventInvoice, err = s.eventInvoice(ctx, f.invoice, h.invoiceID); err != nil {
			return f, err
		}
	}
	ids := []string{h.disputeID, prev.DisputeID}
	for _, r := range f.storedDisputes {
		if r.State.Status == DisputeOpen || r.State.Status == DisputeInquiry {
			ids = append(ids, r.ID)
		}
	}
	if f.disputes, err = s.fetchDisputes(ctx, ids...); err != nil {
		return f, err
	}
	return f, nil
}

// customerDeleted reports whether Stripe deleted customer customerID: the
// event being processed says so, or, when h asks to check, the customer
// reads back deleted.
func (s *Syncer) customerDeleted(ctx context.Context, customerID string, h syncHint) (bool, error) {
	switch {
	case customerID == "":
		return false, nil
	case h.customerDeleted && h.customerID == customerID:
		return true, nil
	case !h.checkCustomer:
		return false, nil
	}
	c, err := s.cfg.Stripe.V1Customers.Retrieve(ctx, customerID, nil)
	if err != nil {
		return false, fmt.Errorf("billing: fetch customer %s: %w", customerID, err)
	}
	return c.Deleted, nil
}

// fetchSubscription fetches the subscriptions ids (with their latest
// invoice expanded) and returns the one that is customerID's subscription
// (pickSubscription); nil when none is.
func (s *Syncer) fetchSubscription(ctx context.Context, customerID string, ids ...string) (*stripe.Subscription, error) {
	var subs []*stripe.Subscription
	for _, id := range distinctIDs(ids...) {
		p := &stripe.SubscriptionRetrieveParams{}
		p.AddExpand("latest_invoice")
		got, err := s.cfg.Stripe.V1Subscriptions.Retrieve(ctx, id, p)
		if err != nil {
			return nil, fmt.Errorf("billing: fetch subscription %s: %w", id, err)
		}
		subs = append(subs, got)
	}
	return pickSubscription(subs, customerID), nil
}

// fetchSchedule fetches subscription schedule id.
func (s *Syncer) fetchSchedule(ctx context.Context, id string) (*stripe.SubscriptionSchedule, error) {
	// The phases' prices are expanded so that their plan resolves by lookup
	// key, metadata or product too (withPlans), not only by a catalogue ID.
	sp := &stripe.SubscriptionScheduleRetrieveParams{}
	sp.AddExpand("phases.items.price")
	sched, err := s.cfg.Stripe.V1SubscriptionSchedules.Retrieve(ctx, id, sp)
	if err != nil {
		return nil, fmt.Errorf("billing: fetch subscription schedule %s: %w", id, err)
	}
	return sched, nil
}

// latestInvoice returns sub's latest invoice, fetching it when sub came
// without it expanded.
func (s *Syncer) latestInvoice(ctx context.Context, sub *stripe.Subscription) (*stripe.Invoice, error) {
	inv := sub.LatestInvoice
	if !invoiceUnexpanded(inv) {
		return inv, nil
	}
	return s.fetchInvoice(ctx, inv.ID)
}

// eventInvoice returns invoice id: latest when it is that invoice, else
// fetched.
func (s *Syncer) eventInvoice(ctx context.Context, latest *stripe.Invoice, id string) (*stripe.Invoice, error) {
	if latest != nil && latest.ID == id {
		return latest, nil
	}
	return s.fetchInvoice(ctx, id)
}

// fetchInvoice fetches invoice id.
func (s *Syncer) fetchInvoice(ctx context.Context, id string) (*stripe.Invoice, error) {
	inv, err := s.cfg.Stripe.V1Invoices.Retrieve(ctx, id, nil)
	if err != nil {
		return nil, fmt.Errorf("billing: fetch invoice %s: %w", id, err)
	}
	return inv, nil
}

// fetchDisputes fetches the disputes ids (each once, "" skipped).
func (s *Syncer) fetchDisputes(ctx context.Context, ids ...string) ([]*stripe.Dispute, error) {
	var disputes []*stripe.Dispute
	for _, id := range distinctIDs(ids...) {
		got, err := s.cfg.Stripe.V1Disputes.Retrieve(ctx, id, nil)
		if err != nil {
			return nil, fmt.Errorf("billing: fetch dispute %s: %w", id, err)
		}
		disputes = append(disputes, got)
	}
	return disputes, nil
}
