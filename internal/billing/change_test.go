package billing

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/stripe/stripe-go/v85"

	"github.com/groundwork-dev/groundwork/internal/audit"
	"github.com/groundwork-dev/groundwork/internal/gw"
	"github.com/groundwork-dev/groundwork/internal/gwtest"
	"github.com/groundwork-dev/groundwork/internal/stripefake"
)

// 13b. A second downgrade in the same period, after the first was dropped
// by a cancel and the subscription reactivated, is scheduled like the
// first: Stripe replays an idempotency key's first response for 24 hours,
// so a key made of the same intent and parameters would be answered with
// the released schedule, and the customer billed Business at renewal.
func TestScenario13DowngradeAgainAfterCancelAndReactivate(t *testing.T) {
	t.Parallel()
	s := newScenario(t, stripefake.Options{})
	s.subscribe(PlanBusiness)
	s.deliver()

	require.NoError(t, s.svc.ChangePlan(s.ctx, s.scope, PlanPro, time.Time{}))
	first := s.fake.Subscription(s.sub).Schedule.ID
	require.NoError(t, s.svc.Cancel(s.ctx, s.scope))
	require.Equal(t, stripe.SubscriptionScheduleStatusReleased, s.fake.SubscriptionSchedule(first).Status)
	s.fake.Advance(time.Hour)
	require.NoError(t, s.svc.Reactivate(s.ctx, s.scope))
	s.deliver()
	require.Empty(t, s.account().ScheduledPriceID)

	s.fake.Advance(time.Hour)
	require.NoError(t, s.svc.ChangePlan(s.ctx, s.scope, PlanPro, time.Time{}))
	sub := s.fake.Subscription(s.sub)
	require.NotNil(t, sub.Schedule, "a schedule is attached again")
	require.NotEqual(t, first, sub.Schedule.ID)
	require.Equal(t, stripe.SubscriptionScheduleStatusActive, s.fake.SubscriptionSchedule(sub.Schedule.ID).Status)
	a := s.account()
	require.Equal(t, "price_pro_monthly", a.ScheduledPriceID)
	require.Equal(t, time.Unix(sub.Items.Data[0].CurrentPeriodEnd, 0).UTC(), a.ScheduledChangeAt)
	s.deliver()
	s.requireTruth()

	_, err := s.fake.Renew(s.sub)
	require.NoError(t, err)
	s.deliver()
	s.requireTruth()
	s.entitled(PlanPro, AccessFull)
	require.Equal(t, "price_pro_monthly", s.fake.Subscription(s.sub).Items.Data[0].Price.ID, "billed Pro at renewal")
}

// Keeping the current plan releases the scheduled downgrade: the
// subscription renews on the plan it has, and the change is audited.
func TestScenario13KeepCurrentPlan(t *testing.T) {
	t.Parallel()
	s := newScenario(t, stripefake.Options{})
	s.subscribe(PlanBusiness)
	s.deliver()
	gwtest.RequireCode(t, gw.ECONFLICT, s.svc.KeepPlan(s.ctx, s.scope), "nothing scheduled yet")

	require.NoError(t, s.svc.ChangePlan(s.ctx, s.scope, PlanPro, time.Time{}))
	sched := s.fake.Subscription(s.sub).Schedule.ID
	member := s.scope
	member.Role = gw.RoleMember
	gwtest.RequireCode(t, gw.EFORBIDDEN, s.svc.KeepPlan(s.ctx, member), "members may not")

	require.NoError(t, s.svc.KeepPlan(s.ctx, s.scope))
	require.Equal(t, stripe.SubscriptionScheduleStatusReleased, s.fake.SubscriptionSchedule(sched).Status)
	require.Nil(t, s.fake.Subscription(s.sub).Schedule)
	require.Empty(t, s.account().ScheduledPriceID, "the page shows no scheduled change at once")
	ov, err := s.svc.Overview(s.ctx, s.scope)
	require.NoError(t, err)
	require.Nil(t, ov.ScheduledPlan)
	require.Equal(t, []string{audit.ActionBillingPlanChanged, audit.ActionBillingPlanChanged}, s.auditActions())
	gwtest.RequireCode(t, gw.ECONFLICT, s.svc.KeepPlan(s.ctx, s.scope), "released already")

	s.deliver()
	s.requireTruth()
	_, err = s.fake.Renew(s.sub)
	require.NoError(t, err)
	s.deliver()
	s.requireTruth()
	s.entitled(PlanBusiness, AccessFull)
}
