package stripefake_test

import (
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/stripe/stripe-go/v85"

	"github.com/groundwork-dev/groundwork/internal/stripefake"
)

// trialCheckout completes a 14-day trial checkout without a payment method
// whose trial ends as behavior says ("" sends no trial_settings: Stripe's
// default, create_invoice).
func (e env) trialCheckout(t *testing.T, behavior string) (cus, sub string) {
	t.Helper()
	c := e.customer(t, "trial-"+behavior)
	p := &stripe.CheckoutSessionCreateParams{
		Mode: stripe.String("subscription"), Customer: stripe.String(c.ID), SuccessURL: stripe.String("https://app.example/s"),
		LineItems:        []*stripe.CheckoutSessionCreateLineItemParams{{Price: stripe.String("price_basic_monthly"), Quantity: stripe.Int64(1)}},
		SubscriptionData: &stripe.CheckoutSessionCreateSubscriptionDataParams{TrialPeriodDays: stripe.Int64(14)},
	}
	if behavior != "" {
		p.SubscriptionData.TrialSettings = &stripe.CheckoutSessionCreateSubscriptionDataTrialSettingsParams{
			EndBehavior: &stripe.CheckoutSessionCreateSubscriptionDataTrialSettingsEndBehaviorParams{MissingPaymentMethod: stripe.String(behavior)}}
	}
	cs, err := e.sc.V1CheckoutSessions.Create(e.ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	sub, err = e.fake.CompleteCheckoutWith(cs.ID, stripefake.CheckoutOutcome{NoPaymentMethod: true})
	if err != nil {
		t.Fatal(err)
	}
	return c.ID, sub
}

// lastEvent returns the newest event of type typ; nil for none.
func (e env) lastEvent(typ string) *stripe.Event {
	evs := e.fake.Events()
	for i := len(evs) - 1; i >= 0; i-- {
		if string(evs[i].Type) == typ {
			return evs[i]
		}
	}
	return nil
}

// https://docs.stripe.com/billing/subscriptions/trials: a trial ending
// without a payment method cancels, pauses or invoices (the default,
// create_invoice: the payment fails, past_due) per trial_settings;
// trial_will_end is sent three days before the end.
func TestTrialEndBehaviors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		behavior string
		want     stripe.SubscriptionStatus
	}{
		{"cancel", stripe.SubscriptionStatusCanceled},
		{"pause", stripe.SubscriptionStatusPaused},
		{"", stripe.SubscriptionStatusPastDue},
		{"create_invoice", stripe.SubscriptionStatusPastDue},
	} {
		t.Run(tc.behavior, func(t *testing.T) {
			t.Parallel()
			e := setup(t, stripefake.Options{})
			_, sub := e.trialCheckout(t, tc.behavior)
			trialEnd := time.Unix(e.fake.Subscription(sub).TrialEnd, 0)
			if _, err := e.fake.TrialEnd(sub); err != nil {
				t.Fatal(err)
			}
			if got := e.fake.Subscription(sub).Status; got != tc.want {
				t.Fatalf("status %s, want %s", got, tc.want)
			}
			warn := e.lastEvent("customer.subscription.trial_will_end")
			if warn == nil || time.Unix(warn.Created, 0).UTC() != trialEnd.Add(-stripefake.TrialWillEndLead).UTC() {
				t.Fatalf("trial_will_end %+v, want it three days before %s", warn, trialEnd)
			}
			if tc.want == stripe.SubscriptionStatusPaused && e.lastEvent("customer.subscription.paused") == nil {
				t.Fatal("no customer.subscription.paused")
			}
		})
	}
}

// https://docs.stripe.com/api/subscriptions/resume: only a paused
// subscription resumes; billing_cycle_anchor=now starts a period with an
// invoice; paid → active, failed → past_due.
func TestResumePausedSubscription(t *testing.T) {
	t.Parallel()
	e := setup(t, stripefake.Options{})
	cus, sub := e.trialCheckout(t, "pause")
	if _, err := e.sc.V1Subscriptions.Resume(e.ctx, sub, nil); err == nil {
		t.Fatal("resumed a trialing subscription")
	}
	if _, err := e.fake.TrialEnd(sub); err != nil {
		t.Fatal(err)
	}
	if err := e.fake.SetPaymentMethod(cus, true); err != nil {
		t.Fatal(err)
	}
	if err := e.fake.SetCardDeclines(cus, true); err != nil {
		t.Fatal(err)
	}
	got, err := e.sc.V1Subscriptions.Resume(e.ctx, sub, &stripe.SubscriptionResumeParams{BillingCycleAnchor: stripe.String("now")})
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != stripe.SubscriptionStatusPastDue || e.lastEvent("customer.subscription.resumed") == nil {
		t.Fatalf("resumed with a declining card: %s", got.Status)
	}
	inv := e.fake.Invoice(e.fake.LatestInvoice(sub))
	if inv.Status != stripe.InvoiceStatusOpen || inv.AmountDue != 1000 || got.Items.Data[0].CurrentPeriodStart != e.fake.Now().Unix() {
		t.Fatalf("resumption invoice %s %d, period start %d", inv.Status, inv.AmountDue, got.Items.Data[0].CurrentPeriodStart)
	}
	_, err = e.sc.V1Subscriptions.Resume(e.ctx, sub, nil)
	requireStripeError(t, err, http.StatusBadRequest, stripe.ErrorTypeInvalidRequest)
}

// https://docs.stripe.com/billing/subscriptions/cancel#cancel-at: a
// cancel_at date cancels the subscription then, before its period ends;
// "" removes it; a date in the past is refused.
func TestCancelAtDate(t *testing.T) {
	t.Parallel()
	e := setup(t, stripefake.Options{})
	_, sub := e.subscribe(t, "price_basic_monthly")
	at := e.fake.Now().Add(10 * 24 * time.Hour)
	_, err := e.sc.V1Subscriptions.Update(e.ctx, sub, &stripe.SubscriptionUpdateParams{CancelAt: stripe.Int64(e.fake.Now().Add(-time.Hour).Unix())})
	requireStripeError(t, err, http.StatusBadRequest, stripe.ErrorTypeInvalidRequest)
	got, err := e.sc.V1Subscriptions.Update(e.ctx, sub, &stripe.SubscriptionUpdateParams{CancelAt: stripe.Int64(at.Unix())})
	if err != nil || got.CancelAt != at.Unix() || got.CancelAtPeriodEnd {
		t.Fatalf("set cancel_at: %v %d %t", err, got.CancelAt, got.CancelAtPeriodEnd)
	}
	clear := &stripe.SubscriptionUpdateParams{}
	clear.AddUnsetField(stripe.SubscriptionUpdateParamsUnsetFieldCancelAt)
	if got, err = e.sc.V1Subscriptions.Update(e.ctx, sub, clear); err != nil || got.CancelAt != 0 {
		t.Fatalf("clear cancel_at: %v %d", err, got.CancelAt)
	}
	if _, err = e.sc.V1Subscriptions.Update(e.ctx, sub, &stripe.SubscriptionUpdateParams{CancelAt: stripe.Int64(at.Unix())}); err != nil {
		t.Fatal(err)
	}
	if id, err := e.fake.Renew(sub); err != nil || id != "" {
		t.Fatalf("renew past cancel_at: %q %v", id, err)
	}
	s := e.fake.Subscription(sub)
	if s.Status != stripe.SubscriptionStatusCanceled || s.EndedAt != at.Unix() || !slices.Contains(e.fake.EventTypes(), "customer.subscription.deleted") {
		t.Fatalf("at cancel_at: %s ended %d, want %d", s.Status, s.EndedAt, at.Unix())
	}
}

// https://docs.stripe.com/billing/subscriptions/overview#subscription-lifecycle:
// a renewal invoice is a draft for about an hour, then finalised and
// charged.
func TestRenewalInvoiceDraftedAnHourBeforeFinalisation(t *testing.T) {
	t.Parallel()
	e := setup(t, stripefake.Options{})
	_, sub := e.subscribe(t, "price_basic_monthly")
	end := e.fake.Subscription(sub).Items.Data[0].CurrentPeriodEnd
	id, err := e.fake.Renew(sub)
	if err != nil {
		t.Fatal(err)
	}
	inv := e.fake.Invoice(id)
	if inv.Created != end || inv.StatusTransitions.FinalizedAt != end+int64(stripefake.RenewalDraftPeriod/time.Second) ||
		inv.StatusTransitions.PaidAt != inv.StatusTransitions.FinalizedAt {
		t.Fatalf("created %d, finalised %d, paid %d; period end %d", inv.Created, inv.StatusTransitions.FinalizedAt,
			inv.StatusTransitions.PaidAt, end)
	}
	created, finalized := e.lastEvent("invoice.created"), e.lastEvent("invoice.finalized")
	if created.Created != end || finalized.Created != end+3600 {
		t.Fatalf("invoice.created at %d, invoice.finalized at %d", created.Created, finalized.Created)
	}
}

// https://docs.stripe.com/payments/checkout/fulfill-orders#delayed-notification:
// with a delayed notification payment method Checkout completes unpaid,
// the subscription is incomplete while the payment processes, then
// async_payment_succeeded (active) or async_payment_failed (still
// incomplete, the invoice open with a failed attempt).
func TestAsyncPaymentMethods(t *testing.T) {
	t.Parallel()
	for _, succeeded := range []bool{true, false} {
		e := setup(t, stripefake.Options{})
		c := e.customer(t, "async")
		cs := e.checkout(t, c.ID, "price_basic_monthly")
		sub, err := e.fake.CompleteCheckoutWith(cs.ID, stripefake.CheckoutOutcome{AsyncPayment: true})
		if err != nil {
			t.Fatal(err)
		}
		got := e.fake.CheckoutSession(cs.ID)
		if got.Status != stripe.CheckoutSessionStatusComplete || got.PaymentStatus != stripe.CheckoutSessionPaymentStatusUnpaid ||
			e.fake.Subscription(sub).Status != stripe.SubscriptionStatusIncomplete ||
			e.fake.Invoice(e.fake.LatestInvoice(sub)).Status != stripe.InvoiceStatusOpen || e.lastEvent("checkout.session.completed") == nil {
			t.Fatalf("processing: session %s/%s, subscription %s", got.Status, got.PaymentStatus, e.fake.Subscription(sub).Status)
		}
		if err := e.fake.SettleAsyncPayment(cs.ID, succeeded); err != nil {
			t.Fatal(err)
		}
		if err := e.fake.SettleAsyncPayment(cs.ID, succeeded); err == nil {
			t.Fatal("settled twice")
		}
		status, event := stripe.SubscriptionStatusActive, "checkout.session.async_payment_succeeded"
		if !succeeded {
			status, event = stripe.SubscriptionStatusIncomplete, "checkout.session.async_payment_failed"
		}
		if e.fake.Subscription(sub).Status != status || e.lastEvent(event) == nil {
			t.Fatalf("succeeded=%t: %s, events %v", succeeded, e.fake.Subscription(sub).Status, e.fake.EventTypes())
		}
	}
}

// https://docs.stripe.com/disputes/how-disputes-work: an inquiry escalates
// to a chargeback (funds withdrawn); a prevented dispute is closed at once;
// each charge keeps its own disputes.
func TestDisputeEscalationAndPrevented(t *testing.T) {
	t.Parallel()
	e := setup(t, stripefake.Options{})
	_, sub := e.subscribe(t, "price_basic_monthly")
	first := e.fake.InvoiceCharge(e.fake.LatestInvoice(sub))
	inquiry, err := e.fake.OpenDispute(first, false)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.fake.EscalateInquiry(inquiry); err != nil {
		t.Fatal(err)
	}
	d := e.fake.Dispute(inquiry)
	if d.Status != stripe.DisputeStatusNeedsResponse || len(d.BalanceTransactions) != 1 || d.BalanceTransactions[0].Amount != -d.Amount ||
		e.lastEvent("charge.dispute.funds_withdrawn") == nil || e.lastEvent("charge.dispute.updated") == nil {
		t.Fatalf("escalated: %s %+v", d.Status, d.BalanceTransactions)
	}
	if err := e.fake.EscalateInquiry(inquiry); err == nil {
		t.Fatal("escalated a chargeback")
	}
	renewal, err := e.fake.Renew(sub)
	if err != nil {
		t.Fatal(err)
	}
	prevented, err := e.fake.PreventDispute(e.fake.InvoiceCharge(renewal))
	if err != nil {
		t.Fatal(err)
	}
	if p := e.fake.Dispute(prevented); p.Status != stripe.DisputeStatusPrevented || p.Charge.ID == first || len(p.BalanceTransactions) != 0 {
		t.Fatalf("prevented: %s on %s", p.Status, p.Charge.ID)
	}
	if e.fake.Dispute(inquiry).Status != stripe.DisputeStatusNeedsResponse {
		t.Fatal("a dispute on another charge changed the first")
	}
}
