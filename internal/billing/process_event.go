package billing

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/groundwork-dev/groundwork/internal/gw"
	"github.com/riverqueue/river"
	"github.com/stripe/stripe-go/v85"
)

// ErrUnresolvedOrg is recorded as last_error for an event whose organisation
// cannot be found (a customer not created by this application).
var ErrUnresolvedOrg = errors.New("billing: event concerns no known organisation")

// ErrDeletedOrg is recorded as last_error for an event of an organisation
// that was deleted since; the event is marked processed.
var ErrDeletedOrg = errors.New("billing: the organisation was deleted")

// ProcessEvent processes one recorded event: it finds the organisation the
// event concerns and syncs it. Processing an event again, or events out of
// order, leaves the same state. On failure it records attempts and
// last_error on the ledger row and returns the error (River retries).
func (s *Syncer) ProcessEvent(ctx context.Context, eventID string) error {
	db := s.cfg.Pool
	payload, orgRef, err := loadEvent(ctx, db, eventID)
	if err != nil {
		return err
	}
	var ev stripe.Event
	if err := json.Unmarshal(payload, &ev); err != nil {
		return s.recordFailure(ctx, eventID, "", fmt.Errorf("billing: decode Stripe event %s: %w", eventID, err))
	}
	orgID, h, err := s.resolve(ctx, &ev)
	if orgID == "" && orgRef != nil {
		orgID = *orgRef
	}
	if err != nil {
		return s.recordFailure(ctx, eventID, orgID, err)
	}
	if orgID != "" && !gw.ValidID(orgID) {
		orgID = "" // metadata this application did not write
	}
	if orgID == "" {
		// Nothing of ours (or an event type that names no customer).
		return markEventSkipped(ctx, db, eventID, ErrUnresolvedOrg)
	}
	exists, err := orgExists(ctx, db, orgID)
	if err != nil {
		return s.recordFailure(ctx, eventID, orgID, err)
	}
	if !exists {
		// Deleted (its billing rows with it): nothing to sync, nothing to retry.
		return markEventSkipped(ctx, db, eventID, ErrDeletedOrg)
	}
	if _, err := s.sync(ctx, orgID, h); err != nil {
		return s.recordFailure(ctx, eventID, orgID, err)
	}
	return markEventProcessed(ctx, db, eventID, orgID)
}

// recordFailure records cause as event eventID's last error, and orgID as
// its organisation if not "", and returns cause (joined with any error
// recording it).
func (s *Syncer) recordFailure(ctx context.Context, eventID, orgID string, cause error) error {
	msg := cause.Error()
	if len(msg) > 2000 {
		msg = msg[:2000]
	}
	// A background context: the failure is recorded even when ctx ended.
	err := recordEventFailure(context.WithoutCancel(ctx), s.cfg.Pool, eventID, orgID, msg)
	return errors.Join(cause, err)
}

// eventObject is what resolve reads of an event's data.object: only its
// identity, since the object itself is re-fetched.
type eventObject struct {
	ID           string `json:"id"`
	Object       string `json:"object"`
	AttemptCount int64  `json:"attempt_count"`
}

// eventObjectOf decodes the object ev concerns; false when it names none.
func eventObjectOf(ev *stripe.Event) (eventObject, bool) {
	var obj eventObject
	if ev.Data == nil || json.Unmarshal(ev.Data.Raw, &obj) != nil || obj.ID == "" {
		return eventObject{}, false
	}
	return obj, true
}

// customerOrg is the organisation a Stripe customer's metadata names; ""
// for a customer this application did not create.
func customerOrg(c *stripe.Customer) string {
	return strings.TrimSpace(c.Metadata[CustomerOrgMetadata])
}

// resolve finds the organisation and the Stripe objects an event concerns,
// from re-fetched objects: the event's payload gives only their IDs.
func (s *Syncer) resolve(ctx context.Context, ev *stripe.Event) (string, syncHint, error) {
	h := syncHint{eventTime: time.Unix(ev.Created, 0).UTC()}
	obj, ok := eventObjectOf(ev)
	if !ok {
		return "", h, nil
	}
	var orgID string
	var err error
	switch obj.Object {
	case "subscription":
		h.subscriptionID = obj.ID
		h.customerID, err = s.subscriptionCustomer(ctx, obj.ID)
	case "invoice":
		h.invoiceID = obj.ID
		if ev.Type == stripe.EventTypeInvoicePaymentFailed {
			h.failedEvent, h.failedAttempt = true, obj.AttemptCount
		}
		h.customerID, h.subscriptionID, err = s.invoiceCustomer(ctx, obj.ID)
	case "dispute":
		h.disputeID = obj.ID
		h.customerID, err = s.disputeCustomer(ctx, obj.ID)
	case "checkout.session":
		h.customerID, h.subscriptionID, orgID, err = s.sessionCustomer(ctx, obj.ID)
	case "customer":
		h.customerID = obj.ID
	default:
		return "", h, nil
	}
	if err != nil {
		return "", h, err
	}
	if h.customerID != "" {
		c, err := s.cfg.Stripe.V1Customers.Retrieve(ctx, h.customerID, nil)
		if err != nil {
			return "", h, fmt.Errorf("billing: fetch customer %s: %w", h.customerID, err)
		}
		if id := customerOrg(c); id != "" {
			orgID = id
		}
	}
	return orgID, h, nil
}

// subscriptionCustomer returns subscription id's customer.
func (s *Syncer) subscriptionCustomer(ctx context.Context, id string) (string, error) {
	sub, err := s.cfg.Stripe.V1Subscriptions.Retrieve(ctx, id, nil)
	if err != nil {
		return "", fmt.Errorf("billing: fetch subscription %s: %w", id, err)
	}
	return customerOf(sub.Customer), nil
}

// invoiceCustomer returns invoice id's customer and subscription ("" for
// an invoice of no subscription).
func (s *Syncer) invoiceCustomer(ctx context.Context, id string) (customerID, subscriptionID string, err error) {
	inv, err := s.cfg.Stripe.V1Invoices.Retrieve(ctx, id, nil)
	if err != nil {
		return "", "", fmt.Errorf("billing: fetch invoice %s: %w", id, err)
	}
	if p := inv.Parent; p != nil && p.SubscriptionDetails != nil && p.SubscriptionDetails.Subscription != nil {
		subscriptionID = p.SubscriptionDetails.Subscription.ID
	}
	return customerOf(inv.Customer), subscriptionID, nil
}

// disputeCustomer returns the customer of dispute id's charge; "" when it
// has no charge.
func (s *Syncer) disputeCustomer(ctx context.Context, id string) (string, error) {
	d, err := s.cfg.Stripe.V1Disputes.Retrieve(ctx, id, nil)
	if err != nil {
		return "", fmt.Errorf("billing: fetch dispute %s: %w", id, err)
	}
	if d.Charge == nil || d.Charge.ID == "" {
		return "", nil
	}
	ch, err := s.cfg.Stripe.V1Charges.Retrieve(ctx, d.Charge.ID, nil)
	if err != nil {
		return "", fmt.Errorf("billing: fetch charge %s: %w", d.Charge.ID, err)
	}
	return customerOf(ch.Customer), nil
}

// sessionCustomer returns Checkout Session id's customer, subscription
// ("" until it completes) and client reference (the organisation).
func (s *Syncer) sessionCustomer(ctx context.Context, id string) (customerID, subscriptionID, orgID string, err error) {
	cs, err := s.cfg.Stripe.V1CheckoutSessions.Retrieve(ctx, id, nil)
	if err != nil {
		return "", "", "", fmt.Errorf("billing: fetch checkout session %s: %w", id, err)
	}
	if cs.Subscription != nil {
		subscriptionID = cs.Subscription.ID
	}
	return customerOf(cs.Customer), subscriptionID, cs.ClientReferenceID, nil
}

// ProcessEventWorker is the River worker of ProcessEventArgs.
type ProcessEventWorker struct {
	river.WorkerDefaults[ProcessEventArgs]
	Syncer *Syncer
}

// Work processes the event; an error makes River retry the job.
func (w *ProcessEventWorker) Work(ctx context.Context, job *river.Job[ProcessEventArgs]) error {
	return w.Syncer.ProcessEvent(ctx, job.Args.EventID)
}
