package billing

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/groundwork-dev/groundwork/internal/stripefake"
)

// TestSwitchMonthlyToYearlyAndBack: monthly → yearly goes through the
// change preview and applies now: Stripe credits the unused month and
// charges a year from today, exactly as previewed, and the period restarts;
// yearly → monthly is scheduled for the end of the year.
func TestSwitchMonthlyToYearlyAndBack(t *testing.T) {
	t.Parallel()
	s := newScenario(t, stripefake.Options{})
	s.subscribe(PlanPro)
	s.deliver()
	s.entitled(PlanPro, AccessFull)
	o, err := s.svc.Overview(s.ctx, s.scope)
	require.NoError(t, err)
	require.Equal(t, IntervalMonth, o.Interval)

	s.fake.Advance(10 * 24 * time.Hour)
	p, err := s.svc.PreviewChangeTo(s.ctx, s.scope, PlanPro, IntervalYear)
	require.NoError(t, err)
	require.True(t, p.Upgrade, "monthly to yearly applies now")
	require.Equal(t, IntervalMonth, p.FromInterval)
	require.Equal(t, IntervalYear, p.Interval)
	require.Equal(t, PlanPro, p.To.ID)
	require.NotNil(t, p.Invoice)
	// The unused 21 of 31 days of 30.00 credited, a year at 300.00 charged.
	require.Equal(t, int64(30000-prorateRound(3000, 21, 31)), p.Invoice.Total)

	require.NoError(t, s.svc.ChangePlanTo(s.ctx, s.scope, PlanPro, IntervalYear, p.ProrationDate))
	s.deliver()
	s.entitled(PlanPro, AccessFull)
	a := s.account()
	require.Equal(t, IntervalYear, a.Snapshot.Interval)
	require.Equal(t, "price_pro_yearly", a.Snapshot.PriceID)
	require.Equal(t, s.fake.Now().AddDate(1, 0, 0), a.Snapshot.CurrentPeriodEnd, "a new yearly period from today")
	inv := s.fake.Invoice(s.fake.LatestInvoice(s.sub))
	require.Equal(t, p.Invoice.Total, inv.Total, "charged what was previewed")
	require.Equal(t, "paid", string(inv.Status))
	require.Contains(t, s.auditActions(), "billing.plan_changed")

	// Already yearly: nothing to switch.
	_, err = s.svc.PreviewChangeTo(s.ctx, s.scope, PlanPro, IntervalYear)
	require.ErrorContains(t, err, "already on the Pro plan, billed yearly")

	// Back to monthly: at the end of the year paid for, without credit.
	p, err = s.svc.PreviewChangeTo(s.ctx, s.scope, PlanPro, IntervalMonth)
	require.NoError(t, err)
	require.False(t, p.Upgrade)
	require.Equal(t, a.Snapshot.CurrentPeriodEnd, p.EffectiveAt)
	require.NoError(t, s.svc.ChangePlanTo(s.ctx, s.scope, PlanPro, IntervalMonth, time.Time{}))
	s.deliver()
	a = s.account()
	require.Equal(t, "price_pro_monthly", a.ScheduledPriceID)
	require.Equal(t, PlanPro, a.ScheduledPlan)
	require.Equal(t, IntervalYear, a.Snapshot.Interval, "yearly until the year ends")
	_, err = s.fake.Renew(s.sub)
	require.NoError(t, err)
	s.deliver()
	a = s.account()
	require.Equal(t, IntervalMonth, a.Snapshot.Interval)
	require.Equal(t, "price_pro_monthly", a.Snapshot.PriceID)
	s.entitled(PlanPro, AccessFull)
}

// prorateRound is round(amount*num/den), half away from zero, as Stripe
// (and the fake) prorate.
func prorateRound(amount, num, den int64) int64 { return (amount*num*2 + den) / (2 * den) }
