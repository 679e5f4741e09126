package stripefake

import (
	"fmt"
	"time"

	"github.com/stripe/stripe-go/v85"
)

// SetCardDeclines makes automatic payment attempts for the customer fail
// (declines=true) or succeed.
func (s *Server) SetCardDeclines(customerID string, declines bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.customers[customerID]
	if c == nil {
		return fmt.Errorf("stripefake: no customer %q", customerID)
	}
	c.declines = declines
	return nil
}

// SetPaymentMethod gives the customer a default payment method (or removes it).
func (s *Server) SetPaymentMethod(customerID string, has bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.customers[customerID]
	if c == nil {
		return fmt.Errorf("stripefake: no customer %q", customerID)
	}
	c.hasPM = has
	return nil
}

// LatestInvoice returns the ID of the subscription's latest invoice.
func (s *Server) LatestInvoice(subID string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if sub := s.subs[subID]; sub != nil && sub.LatestInvoice != nil {
		return sub.LatestInvoice.ID
	}
	return ""
}

// InvoiceCharge returns the ID of the charge that paid the invoice.
func (s *Server) InvoiceCharge(invoiceID string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	inv := s.invoices[invoiceID]
	if inv == nil || inv.Payments == nil || len(inv.Payments.Data) == 0 {
		return ""
	}
	return inv.Payments.Data[0].Payment.Charge.ID
}

func (s *Server) openInvoice(id string) (*stripe.Invoice, error) {
	inv := s.invoices[id]
	if inv == nil {
		return nil, fmt.Errorf("stripefake: no invoice %q", id)
	}
	if inv.Status != stripe.InvoiceStatusOpen {
		return nil, fmt.Errorf("stripefake: invoice %s is %s, not open", id, inv.Status)
	}
	return inv, nil
}

// PayInvoice pays an open invoice (a successful retry or a new card): invoice
// paid, subscription back to active, a pending update applied.
func (s *Server) PayInvoice(invoiceID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	inv, err := s.openInvoice(invoiceID)
	if err != nil {
		return err
	}
	s.pay(inv)
	return nil
}

// FailPayment records a failed attempt on an open invoice: attempt_count++,
// next_payment_attempt set, invoice.payment_failed, and an active
// subscription whose latest invoice it is goes past_due.
func (s *Server) FailPayment(invoiceID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	inv, err := s.openInvoice(invoiceID)
	if err != nil {
		return err
	}
	s.fail(inv, true)
	return nil
}

// ExhaustRetries fails the last retry of the subscription's open latest
// invoice and leaves the subscription as Options.RetriesExhausted says
// (canceled, with customer.subscription.deleted, or unpaid).
func (s *Server) ExhaustRetries(subID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	sub := s.subs[subID]
	if sub == nil || sub.LatestInvoice == nil {
		return fmt.Errorf("stripefake: no subscription %q with an invoice", subID)
	}
	inv, err := s.openInvoice(sub.LatestInvoice.ID)
	if err != nil {
		return err
	}
	s.fail(inv, false)
	s.exhaust(sub)
	return nil
}

// exhaust leaves sub, whose last retry failed, as Options.RetriesExhausted
// says: unpaid, or canceled (customer.subscription.deleted).
func (s *Server) exhaust(sub *stripe.Subscription) {
	if s.opts.RetriesExhausted == "unpaid" {
		prev := s.render("subscription", sub, nil)
		sub.Status = stripe.SubscriptionStatusUnpaid
		s.emitUpdated(sub, prev)
		return
	}
	s.endSub(sub, stripe.SubscriptionStatusCanceled, stripe.SubscriptionCancellationDetailsReasonPaymentFailed)
}

// DefaultRetrySchedule is a Smart-Retries-like schedule for
// Options.RetrySchedule: seven retries within two weeks of the first
// failed attempt, eight tries in all, as Stripe's recommended default.
var DefaultRetrySchedule = []time.Duration{
	1 * 24 * time.Hour, 3 * 24 * time.Hour, 5 * 24 * time.Hour, 7 * 24 * time.Hour,
	9 * 24 * time.Hour, 11 * 24 * time.Hour, 14 * 24 * time.Hour,
}

// RunRetries plays Options.RetrySchedule on the subscription's open latest
// invoice, which has failed at least once (RetryNext, in turn): the retries
// fail until the payment succeeds on retry number succeedOn (1 is the first
// retry; 0 never), or the last retry fails and the subscription ends as
// Options.RetriesExhausted says. It returns the retries made.
func (s *Server) RunRetries(subID string, succeedOn int) (int, error) {
	for retries := 1; ; retries++ {
		more, err := s.RetryNext(subID, retries == succeedOn)
		if err != nil || !more {
			return retries, err
		}
	}
}

// RetryNext makes the next scheduled retry (Options.RetrySchedule) of the
// subscription's open latest invoice: the clock moves to its
// next_payment_attempt and the payment succeeds if succeed, else fails. The
// failure of the last retry ends the subscription as
// Options.RetriesExhausted says. It reports whether a retry is still to
// come.
func (s *Server) RetryNext(subID string, succeed bool) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.opts.RetrySchedule) == 0 {
		return false, fmt.Errorf("stripefake: retries need Options.RetrySchedule")
	}
	sub := s.subs[subID]
	if sub == nil || sub.LatestInvoice == nil {
		return false, fmt.Errorf("stripefake: no subscription %q with an invoice", subID)
	}
	inv, err := s.openInvoice(sub.LatestInvoice.ID)
	if err != nil {
		return false, err
	}
	if inv.AttemptCount == 0 || inv.NextPaymentAttempt == 0 {
		return false, fmt.Errorf("stripefake: invoice %s has no retry scheduled", inv.ID)
	}
	if at := time.Unix(inv.NextPaymentAttempt, 0).UTC(); s.now.Before(at) {
		s.now = at
	}
	if succeed {
		s.pay(inv)
		return false, nil
	}
	s.fail(inv, true)
	if inv.NextPaymentAttempt == 0 {
		s.exhaust(sub)
		return false, nil
	}
	return true, nil
}

// ExpireIncomplete moves an incomplete subscription to incomplete_expired and
// voids its first invoice, as Stripe does after 23 hours.
func (s *Server) ExpireIncomplete(subID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	sub := s.subs[subID]
	if sub == nil || sub.Status != stripe.SubscriptionStatusIncomplete {
		return fmt.Errorf("stripefake: subscription %q is not incomplete", subID)
	}
	if s.now.Before(time.Unix(sub.Created, 0).Add(23 * time.Hour)) {
		s.now = time.Unix(sub.Created, 0).Add(23 * time.Hour).UTC()
	}
	if inv := s.invoices[sub.LatestInvoice.ID]; inv != nil && inv.Status == stripe.InvoiceStatusOpen {
		inv.Status = stripe.InvoiceStatusVoid
		inv.StatusTransitions.VoidedAt = s.unix()
		s.emit("invoice.voided", "invoice", inv, nil)
	}
	s.endSub(sub, stripe.SubscriptionStatusIncompleteExpired, stripe.SubscriptionCancellationDetailsReasonPaymentFailed)
	return nil
}

// Renew moves the clock to the end of the subscription's period (if it is
// not already past it) and does what Stripe does there: a subscription set
// to cancel at period end is canceled; otherwise the period advances, a
// subscription_cycle invoice (pending prorations + the new period) is
// finalized and the default payment method is charged (see SetCardDeclines).
// It returns the new invoice ID ("" when canceled).
func (s *Server) Renew(subID string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sub := s.subs[subID]
	if sub == nil {
		return "", fmt.Errorf("stripefake: no subscription %q", subID)
	}
	switch sub.Status {
	case stripe.SubscriptionStatusActive, stripe.SubscriptionStatusPastDue, stripe.SubscriptionStatusUnpaid:
	default:
		return "", fmt.Errorf("stripefake: cannot renew a %s subscription", sub.Status)
	}
	return s.cycle(sub), nil
}

func (s *Server) cycle(sub *stripe.Subscription) string {
	_, end := period(sub)
	if sub.CancelAt > 0 && sub.CancelAt < end {
		end = sub.CancelAt // canceled on its date, before the period ends
	}
	if s.unix() < end {
		s.now = time.Unix(end, 0).UTC()
	}
	if sub.CancelAtPeriodEnd || (sub.CancelAt > 0 && sub.CancelAt <= end) {
		s.endSub(sub, stripe.SubscriptionStatusCanceled, stripe.SubscriptionCancellationDetailsReasonCancellationRequested)
		return ""
	}
	prev := s.render("subscription", sub, nil)
	// A schedule's next phase takes effect at the boundary, before the
	// renewal invoice: no prorations.
	if s.advanceSchedule(sub, end) {
		s.endSub(sub, stripe.SubscriptionStatusCanceled, stripe.SubscriptionCancellationDetailsReasonCancellationRequested)
		return ""
	}
	lines := s.pendingLines[sub.ID]
	delete(s.pendingLines, sub.ID)
	for _, it := range sub.Items.Data {
		p := s.prices[it.Price.ID]
		it.CurrentPeriodStart = end
		it.CurrentPeriodEnd = s.addInterval(end, p)
		lines = append(lines, s.line(sub.ID, it.ID, p, it.Quantity, p.UnitAmount*it.Quantity, it.CurrentPeriodStart, it.CurrentPeriodEnd, false, fmt.Sprintf("%d × %s", it.Quantity, p.Product)))
	}
	inv := s.newInvoice(sub, sub.Customer.ID, stripe.InvoiceBillingReasonSubscriptionCycle, lines, string(sub.Currency))
	sub.LatestInvoice = &stripe.Invoice{ID: fmt.Sprintf("in_fake%06d", s.seq["in"]+1)}
	s.emitUpdated(sub, prev)
	// The renewal invoice is a draft for about an hour, then finalised and
	// charged (https://docs.stripe.com/billing/subscriptions/overview#subscription-lifecycle).
	s.draft(inv)
	s.now = s.now.Add(RenewalDraftPeriod)
	s.finalizeDraft(inv)
	s.attempt(inv)
	return inv.ID
}

// RenewalDraftPeriod is how long a renewal invoice stays a draft before
// Stripe finalises it and attempts its payment.
const RenewalDraftPeriod = time.Hour

// TrialEnd ends a trialing subscription at its trial_end (moving the clock
// there): customer.subscription.trial_will_end is emitted three days
// before (TrialWillEnd) if it was not yet; with a payment method the first
// paid period is invoiced and charged; without one the subscription does
// what its trial_settings[end_behavior][missing_payment_method] says:
// cancel, pause (no invoice), or create_invoice (the default: the invoice's
// payment fails and the subscription is past_due).
// It returns the invoice ID ("" when canceled or paused).
func (s *Server) TrialEnd(subID string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sub := s.subs[subID]
	if sub == nil || sub.Status != stripe.SubscriptionStatusTrialing {
		return "", fmt.Errorf("stripefake: subscription %q is not trialing", subID)
	}
	s.trialWillEnd(sub)
	if s.unix() < sub.TrialEnd {
		s.now = time.Unix(sub.TrialEnd, 0).UTC()
	}
	if c := s.customers[sub.Customer.ID]; !c.hasPM {
		switch missingPaymentMethod(sub) {
		case stripe.SubscriptionTrialSettingsEndBehaviorMissingPaymentMethodCancel:
			s.endSub(sub, stripe.SubscriptionStatusCanceled, stripe.SubscriptionCancellationDetailsReasonPaymentFailed)
			return "", nil
		case stripe.SubscriptionTrialSettingsEndBehaviorMissingPaymentMethodPause:
			s.pause(sub)
			return "", nil
		}
	}
	prev := s.render("subscription", sub, nil)
	sub.Status = stripe.SubscriptionStatusActive
	s.emitUpdated(sub, prev)
	return s.cycle(sub), nil
}

// OpenDispute opens a dispute on a charge. withdrawn=false is an inquiry
// (warning_needs_response, no funds moved); withdrawn=true is a chargeback
// (needs_response) and also emits charge.dispute.funds_withdrawn.
func (s *Server) OpenDispute(chargeID string, withdrawn bool) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ch := s.charges[chargeID]
	if ch == nil {
		return "", fmt.Errorf("stripefake: no charge %q", chargeID)
	}
	d := &stripe.Dispute{ID: s.newID("du"), Object: "dispute", Amount: ch.Amount, Currency: ch.Currency,
		Charge: &stripe.Charge{ID: ch.ID}, Created: s.unix(), Reason: stripe.DisputeReasonFraudulent,
		Status: stripe.DisputeStatusWarningNeedsResponse, Metadata: map[string]string{},
		EvidenceDetails: &stripe.DisputeEvidenceDetails{DueBy: s.now.AddDate(0, 0, 7).Unix()}}
	if withdrawn {
		d.Status = stripe.DisputeStatusNeedsResponse
		d.BalanceTransactions = []*stripe.BalanceTransaction{{ID: s.newID("txn"), Amount: -ch.Amount}}
	}
	ch.Disputed = true
	s.disputes[d.ID] = d
	s.emit("charge.dispute.created", "dispute", d, nil)
	if withdrawn {
		s.emit("charge.dispute.funds_withdrawn", "dispute", d, nil)
	}
	return d.ID, nil
}

// CloseDispute closes a dispute: an inquiry ends warning_closed; a chargeback
// ends won (funds reinstated, charge.dispute.funds_reinstated) or lost.
func (s *Server) CloseDispute(disputeID string, won bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.disputes[disputeID]
	if d == nil {
		return fmt.Errorf("stripefake: no dispute %q", disputeID)
	}
	switch d.Status {
	case stripe.DisputeStatusWarningNeedsResponse, stripe.DisputeStatusWarningUnderReview:
		d.Status = stripe.DisputeStatusWarningClosed
		s.emit("charge.dispute.closed", "dispute", d, nil)
	case stripe.DisputeStatusNeedsResponse, stripe.DisputeStatusUnderReview:
		d.Status = stripe.DisputeStatusLost
		if won {
			d.Status = stripe.DisputeStatusWon
			d.BalanceTransactions = append(d.BalanceTransactions, &stripe.BalanceTransaction{ID: s.newID("txn"), Amount: d.Amount})
		}
		s.emit("charge.dispute.closed", "dispute", d, nil)
		if won {
			s.emit("charge.dispute.funds_reinstated", "dispute", d, nil)
		}
	default:
		return fmt.Errorf("stripefake: dispute %s is already %s", disputeID, d.Status)
	}
	return nil
}
