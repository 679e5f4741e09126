package billing

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/stripe/stripe-go/v85"

	"github.com/groundwork-dev/groundwork/internal/audit"
	"github.com/groundwork-dev/groundwork/internal/gw"
	"github.com/groundwork-dev/groundwork/internal/stripefake"
)

// Issue 11, items 10, 11, 14, 15, 16 and 20: dunning and the ways a
// subscription ends or stalls that Stripe documents.

// 20. A cancellation date set in the Dashboard (cancel_at) is shown and
// honoured like cancel_at_period_end: the plan stays until then, the
// organisation is not "subscribed" for ever (it may be deleted), Reactivate
// removes the date, and at the date the organisation is on the free plan.
func TestScenario20CancelAtDate(t *testing.T) {
	t.Parallel()
	s := newScenario(t, stripefake.Options{})
	s.subscribe(PlanPro)
	s.deliver()
	dashboard := s.fake.Client() // the operator, in Stripe's Dashboard
	at := s.fake.Now().Add(10 * 24 * time.Hour).Truncate(time.Second)
	_, err := dashboard.V1Subscriptions.Update(s.ctx, s.sub, &stripe.SubscriptionUpdateParams{CancelAt: stripe.Int64(at.Unix())})
	require.NoError(t, err)
	s.deliver()
	s.requireTruth()
	require.Equal(t, at.UTC(), s.account().Snapshot.CancelAt)
	e := s.entitled(PlanPro, AccessFull)
	require.False(t, e.Subscribed, "set to end: the organisation may be deleted")
	require.Contains(t, e.Reason, "ends on "+at.Format("2 January 2006"))
	// Cancel again is refused with the date; Reactivate removes it.
	err = s.svc.Cancel(s.ctx, s.scope)
	require.Equal(t, gw.ECONFLICT, gw.ErrorCode(err))
	require.Contains(t, gw.ErrorMessage(err), at.Format("2 January 2006"))
	require.NoError(t, s.svc.Reactivate(s.ctx, s.scope))
	require.Zero(t, s.fake.Subscription(s.sub).CancelAt)
	require.True(t, s.account().Snapshot.CancelAt.IsZero())
	require.True(t, s.entitled(PlanPro, AccessFull).Subscribed)

	_, err = dashboard.V1Subscriptions.Update(s.ctx, s.sub, &stripe.SubscriptionUpdateParams{CancelAt: stripe.Int64(at.Unix())})
	require.NoError(t, err)
	s.deliver()
	// The date passes before Stripe's cancellation event arrives: the
	// entitlements already end.
	s.fake.Advance(at.Sub(s.fake.Now()))
	s.entitled(PlanFree, AccessFull)
	_, err = s.fake.Renew(s.sub) // Stripe cancels at cancel_at
	require.NoError(t, err)
	s.deliver()
	s.requireTruth()
	require.Equal(t, stripe.SubscriptionStatusCanceled, s.account().Snapshot.Status)
	s.entitled(PlanFree, AccessFull)
}

// 14. A trial that ends without a payment method pauses the subscription
// when Stripe's trial settings say so: read-only, and Resume (after adding
// a payment method) starts a paid period; resuming anything else is refused.
func TestScenario14ResumePausedSubscription(t *testing.T) {
	t.Parallel()
	s := newScenario(t, stripefake.Options{})
	cs := s.checkout(PlanPro, CheckoutInput{TrialDays: 14})
	sub, err := s.fake.CompleteCheckoutWith(cs, stripefake.CheckoutOutcome{NoPaymentMethod: true})
	require.NoError(t, err)
	s.sub = sub
	s.deliver()
	s.cus = s.account().CustomerID
	require.Equal(t, gw.ECONFLICT, gw.ErrorCode(s.svc.Resume(s.ctx, s.scope)), "a trial is not paused")
	// The operator sets the trial to pause rather than cancel (Dashboard).
	_, err = s.fake.Client().V1Subscriptions.Update(s.ctx, sub, &stripe.SubscriptionUpdateParams{
		TrialSettings: &stripe.SubscriptionUpdateTrialSettingsParams{EndBehavior: &stripe.SubscriptionUpdateTrialSettingsEndBehaviorParams{
			MissingPaymentMethod: stripe.String("pause")}}})
	require.NoError(t, err)
	_, err = s.fake.TrialEnd(sub)
	require.NoError(t, err)
	s.deliver()
	s.requireTruth()
	require.True(t, s.account().Paused())
	s.entitled(PlanPro, AccessReadOnly)

	require.NoError(t, s.fake.SetPaymentMethod(s.cus, true)) // in the portal
	require.NoError(t, s.svc.Resume(s.ctx, s.scope))
	s.deliver()
	s.requireTruth()
	require.Equal(t, stripe.SubscriptionStatusActive, s.account().Snapshot.Status)
	s.entitled(PlanPro, AccessFull)
	require.Equal(t, stripe.InvoiceStatusPaid, s.fake.Invoice(s.fake.LatestInvoice(sub)).Status)
	require.True(t, slices.Contains(s.auditActions(), audit.ActionBillingResumed))
	require.Equal(t, gw.ECONFLICT, gw.ErrorCode(s.svc.Resume(s.ctx, s.scope)), "active is not paused")
	require.Empty(t, s.mails())
}

// requireMailContaining asserts that an email whose subject contains
// subject was sent and that its text contains every want and no notWant.
func (s *scenario) requireMailContaining(subject string, want, notWant []string) {
	s.t.Helper()
	for _, m := range s.smtp.Messages() {
		if !strings.Contains(m.Subject, subject) {
			continue
		}
		for _, w := range want {
			require.Contains(s.t, m.Text, w)
		}
		for _, w := range notWant {
			require.NotContains(s.t, m.Text, w)
		}
		return
	}
	s.t.Fatalf("no email %q among %v", subject, s.mails())
}

// 15. The payment of an upgrade fails: the email says the change is not
// applied and when Stripe discards it (the pending update's expires_at),
// not that Stripe will retry; at expires_at Stripe voids the invoice, the
// pending plan is gone and the plan is unchanged, with no further email.
func TestScenario15FailedUpgradeEmailSaysWhatHappens(t *testing.T) {
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
	expires := time.Unix(s.fake.Subscription(s.sub).PendingUpdate.ExpiresAt, 0).UTC()
	s.requireMailContaining("Payment failed for the plan change of Acme",
		[]string{"has not been applied", "stays on its current plan", expires.Format("2 January 2006 at 15:04 UTC"),
			"Stripe discards the change and voids the invoice"},
		[]string{"will try again"})
	s.entitled(PlanPro, AccessFull)

	upgradeInvoice := s.fake.LatestInvoice(s.sub)
	require.NoError(t, s.fake.ExpirePendingUpdate(s.sub))
	s.deliver()
	s.requireTruth()
	require.Equal(t, stripe.InvoiceStatusVoid, s.fake.Invoice(upgradeInvoice).Status)
	require.Empty(t, s.account().Snapshot.PendingPriceID)
	e := s.entitled(PlanPro, AccessFull)
	require.Empty(t, e.PendingPlan)
	require.Len(t, s.mails()["owner@acme.test"], 1, "no email for the expiry")
}

// 16. The webhooks of a renewal's first failed attempt never arrive; the
// second attempt's, three days later, do: the grace period still counts
// from the first attempt, which Stripe shows (the invoice was finalised and
// charged at once), not from the first failure the application heard of.
func TestScenario16GraceCountsFromStripesFirstAttempt(t *testing.T) {
	t.Parallel()
	s := newScenario(t, stripefake.Options{})
	s.subscribe(PlanPro)
	s.deliver()
	require.NoError(t, s.fake.SetCardDeclines(s.cus, true))
	inv, err := s.fake.Renew(s.sub)
	require.NoError(t, err)
	firstAttempt := s.fake.Now()
	require.Equal(t, firstAttempt.Unix(), s.fake.Invoice(inv).StatusTransitions.FinalizedAt)
	s.skip() // the renewal's webhooks are lost
	s.fake.Advance(3 * 24 * time.Hour)
	require.NoError(t, s.fake.FailPayment(inv)) // Stripe's retry
	s.deliver()
	s.requireTruth()
	require.Equal(t, firstAttempt, s.account().Snapshot.FirstPaymentFailedAt)
	e := s.entitled(PlanPro, AccessBanner)
	require.Equal(t, firstAttempt.Add(7*24*time.Hour), e.GraceEndsAt)
	s.fake.Advance(4 * 24 * time.Hour) // seven days after the first attempt
	s.entitled(PlanPro, AccessReadOnly)
}

// 10. Stripe Tax cannot finalise the renewal invoice (the customer's
// location is not recognised): nothing is charged and the subscription
// stays active, so without a rule the organisation kept full access for
// ever. The failure is stored once (the invoice's creation, Stripe's time); the grace period
// starts FinalizationDays (3) later and ends GraceDays (7) after that, then
// the organisation is read-only.
func TestScenario10InvoiceThatCannotBeFinalised(t *testing.T) {
	t.Parallel()
	s := newScenario(t, stripefake.Options{})
	s.subscribe(PlanPro)
	s.deliver()
	require.NoError(t, s.fake.SetTaxLocation(s.cus, stripe.CustomerTaxAutomaticTaxUnrecognizedLocation))
	inv, err := s.fake.Renew(s.sub)
	require.NoError(t, err)
	require.Equal(t, stripe.InvoiceStatusDraft, s.fake.Invoice(inv).Status)
	failedAt := time.Unix(s.fake.Invoice(inv).Created, 0).UTC() // drafted an hour before the finalisation failed
	s.deliver()
	s.requireTruth()
	require.Equal(t, failedAt, s.account().Snapshot.FinalizationFailedAt)
	e := s.entitled(PlanPro, AccessFull)
	require.True(t, e.InvoiceNotFinalised)
	require.Contains(t, e.Reason, "cannot be finalised")

	s.fake.Advance(3 * 24 * time.Hour)
	require.NoError(t, s.svc.syncer.Sync(s.ctx, s.org)) // the reconciler: the first failure stays
	require.Equal(t, failedAt, s.account().Snapshot.FinalizationFailedAt)
	e = s.entitled(PlanPro, AccessBanner)
	require.Equal(t, failedAt.Add(10*24*time.Hour), e.GraceEndsAt)
	s.fake.Advance(7 * 24 * time.Hour)
	s.entitled(PlanPro, AccessReadOnly)
	require.Empty(t, s.mails(), "no payment failed")
}

// 11. A checkout paid by SEPA or ACH Direct Debit completes while the
// payment processes: the success page says "payment processing" (not that
// the subscription is set up), the plan is free until Stripe sends
// checkout.session.async_payment_succeeded, then the plan applies; a
// failed asynchronous payment leaves the free plan, sends no dunning email,
// and once the subscription expires a new checkout is allowed.
func TestScenario11AsynchronousPaymentMethods(t *testing.T) {
	t.Parallel()
	for _, succeeded := range []bool{true, false} {
		t.Run(map[bool]string{true: "succeeded", false: "failed"}[succeeded], func(t *testing.T) {
			t.Parallel()
			s := newScenario(t, stripefake.Options{})
			cs := s.checkout(PlanPro, CheckoutInput{})
			sub, err := s.fake.CompleteCheckoutWith(cs, stripefake.CheckoutOutcome{AsyncPayment: true})
			require.NoError(t, err)
			s.sub = sub
			outcome, err := s.svc.FinishCheckoutOutcome(s.ctx, s.scope, cs) // back before any webhook
			require.NoError(t, err)
			require.Equal(t, CheckoutProcessing, outcome)
			s.cus = s.account().CustomerID
			e := s.entitled(PlanFree, AccessFull)
			require.Equal(t, PaymentProcessingReason, e.Reason)
			s.deliver()
			s.requireTruth()
			s.entitled(PlanFree, AccessFull)

			require.NoError(t, s.fake.SettleAsyncPayment(cs, succeeded))
			_, types := s.receive()
			want := map[bool]string{true: "checkout.session.async_payment_succeeded", false: "checkout.session.async_payment_failed"}[succeeded]
			require.Contains(t, types, want)
			// Only the asynchronous payment's own event arrives: it is enough.
			ids := s.eventIDs(want)
			require.Len(t, ids, 1)
			s.process(ids...)
			s.requireProcessed(ids...)
			s.send()
			s.requireTruth()
			if succeeded {
				s.entitled(PlanPro, AccessFull)
				outcome, err = s.svc.FinishCheckoutOutcome(s.ctx, s.scope, cs)
				require.NoError(t, err)
				require.Equal(t, CheckoutSubscribed, outcome)
			} else {
				s.entitled(PlanFree, AccessFull)
				require.NoError(t, s.fake.ExpireIncomplete(sub))
				s.deliver()
				s.requireTruth()
				s.checkout(PlanPro, CheckoutInput{}) // allowed again
			}
			require.Empty(t, s.mails())
		})
	}
}

// eventIDs returns the IDs of the fake's events of type typ, oldest first.
func (e *syncEnv) eventIDs(typ string) []string {
	var ids []string
	for _, ev := range e.fake.Events() {
		if string(ev.Type) == typ {
			ids = append(ids, ev.ID)
		}
	}
	return ids
}
