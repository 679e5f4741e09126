package billing

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/stripe/stripe-go/v85"

	"github.com/groundwork-dev/groundwork/internal/gw"
)

func TestCompute(t *testing.T) {
	t.Parallel()
	c := testCatalog(t)
	now := time.Date(2026, 5, 20, 12, 0, 0, 0, time.UTC)
	periodEnd := now.Add(10 * 24 * time.Hour)
	day := 24 * time.Hour
	active := Snapshot{Status: stripe.SubscriptionStatusActive, PriceID: "price_pro_m",
		CurrentPeriodEnd: periodEnd, LatestInvoiceStatus: stripe.InvoiceStatusPaid}
	with := func(s Snapshot, f func(*Snapshot)) Snapshot { f(&s); return s }
	pastDue := func(failedAgo time.Duration) Snapshot {
		return with(active, func(s *Snapshot) {
			s.Status = stripe.SubscriptionStatusPastDue
			s.LatestInvoiceStatus = stripe.InvoiceStatusOpen
			if failedAgo >= 0 {
				s.FirstPaymentFailedAt = now.Add(-failedAgo)
			}
		})
	}
	openWithdrawn := DisputeState{Status: DisputeOpen, FundsWithdrawn: true}

	for _, tc := range []struct {
		name    string
		s       Snapshot
		p       GracePolicy
		d       DisputeState
		plan    PlanID
		access  Access
		reason  string // a substring of the reason
		grace   time.Time
		pending PlanID
	}{
		{name: "no subscription", plan: PlanFree, access: AccessFull, reason: "no subscription"},
		{name: "active", s: active, plan: PlanPro, access: AccessFull, reason: "active"},
		{name: "active yearly business", s: with(active, func(s *Snapshot) { s.PriceID = "price_biz_y" }),
			plan: PlanBusiness, access: AccessFull},
		{name: "trialing", s: with(active, func(s *Snapshot) { s.Status = stripe.SubscriptionStatusTrialing }),
			plan: PlanPro, access: AccessFull, reason: "trial"},
		{name: "unknown price grants nothing", s: with(active, func(s *Snapshot) { s.PriceID = "price_other" }),
			plan: PlanFree, access: AccessFull, reason: "unknown Stripe price"},
		{name: "cancel at period end, before it", s: with(active, func(s *Snapshot) { s.CancelAtPeriodEnd = true }),
			plan: PlanPro, access: AccessFull, reason: "ends at period end"},
		{name: "cancel at period end, after it (cancellation event late)",
			s:    with(active, func(s *Snapshot) { s.CancelAtPeriodEnd = true; s.CurrentPeriodEnd = now.Add(-time.Minute) }),
			plan: PlanFree, access: AccessFull, reason: "ended at period end"},
		{name: "active past period end without cancel keeps the plan (renewal pending)",
			s:    with(active, func(s *Snapshot) { s.CurrentPeriodEnd = now.Add(-day) }),
			plan: PlanPro, access: AccessFull},

		// Dunning: the grace period counts from the stored first failure.
		{name: "past_due, just failed", s: pastDue(time.Minute), plan: PlanPro, access: AccessBanner,
			reason: "grace period", grace: now.Add(-time.Minute).Add(7 * day)},
		{name: "past_due, 6 days into grace", s: pastDue(6 * day), plan: PlanPro, access: AccessBanner,
			grace: now.Add(day)},
		{name: "past_due, grace just over", s: pastDue(7 * day), plan: PlanPro, access: AccessReadOnly,
			reason: "grace period is over", grace: now},
		{name: "past_due, long past grace", s: pastDue(30 * day), plan: PlanPro, access: AccessReadOnly,
			grace: now.Add(-23 * day)},
		{name: "past_due, custom grace of 3 days, 4 days in", s: pastDue(4 * day), p: GracePolicy{GraceDays: 3},
			plan: PlanPro, access: AccessReadOnly, grace: now.Add(-day)},
		{name: "past_due, custom grace of 14 days, 10 days in", s: pastDue(10 * day), p: GracePolicy{GraceDays: 14},
			plan: PlanPro, access: AccessBanner, grace: now.Add(4 * day)},
		{name: "past_due, failure not recorded yet", s: pastDue(-1), plan: PlanPro, access: AccessBanner},
		{name: "payment recovered: active again", s: with(active, func(s *Snapshot) { s.FirstPaymentFailedAt = now.Add(-10 * day) }),
			plan: PlanPro, access: AccessFull},
		{name: "unpaid: retries exhausted", s: with(pastDue(20*day), func(s *Snapshot) { s.Status = stripe.SubscriptionStatusUnpaid }),
			plan: PlanPro, access: AccessReadOnly, reason: "retries are exhausted"},
		{name: "paused: trial ended without payment method", s: with(active, func(s *Snapshot) { s.Status = stripe.SubscriptionStatusPaused }),
			plan: PlanPro, access: AccessReadOnly, reason: "trial ended without a payment method"},
		{name: "canceled", s: with(pastDue(20*day), func(s *Snapshot) { s.Status = stripe.SubscriptionStatusCanceled }),
			plan: PlanFree, access: AccessFull, reason: "canceled"},

		// First payment.
		{name: "incomplete: no upgrade until paid",
			s: with(active, func(s *Snapshot) {
				s.Status = stripe.SubscriptionStatusIncomplete
				s.LatestInvoiceStatus = stripe.InvoiceStatusOpen
			}),
			plan: PlanFree, access: AccessFull, reason: "payment processing"},
		{name: "incomplete_expired", s: with(active, func(s *Snapshot) { s.Status = stripe.SubscriptionStatusIncompleteExpired }),
			plan: PlanFree, access: AccessFull, reason: "never completed"},
		{name: "unknown status", s: with(active, func(s *Snapshot) { s.Status = "hibernating" }),
			plan: PlanFree, access: AccessFull, reason: "unknown subscription status"},

		// Upgrades with payment_behavior=pending_if_incomplete.
		{name: "upgrade pending payment keeps the old plan",
			s: with(active, func(s *Snapshot) {
				s.PendingPriceID = "price_biz_m"
				s.LatestInvoiceStatus = stripe.InvoiceStatusOpen
			}),
			plan: PlanPro, access: AccessFull, reason: "change to Business awaits payment", pending: PlanBusiness},
		{name: "upgrade paid: Stripe shows the new price",
			s:    with(active, func(s *Snapshot) { s.PriceID = "price_biz_m" }),
			plan: PlanBusiness, access: AccessFull},

		// Disputes.
		{name: "dispute inquiry only flags", s: active, d: DisputeState{Status: DisputeInquiry},
			plan: PlanPro, access: AccessFull},
		{name: "dispute open, funds not withdrawn", s: active, d: DisputeState{Status: DisputeOpen},
			plan: PlanPro, access: AccessFull},
		{name: "dispute open, funds withdrawn", s: active, d: openWithdrawn,
			plan: PlanPro, access: AccessReadOnly, reason: "disputed"},
		{name: "dispute open, funds withdrawn, policy allows", s: active,
			d:    DisputeState{Status: DisputeOpen, FundsWithdrawn: true, AllowWhileOpen: true},
			plan: PlanPro, access: AccessFull},
		{name: "dispute open during grace: read-only wins", s: pastDue(day), d: openWithdrawn,
			plan: PlanPro, access: AccessReadOnly, grace: now.Add(6 * day)},
		{name: "dispute won clears", s: active, d: DisputeState{Status: DisputeWon, FundsWithdrawn: true},
			plan: PlanPro, access: AccessFull},
		{name: "dispute lost, default policy restricts", s: active, d: DisputeState{Status: DisputeLost},
			plan: PlanPro, access: AccessReadOnly, reason: "dispute was lost"},
		{name: "dispute lost, keep policy", s: active, d: DisputeState{Status: DisputeLost, OnLost: LostDisputeKeep},
			plan: PlanPro, access: AccessFull},
		{name: "dispute lost, free policy", s: active, d: DisputeState{Status: DisputeLost, OnLost: LostDisputeFree},
			plan: PlanFree, access: AccessFull, reason: "free plan"},
		{name: "dispute on a canceled subscription still restricts",
			s:    Snapshot{Status: stripe.SubscriptionStatusCanceled, PriceID: "price_pro_m"},
			d:    openWithdrawn,
			plan: PlanFree, access: AccessReadOnly},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := c.Compute(tc.s, tc.p, tc.d, now)
			require.Equal(t, tc.plan, e.Plan, "plan (%s)", e.Reason)
			require.Equal(t, tc.access, e.Access, "access (%s)", e.Reason)
			require.NotEmpty(t, e.Reason)
			require.Contains(t, e.Reason, tc.reason)
			require.True(t, tc.grace.Equal(e.GraceEndsAt), "grace ends %v, want %v", e.GraceEndsAt, tc.grace)
			require.Equal(t, tc.pending, e.PendingPlan)
			plan, ok := c.Plan(e.Plan)
			require.True(t, ok)
			require.Equal(t, plan.Limits, e.Limits, "the limits are the effective plan's")

			// Pure: the same inputs give the same answer.
			require.Equal(t, e, c.Compute(tc.s, tc.p, tc.d, now))
		})
	}
}

// TestComputeGraceIgnoresProcessingTime checks that the grace period is
// counted from the stored failure: processing the same snapshot later
// (a redelivered or late event) cannot extend it.
func TestComputeGraceIgnoresProcessingTime(t *testing.T) {
	t.Parallel()
	c := testCatalog(t)
	failed := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
	s := Snapshot{Status: stripe.SubscriptionStatusPastDue, PriceID: "price_pro_m", FirstPaymentFailedAt: failed}
	for _, tc := range []struct {
		at     time.Time
		access Access
	}{
		{failed, AccessBanner},
		{failed.Add(7*24*time.Hour - time.Second), AccessBanner},
		{failed.Add(7 * 24 * time.Hour), AccessReadOnly},
		{failed.Add(60 * 24 * time.Hour), AccessReadOnly},
	} {
		e := c.Compute(s, GracePolicy{}, DisputeState{}, tc.at)
		require.Equal(t, tc.access, e.Access, "at %v", tc.at)
		require.Equal(t, failed.Add(7*24*time.Hour), e.GraceEndsAt)
	}
}

func TestEntitlementChecks(t *testing.T) {
	t.Parallel()
	c := testCatalog(t)
	free := c.Compute(Snapshot{}, GracePolicy{}, DisputeState{}, time.Now())
	free.OrgID = "0190a0b0-0000-7000-8000-000000000001"
	readOnly := c.Compute(Snapshot{}, GracePolicy{}, DisputeState{Status: DisputeLost}, time.Now())
	readOnly.OrgID = free.OrgID

	for _, tc := range []struct {
		name string
		err  error
		msg  string // "" when allowed
	}{
		{"write on free", free.CheckWrite(), ""},
		{"write when read-only", readOnly.CheckWrite(), "read-only"},
		{"seat within limit", free.CheckSeats(free.Limits.Seats - 1), ""},
		{"seat over limit", free.CheckSeats(free.Limits.Seats), "seats"},
		{"seat when read-only", readOnly.CheckSeats(0), "read-only"},
		{"contacts within limit", free.CheckContacts(free.Limits.Contacts-10, 10), ""},
		{"contacts over limit", free.CheckContacts(free.Limits.Contacts-10, 11), "contacts"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.msg == "" {
				require.NoError(t, tc.err)
				return
			}
			require.Equal(t, gw.EFORBIDDEN, gw.ErrorCode(tc.err))
			msg := gw.ErrorMessage(tc.err)
			require.Contains(t, msg, tc.msg)
			require.True(t, strings.Contains(msg, BillingPage(free.OrgID)), "points to the billing page: %s", msg)
		})
	}
}
