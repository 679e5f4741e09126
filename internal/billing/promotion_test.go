package billing

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/groundwork-dev/groundwork/internal/stripefake"
)

// TestCheckoutOffersPromotionCodes: Checkout is created with
// allow_promotion_codes, so a code created in Stripe takes its discount off
// the first invoice; with NoPromotionCodes the field is not offered.
func TestCheckoutOffersPromotionCodes(t *testing.T) {
	t.Parallel()
	opts := stripefake.Options{PromotionCodes: []stripefake.PromotionCode{{Code: "LAUNCH20", PercentOff: 20}}}
	s := newScenario(t, opts)
	cs := s.checkout(PlanPro, CheckoutInput{})
	require.True(t, s.fake.CheckoutSessionParams(cs).AllowPromotionCodes)
	sub, err := s.fake.CompleteCheckoutWith(cs, stripefake.CheckoutOutcome{PromotionCode: "LAUNCH20"})
	require.NoError(t, err)
	s.sub = sub
	s.deliver()
	s.entitled(PlanPro, AccessFull)
	inv := s.fake.Invoice(s.fake.LatestInvoice(sub))
	require.Equal(t, int64(3000), inv.Subtotal)
	require.Equal(t, int64(2400), inv.Total, "20% off")
	require.Equal(t, "paid", string(inv.Status))

	off := newScenario(t, opts)
	svc, err := NewService(ServiceConfig{Syncer: off.syncer, BaseURL: "https://app.test", NoPromotionCodes: true})
	require.NoError(t, err)
	off.svc = svc
	cs = off.checkout(PlanPro, CheckoutInput{})
	require.False(t, off.fake.CheckoutSessionParams(cs).AllowPromotionCodes)
	_, err = off.fake.CompleteCheckoutWith(cs, stripefake.CheckoutOutcome{PromotionCode: "LAUNCH20"})
	require.ErrorContains(t, err, "without allow_promotion_codes")
}
