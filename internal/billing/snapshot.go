package billing

import (
	"slices"
	"time"

	"github.com/stripe/stripe-go/v85"
)

// The pure half of a sync: what the Stripe objects fetch read become in the
// stored account, and which outbox rows the change calls for. Nothing here
// reads the database or Stripe, so the rules are table-tested on their own
// (snapshot_test.go).

// hasBilling reports whether a sync has anything to fetch: an organisation
// that never had a customer or a subscription, synced without an event
// naming its customer, is on the free plan.
func hasBilling(prev Account, h syncHint) bool {
	return prev.CustomerID != "" || prev.SubscriptionID != "" || h.customerID != ""
}

// withoutOtherCustomer is h without the objects of its customer when that
// customer is not (or no longer) the account's: a customer Stripe deleted,
// or one a checkout attempt created whose commit failed (ensureCustomer:
// the next attempt creates another, and the first stays unused). Such an
// event names nothing the organisation has now and must neither fail for
// ever nor give the account that customer; the rest of the hint still says
// what to re-fetch (the account's own objects). A customer is the
// account's once stored; before that, the event's customer is adopted
// (first contact).
func withoutOtherCustomer(prev Account, h syncHint) syncHint {
	if h.customerID == "" || h.customerID == prev.CustomerID {
		return h
	}
	if prev.CustomerID == "" && !h.customerDeleted {
		return h
	}
	return syncHint{eventTime: h.eventTime, checkCustomer: h.checkCustomer}
}

// withoutCustomer is the account once Stripe deleted its customer: the
// customer and everything of it (the subscription Stripe canceled with it,
// its invoices and schedule) forgotten, so the organisation is on the free
// plan and its next checkout creates a new customer. The dispute is kept:
// a lost dispute's policy still applies to the organisation.
func withoutCustomer(prev Account) Account {
	return Account{OrgID: prev.OrgID, DisputeID: prev.DisputeID, Dispute: prev.Dispute,
		DisputeAmount: prev.DisputeAmount, DisputeCurrency: prev.DisputeCurrency,
		CheckoutSessionID: prev.CheckoutSessionID}
}

// accountCustomer is the Stripe customer a sync of prev with hint h is for:
// the stored one, else the event's (h has been through
// withoutOtherCustomer, so it names no other customer than the stored one).
func accountCustomer(prev Account, h syncHint) string {
	if prev.CustomerID == "" {
		return h.customerID
	}
	return prev.CustomerID
}

// nextAccount is prev after a sync for customerID with hint h that read f,
// with the outbox rows the change calls for, in order: a payment recovered,
// payments failed, a dispute. A customer Stripe deleted is forgotten
// (withoutCustomer).
func nextAccount(prev Account, customerID string, h syncHint, f fetched) (Account, []outboxRow) {
	if f.customerDeleted {
		return withoutCustomer(prev), nil
	}
	cur := prev
	cur.CustomerID = customerID
	if f.sub != nil {
		cur = withSubscription(cur, f.sub, f.schedule)
	}
	cur.LatestInvoiceID, cur.Snapshot.LatestInvoiceStatus = "", ""
	if f.invoice != nil {
		cur.LatestInvoiceID, cur.Snapshot.LatestInvoiceStatus = f.invoice.ID, f.invoice.Status
	}
	cur.Snapshot.FinalizationFailedAt = finalizationFailedAt(prev, f.invoice)
	var outbox []outboxRow
	cur.Snapshot.FirstPaymentFailedAt, outbox = dunning(prev.Snapshot.FirstPaymentFailedAt, h, f)
	outbox = append(outbox, paymentFailedEmails(cur.Snapshot.Status, customerID, h, f)...)
	at := h.eventTime
	if at.IsZero() {
		at = f.now
	}
	cur = withDisputes(cur, mergeDisputes(f.storedDisputes, f.disputes, f.invoice, at))
	for _, d := range f.disputes {
		outbox = append(outbox, disputeAlerts(d, DisputeState{Status: disputeStatus(d.Status), FundsWithdrawn: fundsWithdrawn(d)})...)
	}
	return cur, outbox
}

// subLive reports whether a subscription in status st has not ended.
func subLive(st stripe.SubscriptionStatus) bool {
	switch st {
	case "", stripe.SubscriptionStatusCanceled, stripe.SubscriptionStatusIncompleteExpired:
		return false
	}
	return true
}

// paymentFailing reports whether sub is in dunning: past due or unpaid.
func paymentFailing(sub *stripe.Subscription) bool {
	return sub != nil && (sub.Status == stripe.SubscriptionStatusPastDue || sub.Status == stripe.SubscriptionStatusUnpaid)
}

// better reports whether subscription a should be the organisation's
// subscription rather than b: a live one beats an ended one, then the newer.
func better(a, b *stripe.Subscription) bool {
	if b == nil {
		return true
	}
	if la, lb := subLive(a.Status), subLive(b.Status); la != lb {
		return la
	}
	if a.Created != b.Created {
		return a.Created > b.Created
	}
	return a.ID > b.ID
}

// customerOf is the ID of a Stripe object's customer; "" for none.
func customerOf(c *stripe.Customer) string {
	if c == nil {
		return ""
	}
	return c.ID
}

// distinctIDs is ids without "" and repeats, in order.
func distinctIDs(ids ...string) []string {
	var out []string
	seen := map[string]bool{}
	for _, id := range ids {
		if id == "" || seen[id] {
			continue
		}
		seen[id] = true
		out = append(out, id)
	}
	return out
}

// pickSubscription returns, of subs, the best (better) of those whose
// customer is customerID; nil when none is.
func pickSubscription(subs []*stripe.Subscription, customerID string) *stripe.Subscription {
	var best *stripe.Subscription
	for _, sub := range subs {
		if customerOf(sub.Customer) != customerID {
			continue // not this organisation's
		}
		if better(sub, best) {
			best = sub
		}
	}
	return best
}

// scheduleToFetch is the ID of sub's subscription schedule if it has one
// and is live (an ended subscription changes no more); "" otherwise.
func scheduleToFetch(sub *stripe.Subscription) string {
	if sub.Schedule == nil || !subLive(sub.Status) {
		return ""
	}
	return sub.Schedule.ID
}

// invoiceUnexpanded reports whether inv is only a reference (an ID without
// the invoice), which must be fetched.
func invoiceUnexpanded(inv *stripe.Invoice) bool {
	return inv != nil && inv.Status == "" && inv.ID != ""
}

// withSubscription is a with the fields Stripe's subscription sub and its
// schedule sched (nil: none) determine.
func withSubscription(a Account, sub *stripe.Subscription, sched *stripe.SubscriptionSchedule) Account {
	a.SubscriptionID = sub.ID
	a.Snapshot.Status = sub.Status
	a.Snapshot.CancelAtPeriodEnd = sub.CancelAtPeriodEnd
	a.Snapshot.CancelAt = cancelAt(sub)
	a.Snapshot.PriceID, a.Snapshot.CurrentPeriodEnd = itemPrice(sub)
	a.Snapshot.PendingPriceID = pendingPrice(sub)
	a.ScheduledPriceID, a.ScheduledChangeAt = "", time.Time{}
	if sched != nil {
		a.ScheduledPriceID, a.ScheduledChangeAt = scheduledChange(sched, a.Snapshot.CurrentPeriodEnd)
	}
	return a
}

// itemPrice is the price and the current period end of sub's first item;
// "" and zero for what it lacks.
func itemPrice(sub *stripe.Subscription) (string, time.Time) {
	if sub.Items == nil || len(sub.Items.Data) == 0 {
		return "", time.Time{}
	}
	var price string
	var periodEnd time.Time
	it := sub.Items.Data[0]
	if it.Price != nil {
		price = it.Price.ID
	}
	if it.CurrentPeriodEnd > 0 {
		periodEnd = time.Unix(it.CurrentPeriodEnd, 0).UTC()
	}
	return price, periodEnd
}

// pendingPrice is the price of sub's pending update (an upgrade waiting for
// its payment); "" for none.
func pendingPrice(sub *stripe.Subscription) string {
	pu := sub.PendingUpdate
	if pu == nil || len(pu.SubscriptionItems) == 0 || pu.SubscriptionItems[0].Price == nil {
		return ""
	}
	return pu.SubscriptionItems[0].Price.ID
}

// scheduledChange returns the price a subscription schedule switches the
// subscription to at or after periodEnd, and when; "" when the schedule
// changes nothing then (or has ended).
func scheduledChange(sched *stripe.SubscriptionSchedule, periodEnd time.Time) (string, time.Time) {
	if sched.Status != stripe.SubscriptionScheduleStatusActive && sched.Status != stripe.SubscriptionScheduleStatusNotStarted {
		return "", time.Time{}
	}
	for _, ph := range sched.Phases {
		if ph.StartDate < periodEnd.Unix() || len(ph.Items) == 0 || ph.Items[0].Price == nil {
			continue
		}
		return ph.Items[0].Price.ID, time.Unix(ph.StartDate, 0).UTC()
	}
	return "", time.Time{}
}

// needsFirstFailure reports whether a sync must find when the payment of
// sub first failed: it is failing, and the account (prev) has no failure
// stored yet. The first failure is stored once.
func needsFirstFailure(prev Account, sub *stripe.Subscription) bool {
	return paymentFailing(sub) && prev.Snapshot.FirstPaymentFailedAt.IsZero()
}

// dunning returns the account's FirstPaymentFailedAt after a sync that read
// f, given the stored one (prevFailedAt): set once when the payment starts
// failing, kept while it fails, cleared when it stops. A payment that
// recovers with the latest invoice paid calls for a recovery email.
func dunning(prevFailedAt time.Time, h syncHint, f fetched) (time.Time, []outboxRow) {
	failing := paymentFailing(f.sub)
	switch {
	case failing && prevFailedAt.IsZero():
		return firstFailureAt(f.invoice, h, f.recordedFailure), nil
	case !failing && !prevFailedAt.IsZero():
		if f.invoice != nil && f.invoice.Status == stripe.InvoiceStatusPaid {
			return time.Time{}, []outboxRow{paymentRecoveredRow(f.invoice)}
		}
		return time.Time{}, nil
	}
	return prevFailedAt, nil
}

// firstFailureAt is when the current dunning cycle's first payment failed,
// from Stripe's times, never "now": the earliest of Stripe's first attempt
// at inv (firstAttemptAt), the invoice.payment_failed event being
// processed (if it is for inv) and the earliest one recorded for inv; else
// inv's creation. Reading the first attempt from the invoice means a
// missed first webhook does not move the start of the grace period to a
// later retry's event.
func firstFailureAt(inv *stripe.Invoice, h syncHint, recorded *time.Time) time.Time {
	var at time.Time
	earliest := func(t time.Time) {
		if !t.IsZero() && (at.IsZero() || t.Before(at)) {
			at = t.UTC()
		}
	}
	if h.failedEvent && !h.eventTime.IsZero() && (inv == nil || h.invoiceID == inv.ID) {
		earliest(h.eventTime)
	}
	if inv == nil {
		return at
	}
	if recorded != nil {
		earliest(*recorded)
	}
	earliest(firstAttemptAt(inv))
	if at.IsZero() && inv.Created > 0 {
		return time.Unix(inv.Created, 0).UTC()
	}
	return at
}

// firstAttemptAt is when Stripe first tried to collect inv, if it has: an
// invoice of a subscription charged automatically is paid, or its payment
// attempted, when it is finalised
// (https://docs.stripe.com/billing/subscriptions/overview#invoice-lifecycle,
// https://docs.stripe.com/invoicing/integration/automatic-advancement-collection),
// so an attempted invoice's status_transitions.finalized_at is its first
// attempt. Zero when it was not attempted, not finalised, or is sent to
// the customer to pay (send_invoice).
func firstAttemptAt(inv *stripe.Invoice) time.Time {
	if inv.AttemptCount <= 0 || inv.CollectionMethod == stripe.InvoiceCollectionMethodSendInvoice ||
		inv.StatusTransitions == nil || inv.StatusTransitions.FinalizedAt <= 0 {
		return time.Time{}
	}
	return time.Unix(inv.StatusTransitions.FinalizedAt, 0).UTC()
}

// paymentFailedEmails returns the payment-failed emails a sync calls for:
// for the latest invoice's attempt count, and for the attempt of the
// invoice.payment_failed event being processed if its invoice is
// customerID's. The outbox keeps one per invoice and attempt.
func paymentFailedEmails(status stripe.SubscriptionStatus, customerID string, h syncHint, f fetched) []outboxRow {
	var out []outboxRow
	if f.invoice != nil {
		if o, ok := paymentFailedEmail(status, f.invoice, f.invoice.AttemptCount, pendingExpiry(f.sub, f.invoice)); ok {
			out = append(out, o)
		}
	}
	if f.eventInvoice != nil && customerOf(f.eventInvoice.Customer) == customerID {
		if o, ok := paymentFailedEmail(status, f.eventInvoice, h.failedAttempt, pendingExpiry(f.sub, f.eventInvoice)); ok {
			out = append(out, o)
		}
	}
	return out
}

// paymentFailedEmail returns the email for failed attempt number attempt
// at invoice in, for a subscription in status; false when none is due: the
// invoice is no longer open, or the subscription ended or is incomplete
// (its first payment is the customer's to retry in Checkout, not dunning).
// A failed plan change (pendingExpiresAt not zero) says what Stripe does
// with it instead of a retry.
func paymentFailedEmail(status stripe.SubscriptionStatus, in *stripe.Invoice, attempt int64, pendingExpiresAt time.Time) (outboxRow, bool) {
	if in.Status != stripe.InvoiceStatusOpen || attempt <= 0 || !subLive(status) ||
		status == stripe.SubscriptionStatusIncomplete {
		return outboxRow{}, false
	}
	return paymentFailedRow(in, attempt, pendingExpiresAt), true
}

// withPlans is cur, the account a sync of prev read f for, with its plans
// resolved by the catalogue from every item of the subscription (not only
// the first: an add-on may be listed first), and the alert the sync calls
// for when no item's price is a plan's. The plan item's price and period
// end replace the first item's (withSubscription).
//
// A live subscription whose items' prices the catalogue does not know
// (a new price created in the Dashboard and not added to plans.json)
// keeps the plan it had, if it is the same subscription, and an alert is
// written (OutboxUnknownPriceAlert): a paying customer is never dropped to
// the free plan silently. Without a previous plan it is the free plan, with
// the alert.
func withPlans(cat *Catalog, prev, cur Account, f fetched, outbox []outboxRow) (Account, []outboxRow) {
	if f.customerDeleted || cur.SubscriptionID == "" {
		cur.Snapshot.Plan, cur.Snapshot.Interval, cur.Snapshot.PendingPlan, cur.ScheduledPlan = "", "", "", ""
		return cur, outbox
	}
	if f.sub == nil {
		return cur, outbox
	}
	sub := f.sub
	var items []*stripe.SubscriptionItem
	if sub.Items != nil {
		items = sub.Items.Data
	}
	prices := make([]*stripe.Price, len(items))
	for i, it := range items {
		prices[i] = it.Price
	}
	if i, plan, iv, ok := cat.planPrice(prices); ok {
		it := items[i]
		cur.Snapshot.Plan, cur.Snapshot.Interval, cur.Snapshot.PriceID = plan.ID, iv, it.Price.ID
		if it.CurrentPeriodEnd > 0 {
			cur.Snapshot.CurrentPeriodEnd = time.Unix(it.CurrentPeriodEnd, 0).UTC()
		}
	} else {
		cur.Snapshot.Plan, cur.Snapshot.Interval = "", ""
		if len(items) > 0 && subLive(sub.Status) {
			if prevPlan, ok := cat.snapshotPlan(prev.Snapshot.Plan, prev.Snapshot.PriceID); ok && prev.SubscriptionID == sub.ID {
				cur.Snapshot.Plan, cur.Snapshot.Interval = prevPlan.ID, prev.Snapshot.Interval
			}
			var ids []string
			for _, p := range prices {
				if p != nil {
					ids = append(ids, p.ID)
				}
			}
			slices.Sort(ids)
			outbox = append(outbox, unknownPriceRow(sub.ID, ids))
		}
	}
	cur.Snapshot.PendingPlan = ""
	if pu := sub.PendingUpdate; pu != nil {
		pending := make([]*stripe.Price, len(pu.SubscriptionItems))
		for i, it := range pu.SubscriptionItems {
			pending[i] = it.Price
		}
		if i, plan, _, ok := cat.planPrice(pending); ok {
			cur.Snapshot.PendingPlan, cur.Snapshot.PendingPriceID = plan.ID, pending[i].ID
		}
	}
	cur.ScheduledPlan = ""
	if f.schedule != nil && cur.ScheduledPriceID != "" {
		if price, plan, at, ok := scheduledPlan(cat, f.schedule, cur.Snapshot.CurrentPeriodEnd); ok {
			cur.ScheduledPriceID, cur.ScheduledPlan, cur.ScheduledChangeAt = price, plan.ID, at
		}
	}
	return cur, outbox
}

// scheduledPlan is scheduledChange by plan: the plan price and plan of the
// first phase of sched starting at or after periodEnd, and when it starts;
// false when no such phase has a price the catalogue knows.
func scheduledPlan(cat *Catalog, sched *stripe.SubscriptionSchedule, periodEnd time.Time) (string, Plan, time.Time, bool) {
	if sched.Status != stripe.SubscriptionScheduleStatusActive && sched.Status != stripe.SubscriptionScheduleStatusNotStarted {
		return "", Plan{}, time.Time{}, false
	}
	for _, ph := range sched.Phases {
		if ph.StartDate < periodEnd.Unix() || len(ph.Items) == 0 {
			continue
		}
		prices := make([]*stripe.Price, len(ph.Items))
		for i, it := range ph.Items {
			prices[i] = it.Price
		}
		i, plan, _, ok := cat.planPrice(prices)
		if !ok {
			return "", Plan{}, time.Time{}, false
		}
		return prices[i].ID, plan, time.Unix(ph.StartDate, 0).UTC(), true
	}
	return "", Plan{}, time.Time{}, false
}
