package stripefake

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/stripe/stripe-go/v85"
)

// ---- money helpers ----

// prorate returns round(amount * num / den), rounding half away from zero.
func prorate(amount, num, den int64) int64 {
	if den == 0 {
		return 0
	}
	p := amount * num
	if p < 0 {
		return -((-p*2 + den) / (2 * den))
	}
	return (p*2 + den) / (2 * den)
}

func (s *Server) addInterval(t int64, price Price) int64 {
	tm := time.Unix(t, 0).UTC()
	if price.Interval == "year" {
		return tm.AddDate(1, 0, 0).Unix()
	}
	return tm.AddDate(0, 1, 0).Unix()
}

func (s *Server) stripePrice(p Price) *stripe.Price {
	md := map[string]string{}
	for k, v := range p.Metadata {
		md[k] = v
	}
	return &stripe.Price{ID: p.ID, Object: "price", Active: !p.Inactive, Currency: stripe.Currency(p.Currency),
		LookupKey: p.LookupKey, Metadata: md, UnitAmountDecimal: float64(p.UnitAmount),
		BillingScheme: stripe.PriceBillingSchemePerUnit, Livemode: false,
		UnitAmount: p.UnitAmount, Type: stripe.PriceTypeRecurring, Product: &stripe.Product{ID: p.Product},
		Recurring: &stripe.PriceRecurring{Interval: stripe.PriceRecurringInterval(p.Interval), IntervalCount: 1,
			UsageType: stripe.PriceRecurringUsageTypeLicensed}}
}

func (s *Server) line(subID, itemID string, p Price, qty, amount int64, start, end int64, proration bool, desc string) *stripe.InvoiceLineItem {
	return &stripe.InvoiceLineItem{ID: s.newID("il"), Object: "line_item", Amount: amount, Subtotal: amount,
		Currency: stripe.Currency(p.Currency), Description: desc, Quantity: qty,
		Period: &stripe.Period{Start: start, End: end},
		Parent: &stripe.InvoiceLineItemParent{Type: stripe.InvoiceLineItemParentTypeSubscriptionItemDetails,
			SubscriptionItemDetails: &stripe.InvoiceLineItemParentSubscriptionItemDetails{
				Subscription: subID, SubscriptionItem: itemID, Proration: proration}},
		Pricing: &stripe.InvoiceLineItemPricing{Type: stripe.InvoiceLineItemPricingTypePriceDetails,
			UnitAmountDecimal: float64(p.UnitAmount),
			PriceDetails:      &stripe.InvoiceLineItemPricingPriceDetails{Price: s.stripePrice(p), Product: p.Product}},
	}
}

// newInvoice builds an invoice (not stored) with totals computed from lines.
func (s *Server) newInvoice(sub *stripe.Subscription, cus string, reason stripe.InvoiceBillingReason, lines []*stripe.InvoiceLineItem, currency string) *stripe.Invoice {
	var subtotal int64
	for _, l := range lines {
		subtotal += l.Amount
	}
	inv := &stripe.Invoice{Object: "invoice", Created: s.unix(), Currency: stripe.Currency(currency),
		Customer: &stripe.Customer{ID: cus}, BillingReason: reason, CollectionMethod: stripe.InvoiceCollectionMethodChargeAutomatically,
		Status: stripe.InvoiceStatusDraft, Subtotal: subtotal, SubtotalExcludingTax: subtotal, TotalExcludingTax: subtotal,
		Lines:             &stripe.InvoiceLineItemList{ListMeta: stripe.ListMeta{URL: "/v1/invoices/lines"}, Data: lines},
		StatusTransitions: &stripe.InvoiceStatusTransitions{}, Metadata: map[string]string{},
		TotalTaxes: []*stripe.InvoiceTotalTax{}, PeriodStart: s.unix(), PeriodEnd: s.unix(),
	}
	tax := s.computeTax(inv, subAutomaticTax(sub), cus, subtotal)
	inv.Total = subtotal + tax
	inv.AmountDue = max(inv.Total, 0)
	inv.AmountRemaining = inv.AmountDue
	if sub != nil {
		inv.Parent = &stripe.InvoiceParent{Type: stripe.InvoiceParentTypeSubscriptionDetails,
			SubscriptionDetails: &stripe.InvoiceParentSubscriptionDetails{Subscription: &stripe.Subscription{ID: sub.ID}, Metadata: sub.Metadata}}
	}
	return inv
}

// finalize stores a draft invoice and opens it (paying it at once when nothing is due).
func (s *Server) finalize(inv *stripe.Invoice) {
	s.draft(inv)
	s.finalizeDraft(inv)
}

// draft stores inv as a draft invoice (invoice.created).
func (s *Server) draft(inv *stripe.Invoice) {
	inv.ID = s.newID("in")
	inv.Number = fmt.Sprintf("FAKE-%04d", s.seq["in"])
	for _, l := range inv.Lines.Data {
		l.Invoice = inv.ID
	}
	s.invoices[inv.ID] = inv
	s.emit("invoice.created", "invoice", inv, nil)
}

// finalizeDraft opens the stored draft inv (paying it at once when nothing
// is due), or leaves it a draft when Stripe Tax cannot finalise it.
func (s *Server) finalizeDraft(inv *stripe.Invoice) {
	if finalizationBlocked(inv) {
		// Stripe Tax cannot compute tax: the invoice stays a draft.
		inv.LastFinalizationError = &stripe.Error{Type: stripe.ErrorTypeInvalidRequest,
			Code: stripe.ErrorCodeCustomerTaxLocationInvalid, Msg: taxLocationMsg}
		s.emit("invoice.finalization_failed", "invoice", inv, nil)
		return
	}
	inv.Status = stripe.InvoiceStatusOpen
	inv.StatusTransitions.FinalizedAt = s.unix()
	inv.EffectiveAt = s.unix()
	inv.HostedInvoiceURL = "https://invoice.stripe.test/" + inv.ID
	s.emit("invoice.finalized", "invoice", inv, nil)
	if inv.AmountDue == 0 {
		s.pay(inv)
	}
}

func invoiceSub(inv *stripe.Invoice) string {
	if inv.Parent != nil && inv.Parent.SubscriptionDetails != nil && inv.Parent.SubscriptionDetails.Subscription != nil {
		return inv.Parent.SubscriptionDetails.Subscription.ID
	}
	return ""
}

// attempt tries the customer's default payment method.
func (s *Server) attempt(inv *stripe.Invoice) bool {
	if inv.Status != stripe.InvoiceStatusOpen {
		return inv.Status == stripe.InvoiceStatusPaid
	}
	c := s.customers[inv.Customer.ID]
	if c != nil && c.hasPM && !c.declines {
		s.pay(inv)
		return true
	}
	s.fail(inv, true)
	return false
}

func (s *Server) pay(inv *stripe.Invoice) {
	var prevSub map[string]any
	subID := invoiceSub(inv)
	sub := s.subs[subID]
	if sub != nil {
		prevSub = s.render("subscription", sub, nil)
	}
	if inv.AmountDue > 0 {
		inv.AttemptCount++
		inv.Attempted = true
		ch := &stripe.Charge{ID: s.newID("ch"), Object: "charge", Amount: inv.AmountDue, AmountCaptured: inv.AmountDue,
			Currency: inv.Currency, Customer: &stripe.Customer{ID: inv.Customer.ID}, Paid: true, Captured: true,
			Status: stripe.ChargeStatusSucceeded, Created: s.unix(), Metadata: map[string]string{"invoice": inv.ID}}
		s.charges[ch.ID] = ch
		inv.Payments = &stripe.InvoicePaymentList{ListMeta: stripe.ListMeta{URL: "/v1/invoice_payments"}, Data: []*stripe.InvoicePayment{{
			ID: s.newID("inpay"), Object: "invoice_payment", AmountPaid: inv.AmountDue, AmountRequested: inv.AmountDue,
			Currency: inv.Currency, Created: s.unix(), IsDefault: true, Status: "paid",
			Payment: &stripe.InvoicePaymentPayment{Type: stripe.InvoicePaymentPaymentTypeCharge, Charge: &stripe.Charge{ID: ch.ID}}}}}
	}
	inv.Status = stripe.InvoiceStatusPaid
	inv.AmountPaid = inv.AmountDue
	inv.AmountRemaining = 0
	inv.NextPaymentAttempt = 0
	inv.StatusTransitions.PaidAt = s.unix()
	s.emit("invoice.paid", "invoice", inv, nil)
	s.emit("invoice.payment_succeeded", "invoice", inv, nil)
	if sub == nil {
		return
	}
	if pu, ok := s.pendingUpdates[subID]; ok && pu.invoice == inv.ID {
		s.applyItems(sub, pu.items)
		if pu.newPeriod {
			s.restartPeriod(sub)
		}
		sub.PendingUpdate = nil
		delete(s.pendingUpdates, subID)
		s.syncSchedule(sub)
	}
	switch sub.Status {
	case stripe.SubscriptionStatusPastDue, stripe.SubscriptionStatusUnpaid, stripe.SubscriptionStatusIncomplete:
		if sub.LatestInvoice != nil && sub.LatestInvoice.ID == inv.ID {
			sub.Status = stripe.SubscriptionStatusActive
		}
	}
	s.emitUpdated(sub, prevSub)
}

// fail records a failed payment attempt on an open invoice.
func (s *Server) fail(inv *stripe.Invoice, retry bool) {
	inv.AttemptCount++
	inv.Attempted = true
	inv.NextPaymentAttempt = 0
	if retry {
		inv.NextPaymentAttempt = s.nextAttempt(inv)
	}
	s.emit("invoice.payment_failed", "invoice", inv, nil)
	sub := s.subs[invoiceSub(inv)]
	if sub == nil {
		return
	}
	if pu, ok := s.pendingUpdates[sub.ID]; ok && pu.invoice == inv.ID {
		return // pending_if_incomplete: the subscription keeps its old state
	}
	if sub.LatestInvoice != nil && sub.LatestInvoice.ID == inv.ID &&
		(sub.Status == stripe.SubscriptionStatusActive || sub.Status == stripe.SubscriptionStatusTrialing) {
		prev := s.render("subscription", sub, nil)
		sub.Status = stripe.SubscriptionStatusPastDue
		s.emitUpdated(sub, prev)
	}
}

// nextAttempt is when inv, which has just failed its AttemptCount-th
// attempt, is tried again: RetryInterval from now, or, with a
// RetrySchedule, the schedule's next entry after its first failed attempt;
// 0 when the schedule has no entry left.
func (s *Server) nextAttempt(inv *stripe.Invoice) int64 {
	if len(s.opts.RetrySchedule) == 0 {
		return s.now.Add(s.opts.RetryInterval).Unix()
	}
	if inv.AttemptCount == 1 {
		s.firstFailure[inv.ID] = s.now
	}
	i := int(inv.AttemptCount) - 1 // retries made so far
	if i >= len(s.opts.RetrySchedule) {
		return 0
	}
	return s.firstFailure[inv.ID].Add(s.opts.RetrySchedule[i]).Unix()
}

func (s *Server) emitUpdated(sub *stripe.Subscription, prev map[string]any) {
	if prev == nil {
		return
	}
	cur := s.render("subscription", sub, nil)
	for k, v := range cur {
		if fmt.Sprint(prev[k]) != fmt.Sprint(v) {
			s.emit("customer.subscription.updated", "subscription", sub, prev)
			return
		}
	}
}

func (s *Server) applyItems(sub *stripe.Subscription, changes []itemChange) {
	for _, ch := range changes {
		for _, it := range sub.Items.Data {
			if it.ID == ch.itemID {
				p := s.prices[ch.price]
				it.Price = s.stripePrice(p)
				it.Quantity = ch.qty
			}
		}
	}
}

func (s *Server) endSub(sub *stripe.Subscription, status stripe.SubscriptionStatus, reason stripe.SubscriptionCancellationDetailsReason) {
	prev := s.render("subscription", sub, nil)
	sub.Status = status
	sub.EndedAt = s.unix()
	if sub.CanceledAt == 0 {
		sub.CanceledAt = s.unix()
	}
	sub.CancellationDetails = &stripe.SubscriptionCancellationDetails{Reason: reason}
	if status == stripe.SubscriptionStatusCanceled || status == stripe.SubscriptionStatusIncompleteExpired {
		s.cancelScheduleOf(sub)
	}
	if status == stripe.SubscriptionStatusCanceled {
		s.emit("customer.subscription.deleted", "subscription", sub, prev)
	} else {
		s.emitUpdated(sub, prev)
	}
}

func period(sub *stripe.Subscription) (int64, int64) {
	it := sub.Items.Data[0]
	return it.CurrentPeriodStart, it.CurrentPeriodEnd
}

// ---- checkout completion ----

// CheckoutOutcome tunes CompleteCheckoutWith.
type CheckoutOutcome struct {
	// PaymentFails leaves the subscription incomplete with an open first invoice.
	PaymentFails bool
	// NoPaymentMethod completes a trial checkout without collecting a card.
	NoPaymentMethod bool
	// AsyncPayment pays with a delayed notification payment method (SEPA
	// Direct Debit, ACH): the session completes unpaid, the subscription
	// is incomplete until SettleAsyncPayment (async.go).
	AsyncPayment bool
	// PromotionCode is a code the customer enters (Options.PromotionCodes).
	// Checkout shows the field only when the session was created with
	// allow_promotion_codes=true
	// (https://docs.stripe.com/payments/checkout/discounts#promotion-codes):
	// completing another session with a code is an error.
	PromotionCode string
}

// CompleteCheckout completes an open checkout session as the customer paying
// successfully would: it creates the customer if needed, the subscription and
// its first invoice (paid), and the matching events. It returns the subscription ID.
func (s *Server) CompleteCheckout(sessionID string) (string, error) {
	return s.CompleteCheckoutWith(sessionID, CheckoutOutcome{})
}

// CompleteCheckoutWith is CompleteCheckout with a chosen outcome.
func (s *Server) CompleteCheckoutWith(sessionID string, o CheckoutOutcome) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cs := s.sessions[sessionID]
	if cs == nil || cs.Status != stripe.CheckoutSessionStatusOpen {
		return "", fmt.Errorf("stripefake: no open checkout session %q", sessionID)
	}
	if cs.Customer == nil {
		c := &stripe.Customer{ID: s.newID("cus"), Object: "customer", Created: s.unix(), Metadata: map[string]string{}}
		s.customers[c.ID] = &customerState{obj: c}
		s.emit("customer.created", "customer", c, nil)
		cs.Customer = &stripe.Customer{ID: c.ID}
	}
	cus := s.customers[cs.Customer.ID]
	cus.hasPM = !o.NoPaymentMethod
	cus.declines = o.PaymentFails
	if o.AsyncPayment && (o.PaymentFails || o.NoPaymentMethod) {
		return "", fmt.Errorf("stripefake: AsyncPayment settles later (SettleAsyncPayment)")
	}
	if cs.AutomaticTax.Enabled && s.taxStatus(cus.obj.ID) == stripe.CustomerTaxAutomaticTaxUnrecognizedLocation {
		// Checkout collected a billing address Stripe Tax recognizes.
		s.setTaxStatus(cus, stripe.CustomerTaxAutomaticTaxSupported)
	}
	st := s.sessionSt[cs.ID]
	p := s.prices[st.price]
	qty := st.quantity
	trialDays := st.trialDays
	if o.NoPaymentMethod && trialDays == 0 {
		return "", fmt.Errorf("stripefake: NoPaymentMethod needs a trial")
	}
	now := s.unix()
	sub := &stripe.Subscription{ID: s.newID("sub"), Object: "subscription", Created: now, StartDate: now,
		BillingCycleAnchor: now, Currency: stripe.Currency(p.Currency), Customer: &stripe.Customer{ID: cus.obj.ID},
		CollectionMethod: stripe.SubscriptionCollectionMethodChargeAutomatically, Status: stripe.SubscriptionStatusIncomplete,
		AutomaticTax: &stripe.SubscriptionAutomaticTax{Enabled: cs.AutomaticTax.Enabled}, Metadata: map[string]string{},
		BillingMode: &stripe.SubscriptionBillingMode{Type: stripe.SubscriptionBillingModeTypeFlexible}}
	end := s.addInterval(now, p)
	if trialDays > 0 {
		sub.TrialStart = now
		sub.TrialEnd = s.now.AddDate(0, 0, int(trialDays)).Unix()
		sub.TrialSettings = &stripe.SubscriptionTrialSettings{EndBehavior: &stripe.SubscriptionTrialSettingsEndBehavior{
			MissingPaymentMethod: st.trialEndBehavior}}
		end = sub.TrialEnd
		sub.BillingCycleAnchor = end
		sub.Status = stripe.SubscriptionStatusTrialing
	}
	lines := st.lines
	if len(lines) == 0 {
		lines = []sessionLine{{price: st.price, qty: qty}}
	}
	sub.Items = &stripe.SubscriptionItemList{ListMeta: stripe.ListMeta{URL: "/v1/subscription_items?subscription=" + sub.ID}}
	var invLines []*stripe.InvoiceLineItem
	for _, l := range lines {
		lp := s.prices[l.price]
		item := &stripe.SubscriptionItem{ID: s.newID("si"), Object: "subscription_item", Created: now, Subscription: sub.ID,
			Price: s.stripePrice(lp), Quantity: l.qty, CurrentPeriodStart: now, CurrentPeriodEnd: end, Metadata: map[string]string{}}
		sub.Items.Data = append(sub.Items.Data, item)
		amount := lp.UnitAmount * l.qty
		desc := fmt.Sprintf("%d × %s", l.qty, lp.Product)
		if trialDays > 0 {
			amount = 0
			desc = "Trial period for " + lp.Product
		}
		invLines = append(invLines, s.line(sub.ID, item.ID, lp, l.qty, amount, now, end, false, desc))
	}
	for k, v := range st.subscriptionMetadata {
		sub.Metadata[k] = v
	}
	s.subs[sub.ID] = sub
	inv := s.newInvoice(sub, cus.obj.ID, stripe.InvoiceBillingReasonSubscriptionCreate, invLines, p.Currency)
	if o.PromotionCode != "" {
		if err := s.applyPromotionCode(sub, inv, st, o.PromotionCode); err != nil {
			delete(s.subs, sub.ID)
			return "", err
		}
	}
	inv.PeriodStart, inv.PeriodEnd = now, now
	s.emit("customer.subscription.created", "subscription", sub, nil)
	if o.AsyncPayment && trialDays == 0 {
		sub.LatestInvoice = &stripe.Invoice{ID: fmt.Sprintf("in_fake%06d", s.seq["in"]+1)}
		s.finalize(inv) // open: the payment is processing
		s.completeAsync(cs, sub, inv)
		return sub.ID, nil
	}
	s.finalizeFor(sub, inv)
	if inv.Status != stripe.InvoiceStatusPaid {
		s.fail(inv, false)
	}
	if sub.Status == stripe.SubscriptionStatusIncomplete {
		return sub.ID, nil // the session stays open, as when the card is declined
	}
	cs.Status = stripe.CheckoutSessionStatusComplete
	if cs.AutomaticTax.Enabled {
		cs.AutomaticTax.Status = stripe.CheckoutSessionAutomaticTaxStatusComplete
	}
	cs.PaymentStatus = stripe.CheckoutSessionPaymentStatusPaid
	if trialDays > 0 {
		cs.PaymentStatus = stripe.CheckoutSessionPaymentStatusNoPaymentRequired
	}
	cs.Subscription = &stripe.Subscription{ID: sub.ID}
	cs.Invoice = &stripe.Invoice{ID: inv.ID}
	s.emit("checkout.session.completed", "checkout.session", cs, nil)
	return sub.ID, nil
}

// finalizeFor finalizes inv as sub's latest invoice. The first payment
// attempt is left to the caller, except for zero-amount invoices.
func (s *Server) finalizeFor(sub *stripe.Subscription, inv *stripe.Invoice) {
	// Register the ID first so that paying a zero invoice sees it as latest.
	inv.ID = ""
	id := fmt.Sprintf("in_fake%06d", s.seq["in"]+1)
	sub.LatestInvoice = &stripe.Invoice{ID: id}
	s.finalize(inv)
	if inv.Status == stripe.InvoiceStatusOpen && inv.AmountDue > 0 && inv.BillingReason == stripe.InvoiceBillingReasonSubscriptionCreate {
		c := s.customers[inv.Customer.ID]
		if c.hasPM && !c.declines {
			s.pay(inv)
		}
	}
}

// ---- subscription API ----

func parseItems(f url.Values, prefix string) []itemChange {
	var out []itemChange
	for i := 0; ; i++ {
		k := fmt.Sprintf("%s[%d]", prefix, i)
		id, price := f.Get(k+"[id]"), f.Get(k+"[price]")
		if id == "" && price == "" {
			break
		}
		q, ok := formInt(f, k+"[quantity]")
		if !ok {
			q = 0
		}
		out = append(out, itemChange{itemID: id, price: price, qty: q})
	}
	return out
}

// resolve validates item changes against sub and fills defaults.
func (s *Server) resolve(sub *stripe.Subscription, changes []itemChange) ([]itemChange, error) {
	var out []itemChange
	for _, ch := range changes {
		var it *stripe.SubscriptionItem
		for _, x := range sub.Items.Data {
			if x.ID == ch.itemID {
				it = x
			}
		}
		if it == nil {
			return nil, fmt.Errorf("stripefake: items need the id of an existing subscription item (got %q)", ch.itemID)
		}
		if ch.price == "" {
			ch.price = it.Price.ID
		}
		if _, ok := s.prices[ch.price]; !ok {
			return nil, fmt.Errorf("No such price: '%s'", ch.price)
		}
		if ch.qty == 0 {
			ch.qty = it.Quantity
		}
		out = append(out, ch)
	}
	return out, nil
}

// prorationLines computes the proration lines for changes at date d (see package doc).
func (s *Server) prorationLines(sub *stripe.Subscription, changes []itemChange, d int64) []*stripe.InvoiceLineItem {
	start, end := period(sub)
	var lines []*stripe.InvoiceLineItem
	for _, ch := range changes {
		for _, it := range sub.Items.Data {
			if it.ID != ch.itemID || (it.Price.ID == ch.price && it.Quantity == ch.qty) {
				continue
			}
			oldP, newP := s.prices[it.Price.ID], s.prices[ch.price]
			credit := -prorate(oldP.UnitAmount*it.Quantity, end-d, end-start)
			charge := prorate(newP.UnitAmount*ch.qty, end-d, end-start)
			lines = append(lines,
				s.line(sub.ID, it.ID, oldP, it.Quantity, credit, d, end, true, "Unused time on "+oldP.Product),
				s.line(sub.ID, it.ID, newP, ch.qty, charge, d, end, true, "Remaining time on "+newP.Product))
		}
	}
	return lines
}

func (s *Server) updateSubscription(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := r.Form
	sub := s.subs[r.PathValue("id")]
	if sub == nil {
		writeErr(w, 404, "invalid_request_error", "No such subscription: '"+r.PathValue("id")+"'")
		return
	}
	if sub.Status == stripe.SubscriptionStatusCanceled || sub.Status == stripe.SubscriptionStatusIncompleteExpired {
		writeErr(w, 400, "invalid_request_error", "A canceled subscription can only update its cancellation_details and metadata.")
		return
	}
	pb := f.Get("payment_behavior")
	behavior := f.Get("proration_behavior")
	if behavior == "" {
		behavior = "create_prorations"
	}
	if pb == "pending_if_incomplete" {
		for k := range f {
			if strings.HasPrefix(k, "metadata") || k == "cancel_at_period_end" || k == "cancel_at" {
				writeErr(w, 400, "invalid_request_error", "pending_if_incomplete only supports updates to items, proration and trial parameters; got "+k)
				return
			}
		}
	}
	changes, err := s.resolve(sub, parseItems(f, "items"))
	if err != nil {
		writeErr(w, 400, "invalid_request_error", err.Error())
		return
	}
	newInterval, err := s.intervalChange(sub, changes)
	if err != nil {
		writeErrParam(w, 400, "invalid_request_error", "", "items", err.Error())
		return
	}
	automaticTax := subAutomaticTax(sub)
	if v := f.Get("automatic_tax[enabled]"); v != "" {
		automaticTax = v == "true"
	}
	if len(changes) > 0 && s.taxLocationInvalid(w, sub.Customer.ID, automaticTax) {
		return
	}
	start, end := period(sub)
	d := s.unix()
	if v, ok := formInt(f, "proration_date"); ok {
		d = v
	}
	if len(changes) > 0 && (d < start || d >= end) {
		writeErr(w, 400, "invalid_request_error", "proration_date must be within the current billing period")
		return
	}
	prev := s.render("subscription", sub, nil)
	if v := f.Get("automatic_tax[enabled]"); v != "" {
		sub.AutomaticTax = &stripe.SubscriptionAutomaticTax{Enabled: automaticTax}
	}
	if v := f.Get("cancel_at_period_end"); v != "" {
		sub.CancelAtPeriodEnd = v == "true"
		if sub.CancelAtPeriodEnd {
			sub.CancelAt, sub.CanceledAt = end, s.unix()
			sub.CancellationDetails = &stripe.SubscriptionCancellationDetails{Reason: stripe.SubscriptionCancellationDetailsReasonCancellationRequested}
		} else {
			sub.CancelAt, sub.CanceledAt, sub.CancellationDetails = 0, 0, nil
		}
	}
	if v, ok := f["cancel_at"]; ok && !s.setCancelAt(w, sub, v[0], end) {
		return
	}
	if !s.updateTrialSettings(w, sub, f) {
		return
	}
	for k, v := range f {
		if strings.HasPrefix(k, "metadata[") && strings.HasSuffix(k, "]") {
			if sub.Metadata == nil {
				sub.Metadata = map[string]string{}
			}
			sub.Metadata[k[len("metadata["):len(k)-1]] = v[0]
		}
	}
	var lines []*stripe.InvoiceLineItem
	if behavior != "none" {
		lines = s.prorationLines(sub, changes, d)
	}
	if newInterval {
		lines = s.intervalChangeLines(sub, changes, d, behavior)
	}
	switch {
	case (behavior == "always_invoice" || newInterval) && len(lines) > 0:
		lines = append(s.pendingLines[sub.ID], lines...)
		delete(s.pendingLines, sub.ID)
		inv := s.newInvoice(sub, sub.Customer.ID, stripe.InvoiceBillingReasonSubscriptionUpdate, lines, string(sub.Currency))
		inv.Parent.SubscriptionDetails.SubscriptionProrationDate = d
		if pb == "pending_if_incomplete" {
			id := fmt.Sprintf("in_fake%06d", s.seq["in"]+1)
			s.pendingUpdates[sub.ID] = pendingUpdate{invoice: id, items: changes, newPeriod: newInterval}
			var items []*stripe.SubscriptionItem
			for _, ch := range changes {
				items = append(items, &stripe.SubscriptionItem{ID: ch.itemID, Object: "subscription_item",
					Price: s.stripePrice(s.prices[ch.price]), Quantity: ch.qty, Subscription: sub.ID})
			}
			sub.PendingUpdate = &stripe.SubscriptionPendingUpdate{ExpiresAt: s.now.Add(23 * time.Hour).Unix(), SubscriptionItems: items}
		} else {
			s.applyItems(sub, changes)
			if newInterval {
				s.restartPeriod(sub)
			}
		}
		sub.LatestInvoice = &stripe.Invoice{ID: fmt.Sprintf("in_fake%06d", s.seq["in"]+1)}
		s.finalize(inv)
		s.attempt(inv) // on failure a pending update stays pending until the invoice is paid
	case behavior == "create_prorations":
		s.pendingLines[sub.ID] = append(s.pendingLines[sub.ID], lines...)
		s.applyItems(sub, changes)
	default:
		s.applyItems(sub, changes)
	}
	s.syncSchedule(sub)
	s.emitUpdated(sub, prev)
	writeJSON(w, 200, s.render("subscription", sub, formList(f, "expand")))
}

func (s *Server) cancelSubscription(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sub := s.subs[r.PathValue("id")]
	if sub == nil {
		writeErr(w, 404, "invalid_request_error", "No such subscription: '"+r.PathValue("id")+"'")
		return
	}
	if sub.Status == stripe.SubscriptionStatusCanceled {
		writeErr(w, 400, "invalid_request_error", "This subscription is already canceled.")
		return
	}
	s.endSub(sub, stripe.SubscriptionStatusCanceled, stripe.SubscriptionCancellationDetailsReasonCancellationRequested)
	writeJSON(w, 200, s.render("subscription", sub, formList(r.Form, "expand")))
}

func (s *Server) createPreview(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := r.Form
	subID := f.Get("subscription")
	sub := s.subs[subID]
	if sub == nil {
		writeErr(w, 400, "invalid_request_error", "stripefake: create_preview needs an existing subscription (got '"+subID+"')")
		return
	}
	changes, err := s.resolve(sub, parseItems(f, "subscription_details[items]"))
	if err != nil {
		writeErr(w, 400, "invalid_request_error", err.Error())
		return
	}
	newInterval, err := s.intervalChange(sub, changes)
	if err != nil {
		writeErrParam(w, 400, "invalid_request_error", "", "subscription_details[items]", err.Error())
		return
	}
	automaticTax := subAutomaticTax(sub)
	if v := f.Get("automatic_tax[enabled]"); v != "" {
		automaticTax = v == "true"
	}
	if s.taxLocationInvalid(w, sub.Customer.ID, automaticTax) {
		return
	}
	start, end := period(sub)
	d := s.unix()
	if v, ok := formInt(f, "subscription_details[proration_date]"); ok {
		d = v
	}
	if d < start || d >= end {
		writeErr(w, 400, "invalid_request_error", "proration_date must be within the current billing period")
		return
	}
	behavior := f.Get("subscription_details[proration_behavior]")
	if behavior == "" {
		behavior = "create_prorations"
	}
	var lines []*stripe.InvoiceLineItem
	if behavior != "none" {
		lines = append(lines, s.pendingLines[sub.ID]...)
		lines = append(lines, s.prorationLines(sub, changes, d)...)
	}
	reason := stripe.InvoiceBillingReasonSubscriptionUpdate
	if newInterval {
		// Invoiced at once whatever the proration behavior (see intervalChange).
		lines = append(append([]*stripe.InvoiceLineItem(nil), s.pendingLines[sub.ID]...), s.intervalChangeLines(sub, changes, d, behavior)...)
	} else if behavior != "always_invoice" {
		// The upcoming renewal at the new prices.
		reason = stripe.InvoiceBillingReasonUpcoming
		for _, it := range sub.Items.Data {
			p, q := s.prices[it.Price.ID], it.Quantity
			for _, ch := range changes {
				if ch.itemID == it.ID {
					p, q = s.prices[ch.price], ch.qty
				}
			}
			lines = append(lines, s.line(sub.ID, it.ID, p, q, p.UnitAmount*q, end, s.addInterval(end, p), false, fmt.Sprintf("%d × %s", q, p.Product)))
		}
	}
	inv := s.newInvoice(sub, sub.Customer.ID, reason, lines, string(sub.Currency))
	inv.Parent.SubscriptionDetails.SubscriptionProrationDate = d
	inv.Status = stripe.InvoiceStatusDraft
	writeJSON(w, 200, s.render("invoice", inv, formList(f, "expand")))
}
