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

// ProcessEvent processes one recorded event at once: it finds the
// organisation the event concerns and syncs it. Processing an event again,
// or events out of order, leaves the same state. On failure it records
// attempts and last_error on the ledger row and returns the error. The
// reconciler uses it; the webhook worker coalesces instead (QueueEvent).
func (s *Syncer) ProcessEvent(ctx context.Context, eventID string) error {
	orgID, h, done, err := s.resolveEvent(ctx, eventID)
	if err != nil || done {
		return err
	}
	if _, err := s.sync(ctx, orgID, h); err != nil {
		return s.recordFailure(ctx, eventID, orgID, err)
	}
	return markEventProcessed(ctx, s.cfg.Pool, eventID, orgID)
}

// resolveEvent reads recorded event eventID and finds the organisation and
// the objects it concerns. done says the event was marked processed
// without a sync (no organisation of ours, or a deleted one); a failure is
// recorded on the ledger row and returned.
func (s *Syncer) resolveEvent(ctx context.Context, eventID string) (orgID string, h syncHint, done bool, err error) {
	db := s.cfg.Pool
	payload, orgRef, err := loadEvent(ctx, db, eventID)
	if err != nil {
		return "", h, false, err
	}
	var ev stripe.Event
	if err := json.Unmarshal(payload, &ev); err != nil {
		return "", h, false, s.recordFailure(ctx, eventID, "", fmt.Errorf("billing: decode Stripe event %s: %w", eventID, err))
	}
	orgID, h, err = s.resolve(ctx, &ev)
	if orgID == "" && orgRef != nil {
		orgID = *orgRef
	}
	if err != nil {
		return "", h, false, s.recordFailure(ctx, eventID, orgID, err)
	}
	if orgID != "" && !gw.ValidID(orgID) {
		orgID = "" // metadata this application did not write
	}
	if orgID == "" {
		// Nothing of ours (or an event type that names no customer).
		return "", h, true, markEventSkipped(ctx, db, eventID, ErrUnresolvedOrg)
	}
	exists, err := orgExists(ctx, db, orgID)
	if err != nil {
		return "", h, false, s.recordFailure(ctx, eventID, orgID, err)
	}
	if !exists {
		// Deleted (its billing rows with it): nothing to sync, nothing to retry.
		return "", h, true, markEventSkipped(ctx, db, eventID, ErrDeletedOrg)
	}
	return orgID, h, false, nil
}

// recordFailure records cause as event eventID's last error, and orgID as
// its organisation if not "", and returns cause (joined with any error
// recording it).
func (s *Syncer) recordFailure(ctx context.Context, eventID, orgID string, cause error) error {
	// A background context: the failure is recorded even when ctx ended.
	err := recordEventFailure(context.WithoutCancel(ctx), s.cfg.Pool, eventID, orgID, failureMessage(cause))
	return errors.Join(cause, err)
}

// failureMessage is err as a ledger row's last_error: at most 2000 bytes.
func failureMessage(err error) string {
	msg := err.Error()
	if len(msg) > 2000 {
		msg = msg[:2000]
	}
	return msg
}

// eventObject is what resolve reads of an event's data.object: only its
// identity, since the object itself is re-fetched.
type eventObject struct {
	ID           string `json:"id"`
	Object       string `json:"object"`
	AttemptCount int64  `json:"attempt_count"`
	// Customer and Subscription are the IDs of the object's customer and
	// (an invoice's, before API version 2025-03-31.basil) subscription: a
	// string, or an expanded object.
	Customer     json.RawMessage `json:"customer"`
	Subscription json.RawMessage `json:"subscription"`
	// Parent names an invoice's subscription from 2025-03-31.basil on.
	Parent *struct {
		SubscriptionDetails *struct {
			Subscription json.RawMessage `json:"subscription"`
		} `json:"subscription_details"`
	} `json:"parent"`
}

// idOf is the ID a reference field holds: the string itself, or an
// expanded object's "id"; "" for none.
func idOf(raw json.RawMessage) string {
	var id string
	if json.Unmarshal(raw, &id) == nil {
		return id
	}
	var obj struct {
		ID string `json:"id"`
	}
	if json.Unmarshal(raw, &obj) == nil {
		return obj.ID
	}
	return ""
}

// invoiceSubscription is the subscription an invoice object names, in
// either API version's place; "" for none.
func (o eventObject) invoiceSubscription() string {
	if p := o.Parent; p != nil && p.SubscriptionDetails != nil {
		if id := idOf(p.SubscriptionDetails.Subscription); id != "" {
			return id
		}
	}
	return idOf(o.Subscription)
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
// for a customer this application did not create, or a deleted one.
func customerOrg(c *stripe.Customer) string {
	return strings.TrimSpace(c.Metadata[CustomerOrgMetadata])
}

// resolve finds the organisation and the Stripe objects an event concerns,
// from re-fetched objects: the event's payload gives only their IDs. The
// organisation is, in this order of trust: the one recorded for the
// customer (stripe_customers), the one the subscription's metadata or the
// Checkout Session's client_reference_id names (both set by the
// application's checkout), the one the customer's metadata names.
func (s *Syncer) resolve(ctx context.Context, ev *stripe.Event) (string, syncHint, error) {
	h := syncHint{eventTime: time.Unix(ev.Created, 0).UTC()}
	obj, ok := eventObjectOf(ev)
	if !ok {
		return "", h, nil
	}
	if orgID, ok, err := s.resolveRecorded(ctx, ev, obj, &h); err != nil || ok {
		return orgID, h, err
	}
	var named string // the organisation the objects name
	var err error
	switch obj.Object {
	case "subscription":
		h.subscriptionID = obj.ID
		h.customerID, named, err = s.subscriptionCustomer(ctx, obj.ID)
	case "invoice":
		h.invoiceID = obj.ID
		if ev.Type == stripe.EventTypeInvoicePaymentFailed {
			h.failedEvent, h.failedAttempt = true, obj.AttemptCount
		}
		h.customerID, h.subscriptionID, named, err = s.invoiceCustomer(ctx, obj.ID)
	case "dispute":
		h.disputeID = obj.ID
		h.customerID, err = s.disputeCustomer(ctx, obj.ID)
	case "checkout.session":
		h.customerID, h.subscriptionID, named, err = s.sessionCustomer(ctx, obj.ID)
	case "subscription_schedule":
		h.customerID, h.subscriptionID, err = s.scheduleCustomer(ctx, obj.ID)
	case "customer":
		h.customerID = obj.ID
	default:
		return "", h, nil
	}
	if err != nil || h.customerID == "" {
		return named, h, err
	}
	orgID, deleted, err := customerOrgOf(ctx, s.cfg.Pool, h.customerID)
	if err != nil {
		return "", h, err
	}
	h.customerDeleted = deleted || ev.Type == stripe.EventTypeCustomerDeleted
	if orgID != "" && (h.customerDeleted || obj.Object != "customer") {
		return orgID, h, nil
	}
	// Not recorded yet, or an event of the customer itself: what Stripe
	// says of it now (deleted, or the organisation its metadata names).
	c, err := s.cfg.Stripe.V1Customers.Retrieve(ctx, h.customerID, nil)
	if err != nil {
		return "", h, fmt.Errorf("billing: fetch customer %s: %w", h.customerID, err)
	}
	h.customerDeleted = h.customerDeleted || c.Deleted
	switch {
	case orgID != "":
		return orgID, h, nil
	case named != "":
		return named, h, nil
	}
	return customerOrg(c), h, nil
}

// resolveRecorded resolves an event about a subscription or an invoice
// without asking Stripe, when the event's object names its customer (and
// an invoice its subscription) and that customer is recorded
// (stripe_customers): these IDs never change, so the event's rendering of
// them, in whatever API version, is as good as a re-fetch, which costs a
// Stripe request per event (item 8 of issue 11). ok is false when it
// cannot: the caller resolves by re-fetching.
func (s *Syncer) resolveRecorded(ctx context.Context, ev *stripe.Event, obj eventObject, h *syncHint) (string, bool, error) {
	customerID := idOf(obj.Customer)
	if customerID == "" || (obj.Object != "subscription" && obj.Object != "invoice") {
		return "", false, nil
	}
	orgID, deleted, err := customerOrgOf(ctx, s.cfg.Pool, customerID)
	if err != nil || orgID == "" {
		return "", false, err
	}
	h.customerID, h.customerDeleted = customerID, deleted
	if obj.Object == "subscription" {
		h.subscriptionID = obj.ID
		return orgID, true, nil
	}
	h.invoiceID, h.subscriptionID = obj.ID, obj.invoiceSubscription()
	if ev.Type == stripe.EventTypeInvoicePaymentFailed {
		h.failedEvent, h.failedAttempt = true, obj.AttemptCount
	}
	return orgID, true, nil
}

// subscriptionCustomer returns subscription id's customer and the
// organisation its metadata names.
func (s *Syncer) subscriptionCustomer(ctx context.Context, id string) (customerID, orgID string, err error) {
	sub, err := s.cfg.Stripe.V1Subscriptions.Retrieve(ctx, id, nil)
	if err != nil {
		return "", "", fmt.Errorf("billing: fetch subscription %s: %w", id, err)
	}
	return customerOf(sub.Customer), strings.TrimSpace(sub.Metadata[CustomerOrgMetadata]), nil
}

// invoiceCustomer returns invoice id's customer and subscription ("" for
// an invoice of no subscription), and the organisation the subscription's
// metadata names.
func (s *Syncer) invoiceCustomer(ctx context.Context, id string) (customerID, subscriptionID, orgID string, err error) {
	inv, err := s.cfg.Stripe.V1Invoices.Retrieve(ctx, id, nil)
	if err != nil {
		return "", "", "", fmt.Errorf("billing: fetch invoice %s: %w", id, err)
	}
	if p := inv.Parent; p != nil && p.SubscriptionDetails != nil {
		if p.SubscriptionDetails.Subscription != nil {
			subscriptionID = p.SubscriptionDetails.Subscription.ID
		}
		orgID = strings.TrimSpace(p.SubscriptionDetails.Metadata[CustomerOrgMetadata])
	}
	return customerOf(inv.Customer), subscriptionID, orgID, nil
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

// scheduleCustomer returns subscription schedule id's customer and its
// subscription (the released one, once released).
func (s *Syncer) scheduleCustomer(ctx context.Context, id string) (customerID, subscriptionID string, err error) {
	sched, err := s.cfg.Stripe.V1SubscriptionSchedules.Retrieve(ctx, id, nil)
	if err != nil {
		return "", "", fmt.Errorf("billing: fetch subscription schedule %s: %w", id, err)
	}
	switch {
	case sched.Subscription != nil:
		subscriptionID = sched.Subscription.ID
	case sched.ReleasedSubscription != nil:
		subscriptionID = sched.ReleasedSubscription.ID
	}
	return customerOf(sched.Customer), subscriptionID, nil
}

// ProcessEventWorker is the River worker of ProcessEventArgs.
type ProcessEventWorker struct {
	river.WorkerDefaults[ProcessEventArgs]
	Syncer *Syncer
}

// Work resolves the event and hands it to the coalesced sync of its
// organisation (Syncer.QueueEvent); an error makes River retry the job.
func (w *ProcessEventWorker) Work(ctx context.Context, job *river.Job[ProcessEventArgs]) error {
	return w.Syncer.QueueEvent(ctx, job.Args.EventID)
}
