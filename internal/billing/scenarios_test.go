package billing

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"github.com/stripe/stripe-go/v85"

	"github.com/groundwork-dev/groundwork/internal/audit"
	"github.com/groundwork-dev/groundwork/internal/gw"
	"github.com/groundwork-dev/groundwork/internal/stripefake"
)

// The scenarios of issue 5, each replayed against the fake Stripe through
// the billing page's Service, the webhook ledger, the worker's Syncer and
// the Notifier, asserting the final state and the side effects.

// 1. Happy checkout: one customer per organisation (idempotency key,
// org_id metadata), client_reference_id, automatic tax, tax ID collection,
// required billing address; the webhooks make the organisation Pro.
func TestScenario01HappyCheckout(t *testing.T) {
	t.Parallel()
	s := newScenario(t, stripefake.Options{})
	s.entitled(PlanFree, AccessFull)
	s.subscribe(PlanPro)
	s.entitled(PlanFree, AccessFull) // nothing synced yet
	s.deliver()
	s.requireTruth()
	s.entitled(PlanPro, AccessFull)

	var created, session *stripefake.Request
	for _, r := range s.fake.Requests() {
		r := r
		switch {
		case r.Method == "POST" && r.Path == "/v1/customers":
			created = &r
		case r.Method == "POST" && r.Path == "/v1/checkout/sessions":
			session = &r
		}
	}
	require.NotNil(t, created)
	// The key is this attempt's (item 17): the organisation and a random
	// part, never the organisation alone, which Stripe would replay for
	// 24 hours with the first customer, deleted or not.
	require.True(t, strings.HasPrefix(created.IdempotencyKey, "groundwork-customer-"+s.org+"-"), created.IdempotencyKey)
	_, err := uuid.Parse(strings.TrimPrefix(created.IdempotencyKey, "groundwork-customer-"+s.org+"-"))
	require.NoError(t, err, created.IdempotencyKey)
	require.Equal(t, s.org, created.Form.Get("metadata[org_id]"))
	require.NotNil(t, session)
	for k, v := range map[string]string{
		"mode": "subscription", "client_reference_id": s.org, "customer": s.cus,
		"automatic_tax[enabled]": "true", "tax_id_collection[enabled]": "true",
		"billing_address_collection": "required", "customer_update[address]": "auto",
		"line_items[0][price]": "price_pro_monthly",
		"success_url":          "https://app.test/o/" + s.org + "/billing/success?session_id={CHECKOUT_SESSION_ID}",
	} {
		require.Equal(t, v, session.Form.Get(k), k)
	}
	require.Empty(t, s.mails(), "a successful checkout sends no billing email")
}

// 2. The user returns from Checkout before any webhook: the redirect syncs
// the same way, and the webhooks that follow change nothing and send nothing.
func TestScenario02RedirectBeforeWebhook(t *testing.T) {
	t.Parallel()
	s := newScenario(t, stripefake.Options{})
	cs := s.checkout(PlanPro, CheckoutInput{})
	sub, err := s.fake.CompleteCheckout(cs)
	require.NoError(t, err)
	s.sub = sub
	require.NoError(t, s.svc.FinishCheckout(s.ctx, s.scope, cs))
	s.cus = s.account().CustomerID
	s.requireTruth()
	s.entitled(PlanPro, AccessFull)
	before := s.account()

	s.deliver()
	after := s.account()
	before.SyncedAt, after.SyncedAt = time.Time{}, time.Time{}
	before.version, after.version = 0, 0
	require.Equal(t, before, after, "the webhooks change nothing")
	require.Empty(t, s.outbox())
	require.Empty(t, s.mails())

	// Another organisation's session is not found, and changes nothing.
	other := s.scope
	other.OrgID = "0190a0b0-0000-7000-8000-0000000000ff"
	require.Equal(t, gw.ENOTFOUND, gw.ErrorCode(s.svc.FinishCheckout(s.ctx, other, cs)))
}

// 5. A delivery answered 500 is redelivered and processed once; an event
// recorded whose job never ran (a crash after the ledger insert) is
// processed by the reconciler.
func TestScenario05FailedDeliveryAndCrash(t *testing.T) {
	t.Parallel()
	s := newScenario(t, stripefake.Options{})
	fail := true
	endpoint := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if fail {
			http.Error(w, "database unavailable", http.StatusInternalServerError)
			return
		}
		if _, _, err := s.ledger.Receive(r.Context(), body, r.Header.Get("Stripe-Signature")); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(endpoint.Close)
	s.subscribe(PlanPro)
	attempts, err := s.fake.Deliver(s.ctx, endpoint.URL, newSecret, stripefake.DeliverOptions{})
	require.NoError(t, err)
	require.NotEmpty(t, attempts)
	for _, a := range attempts {
		require.False(t, a.Delivered(), "every delivery failed with 500")
	}
	require.NotEmpty(t, s.fake.Pending(endpoint.URL), "Stripe will redeliver them")
	var n int
	require.NoError(t, s.db.Owner.QueryRow(s.ctx, `SELECT count(*) FROM stripe_events`).Scan(&n))
	require.Zero(t, n, "a failed delivery stored nothing")

	fail = false
	_, err = s.fake.Deliver(s.ctx, endpoint.URL, newSecret, stripefake.DeliverOptions{})
	require.NoError(t, err)
	require.Empty(t, s.fake.Pending(endpoint.URL))
	// The jobs were enqueued with the ledger rows but no worker runs here:
	// that is the crash between the ledger insert and the processing. The
	// reconciler processes rows whose job did not.
	s.entitled(PlanFree, AccessFull)
	res, err := (&Reconciler{Syncer: s.syncer, RetryAfter: time.Nanosecond}).Run(s.ctx)
	require.NoError(t, err)
	require.Equal(t, len(s.fake.Events()), res.Processed)
	s.skip()
	s.requireTruth()
	s.entitled(PlanPro, AccessFull)
	require.NoError(t, s.db.Owner.QueryRow(s.ctx, `SELECT count(*) FROM stripe_events WHERE processed_at IS NULL`).Scan(&n))
	require.Zero(t, n)
}

// 7. Double subscribe: a second checkout expires the first session (two tabs
// cannot both pay), and once a subscription exists, a new checkout is
// refused with ErrLiveSubscription even before any webhook arrived.
func TestScenario07DoubleSubscribe(t *testing.T) {
	t.Parallel()
	s := newScenario(t, stripefake.Options{})
	first := s.checkout(PlanPro, CheckoutInput{})
	second := s.checkout(PlanBusiness, CheckoutInput{})
	require.NotEqual(t, first, second)
	_, err := s.fake.CompleteCheckout(first)
	require.Error(t, err, "the first session was expired")
	sub, err := s.fake.CompleteCheckout(second)
	require.NoError(t, err)
	s.sub = sub

	// No webhook, no redirect yet: the stored session is re-fetched.
	_, err = s.svc.StartCheckout(s.ctx, s.scope, CheckoutInput{Plan: PlanPro})
	require.Equal(t, gw.ECONFLICT, gw.ErrorCode(err))
	require.True(t, errors.Is(err, ErrLiveSubscription))
	s.cus = s.account().CustomerID
	s.requireTruth()
	s.entitled(PlanBusiness, AccessFull)
	require.Equal(t, 1, s.fake.CustomerCount(), "one customer per organisation")
	require.Len(t, s.fake.Subscriptions(), 1)

	s.deliver()
	_, err = s.svc.StartCheckout(s.ctx, s.scope, CheckoutInput{Plan: PlanBusiness})
	require.True(t, errors.Is(err, ErrLiveSubscription))
	require.Len(t, s.fake.Subscriptions(), 1)
}

// 9. Retries exhausted: past_due with a banner, then read-only when Stripe
// marks the subscription unpaid, then the free plan when Stripe cancels it;
// a new checkout is refused while the invoice is unpaid. One email per
// failed attempt.
func TestScenario09RetriesExhausted(t *testing.T) {
	t.Parallel()
	s := newScenario(t, stripefake.Options{RetriesExhausted: "unpaid"})
	s.subscribe(PlanPro)
	s.deliver()
	require.NoError(t, s.fake.SetCardDeclines(s.cus, true))
	inv, err := s.fake.Renew(s.sub)
	require.NoError(t, err)
	s.deliver()
	e := s.entitled(PlanPro, AccessBanner)
	require.Equal(t, s.account().Snapshot.FirstPaymentFailedAt.Add(7*24*time.Hour), e.GraceEndsAt)
	s.fake.Advance(72 * time.Hour)
	require.NoError(t, s.fake.FailPayment(inv))
	s.deliver()
	s.fake.Advance(72 * time.Hour)
	require.NoError(t, s.fake.ExhaustRetries(s.sub))
	s.deliver()
	s.requireTruth()
	s.entitled(PlanPro, AccessReadOnly)

	_, err = s.svc.StartCheckout(s.ctx, s.scope, CheckoutInput{Plan: PlanPro})
	require.Equal(t, gw.ECONFLICT, gw.ErrorCode(err), "live (unpaid) subscription")

	_, err = s.fake.Client().V1Subscriptions.Cancel(s.ctx, s.sub, nil)
	require.NoError(t, err)
	s.deliver()
	s.entitled(PlanFree, AccessFull)
	_, err = s.svc.StartCheckout(s.ctx, s.scope, CheckoutInput{Plan: PlanPro})
	require.Equal(t, gw.ECONFLICT, gw.ErrorCode(err), "an invoice is still unpaid")
	require.Contains(t, gw.ErrorMessage(err), "unpaid")

	// Each failed attempt: one email to each billing contact.
	m := s.mails()
	require.Len(t, m["owner@acme.test"], 3, "%v", m)
	require.Len(t, m["cfo@acme.test"], 3)
	for _, subj := range m["owner@acme.test"] {
		require.Equal(t, "Payment failed for Acme", subj)
	}
}

// 9b. The grace deadline ends access even when Stripe still retries: the
// deadline is counted from the stored first failure.
func TestScenario09GraceDeadline(t *testing.T) {
	t.Parallel()
	s := newScenario(t, stripefake.Options{})
	s.subscribe(PlanPro)
	s.deliver()
	require.NoError(t, s.fake.SetCardDeclines(s.cus, true))
	_, err := s.fake.Renew(s.sub)
	require.NoError(t, err)
	failedAt := s.fake.Now()
	s.deliver()
	s.entitled(PlanPro, AccessBanner)
	require.Equal(t, failedAt, s.account().Snapshot.FirstPaymentFailedAt)

	s.fake.Advance(7*24*time.Hour - time.Second)
	s.deliver() // nothing new; a late redelivery would not move the deadline either
	s.entitled(PlanPro, AccessBanner)
	s.fake.Advance(time.Second)
	s.entitled(PlanPro, AccessReadOnly)
	require.Len(t, s.mails()["owner@acme.test"], 1)

	require.NoError(t, s.fake.ExhaustRetries(s.sub)) // default: Stripe cancels
	s.deliver()
	s.requireTruth()
	s.entitled(PlanFree, AccessFull)
}

// 10. The first payment fails: the subscription is incomplete and grants
// nothing; it expires (incomplete_expired), still the free plan, and a new
// checkout is allowed (the invoice was voided).
func TestScenario10IncompleteFirstPayment(t *testing.T) {
	t.Parallel()
	s := newScenario(t, stripefake.Options{})
	cs := s.checkout(PlanPro, CheckoutInput{})
	sub, err := s.fake.CompleteCheckoutWith(cs, stripefake.CheckoutOutcome{PaymentFails: true})
	require.NoError(t, err)
	s.sub = sub
	s.deliver()
	s.cus = s.account().CustomerID
	s.requireTruth()
	require.Equal(t, stripe.SubscriptionStatusIncomplete, s.account().Snapshot.Status)
	s.entitled(PlanFree, AccessFull)

	require.NoError(t, s.fake.ExpireIncomplete(sub))
	s.deliver()
	require.Equal(t, stripe.SubscriptionStatusIncompleteExpired, s.account().Snapshot.Status)
	s.entitled(PlanFree, AccessFull)
	require.Empty(t, s.mails(), "an incomplete first payment is handled by Checkout, not dunning emails")
	s.checkout(PlanPro, CheckoutInput{})
}

// 11. A trial ending without a payment method: Pro during the trial, the
// free plan when Stripe cancels it at the trial's end.
func TestScenario11TrialWithoutPaymentMethod(t *testing.T) {
	t.Parallel()
	s := newScenario(t, stripefake.Options{})
	cs := s.checkout(PlanPro, CheckoutInput{TrialDays: 14})
	sub, err := s.fake.CompleteCheckoutWith(cs, stripefake.CheckoutOutcome{NoPaymentMethod: true})
	require.NoError(t, err)
	s.sub = sub
	s.deliver()
	s.cus = s.account().CustomerID
	s.requireTruth()
	e := s.entitled(PlanPro, AccessFull)
	require.Equal(t, "trial", e.Reason)

	_, err = s.fake.TrialEnd(sub)
	require.NoError(t, err)
	s.deliver()
	s.requireTruth()
	s.entitled(PlanFree, AccessFull)
	require.Empty(t, s.mails())
}

// 12. An upgrade mid-cycle: the invoice Stripe charges equals the preview
// made at the same proration date; the plan is raised once Stripe shows the
// new price paid.
func TestScenario12UpgradeMidCycle(t *testing.T) {
	t.Parallel()
	s := newScenario(t, stripefake.Options{})
	s.subscribe(PlanPro)
	s.deliver()
	s.fake.Advance(10 * 24 * time.Hour)

	p, err := s.svc.PreviewChange(s.ctx, s.scope, PlanBusiness)
	require.NoError(t, err)
	require.True(t, p.Upgrade)
	require.Equal(t, s.fake.Now(), p.ProrationDate)
	require.Positive(t, p.Invoice.AmountDue)
	s.fake.Advance(2 * time.Minute) // the user reads the preview
	require.NoError(t, s.svc.ChangePlan(s.ctx, s.scope, PlanBusiness, p.ProrationDate))

	inv := s.fake.Invoice(s.fake.LatestInvoice(s.sub))
	require.Equal(t, stripe.InvoiceStatusPaid, inv.Status)
	require.Equal(t, p.Invoice.AmountDue, inv.AmountDue, "charged exactly the preview")
	require.Equal(t, p.Invoice.Total, inv.Total)
	s.requireTruth()
	s.entitled(PlanBusiness, AccessFull)
	s.deliver()
	s.requireTruth()
	s.entitled(PlanBusiness, AccessFull)
	require.Contains(t, s.auditActions(), audit.ActionBillingPlanChanged)

	// The preview's date is required: an old one is refused.
	_, err = s.svc.PreviewChange(s.ctx, s.scope, PlanBusiness)
	require.Equal(t, gw.EINVALID, gw.ErrorCode(err), "already on Business")
}

// 12b. The upgrade's payment fails: Stripe keeps the old price with a
// pending update, the organisation keeps Pro, and no second change is
// accepted meanwhile; paying the invoice applies Business.
func TestScenario12UpgradePaymentFails(t *testing.T) {
	t.Parallel()
	s := newScenario(t, stripefake.Options{})
	s.subscribe(PlanPro)
	s.deliver()
	s.fake.Advance(3 * 24 * time.Hour)
	require.NoError(t, s.fake.SetCardDeclines(s.cus, true))
	p, err := s.svc.PreviewChange(s.ctx, s.scope, PlanBusiness)
	require.NoError(t, err)
	require.NoError(t, s.svc.ChangePlan(s.ctx, s.scope, PlanBusiness, p.ProrationDate))
	s.deliver()
	s.requireTruth()
	e := s.entitled(PlanPro, AccessFull)
	require.Equal(t, PlanBusiness, e.PendingPlan)
	require.Equal(t, "price_business_monthly", s.account().Snapshot.PendingPriceID)
	_, err = s.svc.PreviewChange(s.ctx, s.scope, PlanBusiness)
	require.Equal(t, gw.ECONFLICT, gw.ErrorCode(err))

	require.NoError(t, s.fake.SetCardDeclines(s.cus, false))
	require.NoError(t, s.fake.PayInvoice(s.fake.LatestInvoice(s.sub)))
	s.deliver()
	s.requireTruth()
	s.entitled(PlanBusiness, AccessFull)
}

// 14. Cancel at period end keeps the plan until then; reactivate undoes it;
// cancel again and the period ends: the free plan.
func TestScenario14CancelAndReactivate(t *testing.T) {
	t.Parallel()
	s := newScenario(t, stripefake.Options{})
	s.subscribe(PlanPro)
	s.deliver()
	require.NoError(t, s.svc.Cancel(s.ctx, s.scope))
	require.True(t, s.account().Snapshot.CancelAtPeriodEnd)
	s.entitled(PlanPro, AccessFull)
	require.Equal(t, gw.ECONFLICT, gw.ErrorCode(s.svc.Cancel(s.ctx, s.scope)))
	s.deliver()
	s.requireTruth()

	require.NoError(t, s.svc.Reactivate(s.ctx, s.scope))
	require.False(t, s.account().Snapshot.CancelAtPeriodEnd)
	require.Equal(t, gw.ECONFLICT, gw.ErrorCode(s.svc.Reactivate(s.ctx, s.scope)))
	s.deliver()
	s.requireTruth()
	s.entitled(PlanPro, AccessFull)

	require.NoError(t, s.svc.Cancel(s.ctx, s.scope))
	_, err := s.fake.Renew(s.sub) // the period ends: Stripe cancels
	require.NoError(t, err)
	s.deliver()
	s.requireTruth()
	s.entitled(PlanFree, AccessFull)
	actions := s.auditActions()
	require.Contains(t, actions, audit.ActionBillingCanceled)
	require.Contains(t, actions, audit.ActionBillingReactivated)
}

// 15. Disputes: an inquiry only flags; funds withdrawn restricts, records
// the amount, audits and alerts once; won clears; lost applies the policy;
// a created event delivered after closed re-opens nothing.
func TestScenario15Disputes(t *testing.T) {
	t.Parallel()
	s := newScenario(t, stripefake.Options{})
	s.subscribe(PlanPro)
	s.deliver()
	charge := s.fake.InvoiceCharge(s.fake.LatestInvoice(s.sub))

	inquiry, err := s.fake.OpenDispute(charge, false)
	require.NoError(t, err)
	s.deliver()
	require.Equal(t, DisputeInquiry, s.account().Dispute.Status)
	s.entitled(PlanPro, AccessFull)
	require.NoError(t, s.fake.CloseDispute(inquiry, true))
	s.deliver()
	s.entitled(PlanPro, AccessFull)

	d, err := s.fake.OpenDispute(charge, true)
	require.NoError(t, err)
	s.deliver()
	a := s.account()
	require.Equal(t, DisputeOpen, a.Dispute.Status)
	require.True(t, a.Dispute.FundsWithdrawn)
	require.EqualValues(t, 3000, a.DisputeAmount)
	s.entitled(PlanPro, AccessReadOnly)
	require.Len(t, s.alerts, 1)
	require.Contains(t, s.alerts[0], d)
	s.deliver() // nothing new: no second alert
	require.Len(t, s.alerts, 1)

	require.NoError(t, s.fake.CloseDispute(d, true))
	s.deliver()
	require.Equal(t, DisputeWon, s.account().Dispute.Status)
	s.entitled(PlanPro, AccessFull)

	lost, err := s.fake.OpenDispute(charge, true)
	require.NoError(t, err)
	require.NoError(t, s.fake.CloseDispute(lost, false))
	// Deliver closed first, created after: the re-fetched dispute is lost.
	evs := s.fake.Events()[s.next:]
	for i := len(evs) - 1; i >= 0; i-- {
		payload := stripefake.EventPayload(evs[i])
		id, _, err := s.ledger.Receive(s.ctx, payload, stripefake.SignPayload(payload, time.Now(), newSecret))
		require.NoError(t, err)
		s.process(id)
	}
	s.skip()
	s.send()
	require.Equal(t, DisputeLost, s.account().Dispute.Status)
	require.Equal(t, lost, s.account().DisputeID)
	s.entitled(PlanPro, AccessReadOnly) // the default policy: restrict
	require.Len(t, s.alerts, 2, "funds withdrawn once, lost once: %v", s.alerts)

	n := 0
	for _, a := range s.auditActions() {
		if a == audit.ActionBillingDispute {
			n++
		}
	}
	require.Equal(t, 5, n, "inquiry, inquiry closed, opened, won, lost")
}

// 13. A downgrade takes effect at the period end, through a subscription
// schedule, with no credit: the plan paid for stays until then, and the
// renewal invoices the lower price without proration lines.
func TestScenario13DowngradeAtPeriodEnd(t *testing.T) {
	t.Parallel()
	s := newScenario(t, stripefake.Options{})
	s.subscribe(PlanBusiness)
	s.deliver()
	periodEnd := s.account().Snapshot.CurrentPeriodEnd
	firstInvoice := s.fake.LatestInvoice(s.sub)
	s.fake.Advance(10 * 24 * time.Hour)

	p, err := s.svc.PreviewChange(s.ctx, s.scope, PlanPro)
	require.NoError(t, err)
	require.False(t, p.Upgrade)
	require.Equal(t, periodEnd, p.EffectiveAt)
	require.EqualValues(t, 3000, p.Invoice.Total, "the first invoice at the new price, no credit")
	require.NoError(t, s.svc.ChangePlan(s.ctx, s.scope, PlanPro, time.Time{}))
	a := s.account()
	require.Equal(t, "price_pro_monthly", a.ScheduledPriceID)
	require.Equal(t, periodEnd, a.ScheduledChangeAt)
	require.Equal(t, firstInvoice, s.fake.LatestInvoice(s.sub), "nothing invoiced or credited now")
	s.entitled(PlanBusiness, AccessFull)
	s.deliver()
	s.requireTruth()
	s.entitled(PlanBusiness, AccessFull)
	require.Equal(t, "price_pro_monthly", s.account().ScheduledPriceID)

	ov, err := s.svc.Overview(s.ctx, s.scope)
	require.NoError(t, err)
	require.NotNil(t, ov.ScheduledPlan)
	require.Equal(t, PlanPro, ov.ScheduledPlan.ID)

	renewal, err := s.fake.Renew(s.sub)
	require.NoError(t, err)
	s.deliver()
	s.requireTruth()
	s.entitled(PlanPro, AccessFull)
	inv := s.fake.Invoice(renewal)
	require.EqualValues(t, 3000, inv.Total)
	for _, l := range inv.Lines.Data {
		require.Positive(t, l.Amount, "no credit line: %s", l.Description)
	}
	require.Empty(t, s.account().ScheduledPriceID)
}

// 16. Tax comes from Stripe's invoice: taxable, reverse charge, not
// collecting; an unrecognised tax location is shown with what to fix and
// refuses plan changes with that message.
func TestScenario16Tax(t *testing.T) {
	t.Parallel()
	s := newScenario(t, stripefake.Options{TaxBasisPoints: 2000})
	s.subscribe(PlanPro)
	s.deliver()
	latest := func() *Invoice {
		t.Helper()
		ov, err := s.svc.Overview(s.ctx, s.scope)
		require.NoError(t, err)
		require.Empty(t, ov.StripeError)
		require.NotNil(t, ov.LatestInvoice)
		return ov.LatestInvoice
	}
	inv := latest()
	require.EqualValues(t, 3000, inv.Subtotal)
	require.EqualValues(t, 600, inv.Tax, "taxable: Stripe's 20%")
	require.EqualValues(t, 3600, inv.Total)
	require.Empty(t, inv.TaxNote)

	require.NoError(t, s.fake.SetTaxExempt(s.cus, stripe.CustomerTaxExemptReverse))
	_, err := s.fake.Renew(s.sub)
	require.NoError(t, err)
	s.deliver()
	inv = latest()
	require.Zero(t, inv.Tax)
	require.EqualValues(t, 3000, inv.Total)
	require.Contains(t, inv.TaxNote, "Reverse charge")

	require.NoError(t, s.fake.SetTaxExempt(s.cus, stripe.CustomerTaxExemptNone))
	require.NoError(t, s.fake.SetTaxLocation(s.cus, stripe.CustomerTaxAutomaticTaxNotCollecting))
	_, err = s.fake.Renew(s.sub)
	require.NoError(t, err)
	s.deliver()
	inv = latest()
	require.Zero(t, inv.Tax)
	require.Contains(t, inv.TaxNote, "No tax collected")

	require.NoError(t, s.fake.SetTaxLocation(s.cus, stripe.CustomerTaxAutomaticTaxUnrecognizedLocation))
	ov, err := s.svc.Overview(s.ctx, s.scope)
	require.NoError(t, err)
	require.Equal(t, TaxLocationProblem, ov.TaxProblem)
	_, err = s.svc.PreviewChange(s.ctx, s.scope, PlanBusiness)
	require.Equal(t, gw.EINVALID, gw.ErrorCode(err))
	require.Equal(t, TaxLocationProblem, gw.ErrorMessage(err))
	s.entitled(PlanPro, AccessFull) // the plan paid for is untouched
}

// 13b. Cancelling drops a scheduled downgrade (the schedule is released):
// the subscription ends at the period end instead of moving to Pro.
func TestScenario13CancelDropsScheduledDowngrade(t *testing.T) {
	t.Parallel()
	s := newScenario(t, stripefake.Options{})
	s.subscribe(PlanBusiness)
	s.deliver()
	require.NoError(t, s.svc.ChangePlan(s.ctx, s.scope, PlanPro, time.Time{}))
	require.Equal(t, "price_pro_monthly", s.account().ScheduledPriceID)
	sched := s.fake.Subscription(s.sub).Schedule.ID

	require.NoError(t, s.svc.Cancel(s.ctx, s.scope))
	require.Equal(t, stripe.SubscriptionScheduleStatusReleased, s.fake.SubscriptionSchedule(sched).Status)
	a := s.account()
	require.Empty(t, a.ScheduledPriceID)
	require.True(t, a.Snapshot.CancelAtPeriodEnd)
	s.deliver()
	s.requireTruth()
	s.entitled(PlanBusiness, AccessFull)

	_, err := s.fake.Renew(s.sub)
	require.NoError(t, err)
	s.deliver()
	s.requireTruth()
	s.entitled(PlanFree, AccessFull)
}

// The Customer Portal: a session for the organisation's customer, returning
// to its billing page, with the configuration the app creates once — plan
// changes off, cancellation at the period end without proration.
func TestPortal(t *testing.T) {
	t.Parallel()
	s := newScenario(t, stripefake.Options{})
	_, err := s.svc.PortalURL(s.ctx, s.scope)
	require.Equal(t, gw.ECONFLICT, gw.ErrorCode(err), "no customer yet")
	s.subscribe(PlanPro)
	s.deliver()
	u, err := s.svc.PortalURL(s.ctx, s.scope)
	require.NoError(t, err)
	id := u[strings.LastIndex(u, "/")+1:]
	ps := s.fake.PortalSession(id)
	require.NotNil(t, ps)
	require.Equal(t, s.cus, ps.Customer)
	require.Equal(t, "https://app.test/o/"+s.org+"/billing", ps.ReturnURL)
	conf := s.fake.PortalConfiguration(ps.Configuration.ID)
	require.False(t, conf.Features.SubscriptionUpdate.Enabled)
	require.True(t, conf.Features.SubscriptionCancel.Enabled)
	require.Equal(t, stripe.BillingPortalConfigurationFeaturesSubscriptionCancelModeAtPeriodEnd, conf.Features.SubscriptionCancel.Mode)
	require.True(t, conf.Features.PaymentMethodUpdate.Enabled)
	require.True(t, conf.Features.InvoiceHistory.Enabled)

	// One configuration, reused.
	u2, err := s.svc.PortalURL(s.ctx, s.scope)
	require.NoError(t, err)
	require.Equal(t, ps.Configuration.ID, s.fake.PortalSession(u2[strings.LastIndex(u2, "/")+1:]).Configuration.ID)

	member := s.scope
	member.Role = gw.RoleMember
	_, err = s.svc.PortalURL(s.ctx, member)
	require.Equal(t, gw.EFORBIDDEN, gw.ErrorCode(err))

	// Item 6. Another process, whose first portal request comes from
	// another organisation, gets the same configuration (before: the same
	// idempotency key with another return URL, refused for 24 hours).
	b := s.otherOrg("Beta")
	s.deliver()
	other, err := NewService(ServiceConfig{Syncer: s.syncer, BaseURL: "https://app.test"})
	require.NoError(t, err)
	u3, err := other.PortalURL(s.ctx, gw.Scope{Actor: s.scope.Actor, OrgID: b.org, Role: gw.RoleOwner})
	require.NoError(t, err)
	ps3 := s.fake.PortalSession(u3[strings.LastIndex(u3, "/")+1:])
	require.Equal(t, ps.Configuration.ID, ps3.Configuration.ID)
	require.Equal(t, "https://app.test/o/"+b.org+"/billing", ps3.ReturnURL)
}

// Events of an organisation deleted since (its customer still names it)
// are marked processed, not retried forever or counted as failures.
func TestEventsOfADeletedOrganisation(t *testing.T) {
	t.Parallel()
	s := newScenario(t, stripefake.Options{})
	s.subscribe(PlanPro)
	s.deliver()
	require.NoError(t, s.svc.Cancel(s.ctx, s.scope))
	_, err := s.db.Owner.Exec(s.ctx, `DELETE FROM orgs WHERE id = $1`, s.org)
	require.NoError(t, err)
	_, err = s.fake.Renew(s.sub) // the period ends: Stripe cancels
	require.NoError(t, err)
	ids, _ := s.receive()
	require.NotEmpty(t, ids)
	s.process(ids...)
	var unprocessed int
	var lastError string
	require.NoError(t, s.db.Owner.QueryRow(s.ctx, `SELECT count(*) FILTER (WHERE processed_at IS NULL),
		max(last_error) FROM stripe_events WHERE id = ANY($1)`, ids).Scan(&unprocessed, &lastError))
	require.Zero(t, unprocessed)
	require.Equal(t, ErrDeletedOrg.Error(), lastError)
}

// 9c. Smart-Retries-like schedule (stripefake.DefaultRetrySchedule: seven
// retries within two weeks): every failed attempt emails each billing
// contact once while the subscription lives, and the last one ends the
// subscription as the account's setting says (canceled: the free plan). A payment that succeeds on a
// retry ends dunning with full access.
func TestScenario09SmartRetries(t *testing.T) {
	t.Parallel()
	t.Run("exhausted", func(t *testing.T) {
		t.Parallel()
		s := newScenario(t, stripefake.Options{RetrySchedule: stripefake.DefaultRetrySchedule})
		s.subscribe(PlanPro)
		s.deliver()
		require.NoError(t, s.fake.SetCardDeclines(s.cus, true))
		_, err := s.fake.Renew(s.sub)
		require.NoError(t, err)
		s.deliver()
		s.entitled(PlanPro, AccessBanner)
		retries := 0
		for more := true; more; {
			more, err = s.fake.RetryNext(s.sub, false)
			require.NoError(t, err)
			retries++
			s.deliver() // as the retries happen, days apart
		}
		require.Equal(t, len(stripefake.DefaultRetrySchedule), retries)
		s.requireTruth()
		s.entitled(PlanFree, AccessFull)
		// One email per failed attempt while the subscription lives; the
		// last failure ended it, and no email says Stripe will retry.
		m := s.mails()
		require.Len(t, m["owner@acme.test"], retries, "%v", m)
		require.Len(t, m["cfo@acme.test"], retries)
	})
	t.Run("recovered", func(t *testing.T) {
		t.Parallel()
		s := newScenario(t, stripefake.Options{RetrySchedule: stripefake.DefaultRetrySchedule})
		s.subscribe(PlanPro)
		s.deliver()
		require.NoError(t, s.fake.SetCardDeclines(s.cus, true))
		_, err := s.fake.Renew(s.sub)
		require.NoError(t, err)
		s.deliver()
		for range 2 {
			more, err := s.fake.RetryNext(s.sub, false)
			require.NoError(t, err)
			require.True(t, more)
			s.deliver()
		}
		s.entitled(PlanPro, AccessBanner)
		more, err := s.fake.RetryNext(s.sub, true)
		require.NoError(t, err)
		require.False(t, more)
		s.deliver()
		s.requireTruth()
		s.entitled(PlanPro, AccessFull)
		m := s.mails()
		require.ElementsMatch(t, []string{"Payment failed for Acme", "Payment failed for Acme", "Payment failed for Acme", "Payment received for Acme"},
			m["owner@acme.test"], "the first attempt, two failed retries, the recovery")
	})
}
