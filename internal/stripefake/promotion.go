package stripefake

import (
	"fmt"

	"github.com/stripe/stripe-go/v85"
)

// applyPromotionCode applies promotion code code, entered in the Checkout
// Session of state st, to the subscription's first invoice inv: the
// discount comes off the subtotal before tax, and the subscription and the
// invoice name it (https://docs.stripe.com/billing/subscriptions/coupons).
func (s *Server) applyPromotionCode(sub *stripe.Subscription, inv *stripe.Invoice, st *sessionState, code string) error {
	if !st.allowPromotionCodes {
		return fmt.Errorf("stripefake: the checkout session was created without allow_promotion_codes: Checkout shows no promotion code field")
	}
	var pc *PromotionCode
	for i := range s.opts.PromotionCodes {
		if s.opts.PromotionCodes[i].Code == code {
			pc = &s.opts.PromotionCodes[i]
		}
	}
	if pc == nil {
		return fmt.Errorf("stripefake: no promotion code %q", code)
	}
	d := &stripe.Discount{ID: s.newID("di"), Object: "discount", Start: s.unix(), Subscription: sub.ID,
		PromotionCode: &stripe.PromotionCode{ID: s.newID("promo"), Code: pc.Code},
		Source: &stripe.DiscountSource{Type: stripe.DiscountSourceTypeCoupon,
			Coupon: &stripe.Coupon{ID: "coupon_" + pc.Code, PercentOff: float64(pc.PercentOff), Duration: stripe.CouponDurationOnce}}}
	amount := prorate(inv.Subtotal, pc.PercentOff, 100)
	inv.Discounts = []*stripe.Discount{d}
	inv.TotalDiscountAmounts = []*stripe.InvoiceTotalDiscountAmount{{Amount: amount, Discount: d}}
	taxable := inv.Subtotal - amount
	inv.TotalTaxes = []*stripe.InvoiceTotalTax{}
	tax := s.computeTax(inv, subAutomaticTax(sub), inv.Customer.ID, taxable)
	inv.TotalExcludingTax = taxable
	inv.Total = taxable + tax
	inv.AmountDue = max(inv.Total, 0)
	inv.AmountRemaining = inv.AmountDue
	sub.Discounts = []*stripe.Discount{d}
	return nil
}
