package billing

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/stripe/stripe-go/v85"
)

// Items 10 and 20: a cancellation date (cancel_at) ends the plan like
// cancel_at_period_end; an invoice that cannot be finalised starts the
// grace period FinalizationDays after its failure.
func TestComputeCancelAtAndFinalisation(t *testing.T) {
	t.Parallel()
	c := testCatalog(t)
	now := time.Date(2026, 5, 20, 12, 0, 0, 0, time.UTC)
	day := 24 * time.Hour
	active := Snapshot{Status: stripe.SubscriptionStatusActive, PriceID: "price_pro_m",
		CurrentPeriodEnd: now.Add(10 * day), LatestInvoiceStatus: stripe.InvoiceStatusPaid}
	with := func(f func(*Snapshot)) Snapshot { s := active; f(&s); return s }
	notFinalised := func(ago time.Duration) Snapshot {
		return with(func(s *Snapshot) {
			s.FinalizationFailedAt, s.LatestInvoiceStatus = now.Add(-ago), stripe.InvoiceStatusDraft
		})
	}
	for _, tc := range []struct {
		name         string
		s            Snapshot
		p            GracePolicy
		plan         PlanID
		access       Access
		reason       string
		grace        time.Time
		subscribed   bool
		notFinalised bool
	}{
		{name: "cancel_at ahead", s: with(func(s *Snapshot) { s.CancelAt = now.Add(3 * day) }),
			plan: PlanPro, access: AccessFull, reason: "ends on 23 May 2026"},
		{name: "cancel_at passed, the cancellation not synced yet", s: with(func(s *Snapshot) { s.CancelAt = now }),
			plan: PlanFree, access: AccessFull, reason: "cancellation date"},
		{name: "cancel_at before the period end wins over it", s: with(func(s *Snapshot) {
			s.CancelAtPeriodEnd, s.CancelAt = false, now.Add(-time.Second)
		}), plan: PlanFree, access: AccessFull},
		{name: "cancel_at_period_end (cancel_at is the period end)", s: with(func(s *Snapshot) {
			s.CancelAtPeriodEnd, s.CancelAt = true, s.CurrentPeriodEnd
		}), plan: PlanPro, access: AccessFull, reason: "ends at period end"},
		{name: "not set to end", s: active, plan: PlanPro, access: AccessFull, subscribed: true},
		{name: "not finalised for a day: full access", s: notFinalised(day), plan: PlanPro, access: AccessFull,
			reason: "cannot be finalised", subscribed: true, notFinalised: true},
		{name: "not finalised for 3 days: grace", s: notFinalised(3 * day), plan: PlanPro, access: AccessBanner,
			grace: now.Add(7 * day), subscribed: true, notFinalised: true},
		{name: "not finalised for 10 days: read-only", s: notFinalised(10 * day), plan: PlanPro, access: AccessReadOnly,
			reason: "grace period is over", grace: now, subscribed: true, notFinalised: true},
		{name: "configured: 1 day, then 2 days of grace", s: notFinalised(2 * day), p: GracePolicy{GraceDays: 2, FinalizationDays: 1},
			plan: PlanPro, access: AccessBanner, grace: now.Add(day), subscribed: true, notFinalised: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := c.Compute(tc.s, tc.p, DisputeState{}, now)
			require.Equal(t, tc.plan, e.Plan, e.Reason)
			require.Equal(t, tc.access, e.Access, e.Reason)
			require.Contains(t, e.Reason, tc.reason)
			require.Equal(t, tc.grace, e.GraceEndsAt)
			require.Equal(t, tc.subscribed, e.Subscribed)
			require.Equal(t, tc.notFinalised, e.InvoiceNotFinalised)
		})
	}
}

func TestFinalizationFailedAt(t *testing.T) {
	t.Parallel()
	created := time.Date(2026, 5, 20, 12, 0, 0, 0, time.UTC)
	draft := &stripe.Invoice{ID: "in_1", Status: stripe.InvoiceStatusDraft, Created: created.Unix(),
		LastFinalizationError: &stripe.Error{Code: stripe.ErrorCodeCustomerTaxLocationInvalid}}
	stored := created.Add(-time.Hour)
	prev := Account{LatestInvoiceID: "in_1", Snapshot: Snapshot{FinalizationFailedAt: stored}}
	require.Equal(t, created, finalizationFailedAt(Account{}, draft), "first seen: the invoice's creation")
	require.Equal(t, stored, finalizationFailedAt(prev, draft), "kept for the same invoice")
	other := *draft
	other.ID = "in_2"
	require.Equal(t, created, finalizationFailedAt(prev, &other), "another invoice starts again")
	open := *draft
	open.Status, open.LastFinalizationError = stripe.InvoiceStatusOpen, nil
	require.True(t, finalizationFailedAt(prev, &open).IsZero(), "finalised")
	plain := *draft
	plain.LastFinalizationError = nil
	require.True(t, finalizationFailedAt(Account{}, &plain).IsZero(), "a draft not attempted yet")
	require.True(t, finalizationFailedAt(prev, nil).IsZero())
}
