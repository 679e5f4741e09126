package stripefake

import (
	"errors"
	"fmt"

	"github.com/stripe/stripe-go/v85"
)

// ---- billing interval changes ----
//
// Moving a subscription to prices of another billing interval (monthly to
// yearly, or back) resets the billing cycle anchor to the time of the
// change and invoices at once, whatever proration_behavior says about
// invoicing: the unused time of the old prices is credited (unless
// proration_behavior=none) and the new prices are charged for a whole new
// period (https://docs.stripe.com/billing/subscriptions/billing-cycle#changing-the-billing-cycle,
// https://docs.stripe.com/billing/subscriptions/change-price#changing-billing-periods).
// Every item of a subscription bills on one interval, so all of them must
// move together.

// intervalChange reports whether changes move sub to another billing
// interval; an error when its items would end on different intervals.
func (s *Server) intervalChange(sub *stripe.Subscription, changes []itemChange) (bool, error) {
	after := map[string]bool{}
	changed := false
	for _, it := range sub.Items.Data {
		iv := string(it.Price.Recurring.Interval)
		for _, ch := range changes {
			if ch.itemID == it.ID {
				if p := s.prices[ch.price].Interval; p != iv {
					iv, changed = p, true
				}
			}
		}
		after[iv] = true
	}
	if len(after) > 1 {
		return false, errors.New("All prices on a subscription must have the same `recurring.interval` and `recurring.interval_count`.")
	}
	return changed, nil
}

// intervalChangeLines are the invoice lines of moving sub to changes'
// interval with proration date d: credits for the unused time of the
// changed items (unless behavior is none), then every item at its new price
// for a whole new period from now.
func (s *Server) intervalChangeLines(sub *stripe.Subscription, changes []itemChange, d int64, behavior string) []*stripe.InvoiceLineItem {
	start, end := period(sub)
	now := s.unix()
	var lines []*stripe.InvoiceLineItem
	for _, it := range sub.Items.Data {
		oldP, p, q := s.prices[it.Price.ID], s.prices[it.Price.ID], it.Quantity
		for _, ch := range changes {
			if ch.itemID == it.ID {
				p, q = s.prices[ch.price], ch.qty
			}
		}
		if behavior != "none" {
			credit := -prorate(oldP.UnitAmount*it.Quantity, end-d, end-start)
			lines = append(lines, s.line(sub.ID, it.ID, oldP, it.Quantity, credit, d, end, true, "Unused time on "+oldP.Product))
		}
		lines = append(lines, s.line(sub.ID, it.ID, p, q, p.UnitAmount*q, now, s.addInterval(now, p), false,
			fmt.Sprintf("%d × %s", q, p.Product)))
	}
	return lines
}

// restartPeriod starts a new period of every item of sub now, on its
// price's interval, and moves the billing cycle anchor there.
func (s *Server) restartPeriod(sub *stripe.Subscription) {
	now := s.unix()
	sub.BillingCycleAnchor = now
	for _, it := range sub.Items.Data {
		it.CurrentPeriodStart, it.CurrentPeriodEnd = now, s.addInterval(now, s.prices[it.Price.ID])
	}
}
