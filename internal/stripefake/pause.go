package stripefake

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/stripe/stripe-go/v85"
)

// Trials, pauses and date-based cancellations, as Stripe documents them:
//
//   - trial_settings[end_behavior][missing_payment_method] (on the Checkout
//     Session's subscription_data or a subscription update) says what a
//     trial ending without a payment method does: cancel, pause, or
//     create_invoice (Stripe's default: the invoice's payment fails and the
//     subscription is past_due)
//     (https://docs.stripe.com/billing/subscriptions/trials#create-free-trials-without-payment);
//   - customer.subscription.trial_will_end is sent three days before the
//     trial ends (https://docs.stripe.com/billing/subscriptions/trials#use-webhooks);
//   - a paused subscription makes no invoices until
//     POST /v1/subscriptions/{id}/resume, which (billing_cycle_anchor=now,
//     the default) starts a new period with an invoice: paid, the
//     subscription is active; failed, past_due
//     (https://docs.stripe.com/api/subscriptions/resume);
//   - cancel_at (a date, set in the Dashboard or the API; "" removes it)
//     cancels the subscription at that date, before its period ends
//     (https://docs.stripe.com/billing/subscriptions/cancel#cancel-at).

// TrialWillEndLead is how long before a trial ends Stripe sends
// customer.subscription.trial_will_end.
const TrialWillEndLead = 3 * 24 * time.Hour

// setCancelAt applies cancel_at=v to sub, whose period ends at end: a
// future Unix time sets it (and clears cancel_at_period_end), "" removes
// it. It answers a refusal and returns false for anything else. The
// caller holds s.mu.
func (s *Server) setCancelAt(w http.ResponseWriter, sub *stripe.Subscription, v string, end int64) bool {
	if v == "" {
		sub.CancelAt, sub.CancelAtPeriodEnd, sub.CanceledAt, sub.CancellationDetails = 0, false, 0, nil
		return true
	}
	at, err := strconv.ParseInt(v, 10, 64)
	if err != nil || at <= s.unix() {
		writeErrParam(w, 400, "invalid_request_error", "", "cancel_at", "cancel_at must be a Unix timestamp in the future.")
		return false
	}
	sub.CancelAt, sub.CancelAtPeriodEnd, sub.CanceledAt = at, false, s.unix()
	sub.CancellationDetails = &stripe.SubscriptionCancellationDetails{Reason: stripe.SubscriptionCancellationDetailsReasonCancellationRequested}
	return true
}

// trialEndBehavior validates a trial_settings[end_behavior][missing_payment_method] value.
func trialEndBehavior(v string) (stripe.SubscriptionTrialSettingsEndBehaviorMissingPaymentMethod, bool) {
	switch b := stripe.SubscriptionTrialSettingsEndBehaviorMissingPaymentMethod(v); b {
	case stripe.SubscriptionTrialSettingsEndBehaviorMissingPaymentMethodCancel,
		stripe.SubscriptionTrialSettingsEndBehaviorMissingPaymentMethodCreateInvoice,
		stripe.SubscriptionTrialSettingsEndBehaviorMissingPaymentMethodPause:
		return b, true
	}
	return "", false
}

// updateTrialSettings applies trial_settings[end_behavior][missing_payment_method]
// of a subscription update to sub; it answers a refusal and returns false
// for an unknown value. The caller holds s.mu.
func (s *Server) updateTrialSettings(w http.ResponseWriter, sub *stripe.Subscription, f url.Values) bool {
	const key = "trial_settings[end_behavior][missing_payment_method]"
	v, ok := f[key]
	if !ok {
		return true
	}
	b, valid := trialEndBehavior(v[0])
	if !valid {
		writeErrParam(w, 400, "invalid_request_error", "", key, "Invalid missing_payment_method: "+v[0])
		return false
	}
	sub.TrialSettings = &stripe.SubscriptionTrialSettings{EndBehavior: &stripe.SubscriptionTrialSettingsEndBehavior{MissingPaymentMethod: b}}
	return true
}

// missingPaymentMethod is what sub's trial does when it ends without a
// payment method; create_invoice when not set, as by Stripe.
func missingPaymentMethod(sub *stripe.Subscription) stripe.SubscriptionTrialSettingsEndBehaviorMissingPaymentMethod {
	if ts := sub.TrialSettings; ts != nil && ts.EndBehavior != nil && ts.EndBehavior.MissingPaymentMethod != "" {
		return ts.EndBehavior.MissingPaymentMethod
	}
	return stripe.SubscriptionTrialSettingsEndBehaviorMissingPaymentMethodCreateInvoice
}

// TrialWillEnd moves the clock to three days before the trialing
// subscription's trial ends (unless it is past that) and sends
// customer.subscription.trial_will_end, once per subscription.
func (s *Server) TrialWillEnd(subID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	sub := s.subs[subID]
	if sub == nil || sub.Status != stripe.SubscriptionStatusTrialing {
		return fmt.Errorf("stripefake: subscription %q is not trialing", subID)
	}
	s.trialWillEnd(sub)
	return nil
}

// trialWillEnd is TrialWillEnd with s.mu held.
func (s *Server) trialWillEnd(sub *stripe.Subscription) {
	if s.trialWarned[sub.ID] {
		return
	}
	if at := time.Unix(sub.TrialEnd, 0).Add(-TrialWillEndLead).UTC(); s.now.Before(at) {
		s.now = at
	}
	s.trialWarned[sub.ID] = true
	s.emit("customer.subscription.trial_will_end", "subscription", sub, nil)
}

// pause pauses sub (a trial ended without a payment method, with
// missing_payment_method=pause): status paused, no invoice, and
// customer.subscription.paused. The caller holds s.mu.
func (s *Server) pause(sub *stripe.Subscription) {
	prev := s.render("subscription", sub, nil)
	sub.Status = stripe.SubscriptionStatusPaused
	s.emit("customer.subscription.paused", "subscription", sub, prev)
	s.emitUpdated(sub, prev)
}

// resumeSubscription serves POST /v1/subscriptions/{id}/resume.
func (s *Server) resumeSubscription(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sub := s.subs[r.PathValue("id")]
	if sub == nil {
		writeErr(w, 404, "invalid_request_error", "No such subscription: '"+r.PathValue("id")+"'")
		return
	}
	if sub.Status != stripe.SubscriptionStatusPaused {
		writeErr(w, 400, "invalid_request_error", "Only paused subscriptions can be resumed; this one is "+string(sub.Status)+".")
		return
	}
	anchor := r.Form.Get("billing_cycle_anchor")
	if anchor != "" && anchor != "now" {
		writeErrParam(w, 400, "invalid_request_error", "", "billing_cycle_anchor", "stripefake: only billing_cycle_anchor=now is supported")
		return
	}
	prev := s.render("subscription", sub, nil)
	now := s.unix()
	var lines []*stripe.InvoiceLineItem
	for _, it := range sub.Items.Data {
		p := s.prices[it.Price.ID]
		it.CurrentPeriodStart, it.CurrentPeriodEnd = now, s.addInterval(now, p)
		lines = append(lines, s.line(sub.ID, it.ID, p, it.Quantity, p.UnitAmount*it.Quantity, it.CurrentPeriodStart,
			it.CurrentPeriodEnd, false, fmt.Sprintf("%d × %s", it.Quantity, p.Product)))
	}
	sub.BillingCycleAnchor = now
	sub.Status = stripe.SubscriptionStatusActive
	inv := s.newInvoice(sub, sub.Customer.ID, stripe.InvoiceBillingReasonSubscriptionUpdate, lines, string(sub.Currency))
	sub.LatestInvoice = &stripe.Invoice{ID: fmt.Sprintf("in_fake%06d", s.seq["in"]+1)}
	s.emit("customer.subscription.resumed", "subscription", sub, prev)
	s.emitUpdated(sub, prev)
	s.finalize(inv)
	s.attempt(inv) // failed: past_due, as documented
	writeJSON(w, 200, s.render("subscription", sub, formList(r.Form, "expand")))
}
