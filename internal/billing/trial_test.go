package billing

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/groundwork-dev/groundwork/internal/gw"
	"github.com/groundwork-dev/groundwork/internal/stripefake"
)

// TestTrialOnlyForAFirstSubscription: the billing page offers the
// catalogue's trial (Pro: 14 days in plans.json) to an organisation that
// never had a subscription; Checkout gets
// subscription_data[trial_period_days]; once the organisation has had a
// subscription (here the trial ended without a card), a trial is refused
// while a paid checkout is not.
func TestTrialOnlyForAFirstSubscription(t *testing.T) {
	t.Parallel()
	s := newScenario(t, stripefake.Options{})
	pro, _ := s.svc.Catalog().Plan(PlanPro)
	require.Equal(t, int64(14), pro.TrialDays)
	o, err := s.svc.Overview(s.ctx, s.scope)
	require.NoError(t, err)
	require.True(t, o.TrialEligible)

	_, err = s.svc.StartCheckout(s.ctx, s.scope, CheckoutInput{Plan: PlanBusiness, Trial: true})
	require.Equal(t, gw.EINVALID, gw.ErrorCode(err))
	require.ErrorContains(t, err, "The Business plan has no trial.")

	cs := s.checkout(PlanPro, CheckoutInput{Trial: true})
	require.Equal(t, int64(14), s.fake.CheckoutSessionParams(cs).TrialPeriodDays)
	sub, err := s.fake.CompleteCheckoutWith(cs, stripefake.CheckoutOutcome{NoPaymentMethod: true})
	require.NoError(t, err)
	s.sub = sub
	s.deliver()
	s.entitled(PlanPro, AccessFull)
	o, err = s.svc.Overview(s.ctx, s.scope)
	require.NoError(t, err)
	require.False(t, o.TrialEligible)

	_, err = s.fake.TrialEnd(sub)
	require.NoError(t, err)
	s.deliver()
	s.entitled(PlanFree, AccessFull)
	o, err = s.svc.Overview(s.ctx, s.scope)
	require.NoError(t, err)
	require.False(t, o.Live)
	require.False(t, o.TrialEligible, "the trial was used")

	_, err = s.svc.StartCheckout(s.ctx, s.scope, CheckoutInput{Plan: PlanPro, Interval: IntervalMonth, Trial: true})
	require.True(t, errors.Is(err, ErrTrialUsed), "%v", err)
	require.Equal(t, gw.ECONFLICT, gw.ErrorCode(err))
	cs = s.checkout(PlanPro, CheckoutInput{})
	require.Zero(t, s.fake.CheckoutSessionParams(cs).TrialPeriodDays)
}
