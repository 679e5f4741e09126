package billing

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/stripe/stripe-go/v85"

	"github.com/groundwork-dev/groundwork/internal/audit"
	"github.com/groundwork-dev/groundwork/internal/authz"
	"github.com/groundwork-dev/groundwork/internal/gw"
)

// ChangePreview is what a plan change will do, shown before it is applied.
type ChangePreview struct {
	From, To Plan
	// Interval is the billing interval after the change; FromInterval the
	// one before (they differ for a monthly ↔ yearly switch).
	Interval     Interval
	FromInterval Interval
	// Upgrade: the change applies now and Invoice is the prorated invoice
	// charged at once, computed by Stripe at ProrationDate, the date the
	// change must be applied with to charge exactly this. Otherwise (a
	// downgrade) it applies at EffectiveAt, the period end, without credit,
	// and Invoice is the first invoice at the new price.
	Upgrade       bool
	ProrationDate time.Time
	EffectiveAt   time.Time
	Invoice       *Invoice
}

// maxPreviewAge is how old a proration date may be when the change is
// applied; an older preview must be made again.
const maxPreviewAge = time.Hour

// change is a validated plan change of a live subscription.
type change struct {
	account  Account
	sub      *stripe.Subscription
	item     *stripe.SubscriptionItem
	from, to Plan
	// interval is the subscription's billing interval, toInterval the
	// one after the change.
	interval, toInterval Interval
	price                string
	upgrade              bool
}

// planChange checks that the organisation's subscription can move to plan
// to, billed every toInterval ("" keeps the current interval), and
// re-fetches it from Stripe.
func (s *Service) planChange(ctx context.Context, a Account, to PlanID, toInterval Interval) (change, error) {
	cat := s.Catalog()
	c := change{account: a}
	if a.SubscriptionID == "" || !subLive(a.Snapshot.Status) {
		return c, gw.Errorf(gw.ECONFLICT, "This organisation has no subscription: choose a plan to subscribe.")
	}
	toPlan, ok := cat.Plan(to)
	if !ok {
		return c, &gw.Error{Code: gw.EINVALID, Message: "Unknown plan.", Fields: map[string]string{"plan": "Unknown plan."}}
	}
	if toPlan.Free() {
		return c, gw.Errorf(gw.EINVALID, "To move to the free plan, cancel the subscription: it ends at the period end.")
	}
	sub, err := s.stripe.V1Subscriptions.Retrieve(ctx, a.SubscriptionID, nil)
	if err != nil {
		return c, stripeError("fetch subscription", err)
	}
	switch {
	case sub.Status == stripe.SubscriptionStatusPastDue || sub.Status == stripe.SubscriptionStatusUnpaid:
		return c, gw.Errorf(gw.ECONFLICT, "A payment has failed: update the payment method in the billing portal before changing plans.")
	case sub.Status != stripe.SubscriptionStatusActive && sub.Status != stripe.SubscriptionStatusTrialing:
		return c, gw.Errorf(gw.ECONFLICT, "The subscription is %s: it cannot change plans now.", sub.Status)
	case sub.PendingUpdate != nil:
		return c, gw.Errorf(gw.ECONFLICT, "An upgrade is waiting for its payment: pay or wait for it before changing again.")
	case sub.CancelAtPeriodEnd:
		return c, gw.Errorf(gw.ECONFLICT, "The subscription ends at the period end: reactivate it before changing plans.")
	case sub.Items == nil || len(sub.Items.Data) == 0:
		return c, fmt.Errorf("billing: subscription %s has no items", sub.ID)
	}
	// The plan's item, among add-ons in any order (Catalog.Resolve).
	prices := make([]*stripe.Price, len(sub.Items.Data))
	for i, it := range sub.Items.Data {
		prices[i] = it.Price
	}
	i, from, iv, ok := cat.planPrice(prices)
	if !ok {
		return c, fmt.Errorf("billing: subscription %s has no price the plan catalogue knows", sub.ID)
	}
	c.sub, c.item = sub, sub.Items.Data[i]
	if toInterval == "" {
		toInterval = iv
	}
	switch {
	case toInterval != IntervalMonth && toInterval != IntervalYear:
		return c, &gw.Error{Code: gw.EINVALID, Message: "Choose a monthly or yearly billing interval.", Fields: map[string]string{"interval": "Unknown interval."}}
	case from.ID == toPlan.ID && toInterval == iv:
		return c, gw.Errorf(gw.EINVALID, "This organisation is already on the %s plan, billed %sly.", toPlan.Name, iv)
	case toInterval != iv && len(sub.Items.Data) > 1:
		// Every item of a subscription bills on one interval; the add-ons'
		// prices in the other interval are not the catalogue's to choose.
		return c, gw.Errorf(gw.ECONFLICT, "The subscription has add-ons: its billing interval cannot be switched here. Contact support.")
	}
	c.from, c.to, c.interval, c.toInterval = from, toPlan, iv, toInterval
	price, err := s.sellingPrice(ctx, toPlan, toInterval)
	if err != nil {
		return c, err
	}
	c.price = price
	// A higher plan, or the same plan billed yearly instead of monthly,
	// applies now (Stripe invoices an interval change at once and starts a
	// new period); a lower plan, or yearly to monthly, at the period end.
	c.upgrade = cat.rank(toPlan.ID) > cat.rank(from.ID) ||
		cat.rank(toPlan.ID) == cat.rank(from.ID) && iv == IntervalMonth && toInterval == IntervalYear
	return c, nil
}

// subItem is the item of sub with ID id; nil if none.
func subItem(sub *stripe.Subscription, id string) *stripe.SubscriptionItem {
	if sub == nil || sub.Items == nil {
		return nil
	}
	for _, it := range sub.Items.Data {
		if it.ID == id {
			return it
		}
	}
	return nil
}

// pendingItemPrice is the price sub's pending update gives item id; "" if
// it changes none.
func pendingItemPrice(sub *stripe.Subscription, id string) string {
	if sub == nil || sub.PendingUpdate == nil {
		return ""
	}
	for _, it := range sub.PendingUpdate.SubscriptionItems {
		if it.ID == id && it.Price != nil {
			return it.Price.ID
		}
	}
	return ""
}

// PreviewChange previews moving the organisation's subscription to plan
// (same billing interval). An upgrade is previewed with
// invoices.create_preview at a fixed proration date, which ChangePlan must
// be given back.
func (s *Service) PreviewChange(ctx context.Context, scope gw.Scope, to PlanID) (ChangePreview, error) {
	return s.PreviewChangeTo(ctx, scope, to, "")
}

// PreviewChangeTo is PreviewChange to plan to billed every interval iv (""
// keeps the current one): switching monthly ↔ yearly, with or without a
// plan change, goes through the same preview. Monthly to yearly applies now
// (Stripe invoices an interval change at once, crediting the unused time,
// and starts a new yearly period:
// https://docs.stripe.com/billing/subscriptions/billing-cycle#changing-the-billing-cycle);
// yearly to monthly at the period end. ECONFLICT: the subscription has
// add-on items (all items bill on one interval).
func (s *Service) PreviewChangeTo(ctx context.Context, scope gw.Scope, to PlanID, iv Interval) (ChangePreview, error) {
	if err := authz.Require(scope, authz.BillingManage); err != nil {
		return ChangePreview{}, err
	}
	a, err := s.syncer.Account(ctx, scope.OrgID)
	if err != nil {
		return ChangePreview{}, err
	}
	c, err := s.planChange(ctx, a, to, iv)
	if err != nil {
		return ChangePreview{}, err
	}
	p := ChangePreview{From: c.from, To: c.to, Interval: c.toInterval, FromInterval: c.interval, Upgrade: c.upgrade,
		EffectiveAt: time.Unix(c.item.CurrentPeriodEnd, 0).UTC()}
	details := &stripe.InvoiceCreatePreviewSubscriptionDetailsParams{
		Items: []*stripe.InvoiceCreatePreviewSubscriptionDetailsItemParams{{ID: stripe.String(c.item.ID), Price: stripe.String(c.price)}},
	}
	if c.upgrade {
		date := s.syncer.cfg.Clock.Now().UTC().Truncate(time.Second)
		p.ProrationDate, p.EffectiveAt = date, date
		details.ProrationBehavior = stripe.String("always_invoice")
		details.ProrationDate = stripe.Int64(date.Unix())
	} else {
		details.ProrationBehavior = stripe.String("none")
	}
	inv, err := s.stripe.V1Invoices.CreatePreview(ctx, &stripe.InvoiceCreatePreviewParams{
		Customer: stripe.String(a.CustomerID), Subscription: stripe.String(c.sub.ID), SubscriptionDetails: details})
	if err != nil {
		return ChangePreview{}, stripeError("preview plan change", err)
	}
	p.Invoice = invoiceOf(inv)
	return p, nil
}

// ChangePlan moves the organisation's subscription to plan. An upgrade is
// applied now at prorationDate (from PreviewChange, so the invoice equals
// the preview), invoiced at once with payment_behavior=pending_if_incomplete:
// Stripe applies the new price only when that invoice is paid, and the
// entitlements follow Stripe. A downgrade is scheduled for the period end
// with a subscription schedule, without proration: no credit, and the plan
// paid for stays until then.
func (s *Service) ChangePlan(ctx context.Context, scope gw.Scope, to PlanID, prorationDate time.Time) error {
	return s.ChangePlanTo(ctx, scope, to, "", prorationDate)
}

// ChangePlanTo is ChangePlan to plan to billed every interval iv ("" keeps
// the current one); see PreviewChangeTo.
func (s *Service) ChangePlanTo(ctx context.Context, scope gw.Scope, to PlanID, iv Interval, prorationDate time.Time) error {
	if err := authz.Require(scope, authz.BillingManage); err != nil {
		return err
	}
	return s.act(ctx, scope.OrgID, func(a Account) (*audit.Event, string, error) {
		c, err := s.planChange(ctx, a, to, iv)
		if err != nil {
			return nil, "", err
		}
		if c.upgrade {
			err = s.upgrade(ctx, c, prorationDate)
		} else {
			err = s.scheduleDowngrade(ctx, c)
		}
		if err != nil {
			return nil, "", err
		}
		return &audit.Event{OrgID: scope.OrgID, Actor: scope.Actor, Action: audit.ActionBillingPlanChanged,
			TargetType: audit.TargetSubscription, TargetID: c.sub.ID,
			Before: map[string]any{"plan": c.from.ID, "interval": c.interval},
			After:  map[string]any{"plan": c.to.ID, "interval": c.toInterval, "upgrade": c.upgrade}}, c.sub.ID, nil
	})
}

func (s *Service) upgrade(ctx context.Context, c change, prorationDate time.Time) error {
	now := s.syncer.cfg.Clock.Now()
	start, end := time.Unix(c.item.CurrentPeriodStart, 0), time.Unix(c.item.CurrentPeriodEnd, 0)
	if prorationDate.IsZero() || prorationDate.After(now) || now.Sub(prorationDate) > maxPreviewAge ||
		prorationDate.Before(start) || !prorationDate.Before(end) {
		return gw.Errorf(gw.EINVALID, "The price preview has expired: preview the change again.")
	}
	if c.sub.Schedule != nil && c.sub.Schedule.ID != "" {
		// A scheduled downgrade would undo the upgrade at the period end.
		if err := s.releaseSchedule(ctx, c.sub.Schedule.ID); err != nil {
			return err
		}
	}
	p := &stripe.SubscriptionUpdateParams{
		Items:             []*stripe.SubscriptionUpdateItemParams{{ID: stripe.String(c.item.ID), Price: stripe.String(c.price)}},
		ProrationBehavior: stripe.String("always_invoice"),
		ProrationDate:     stripe.Int64(prorationDate.Unix()),
		PaymentBehavior:   stripe.String("pending_if_incomplete"),
	}
	p.SetIdempotencyKey(attemptKey("upgrade", c.sub.ID))
	sub, err := s.stripe.V1Subscriptions.Update(ctx, c.sub.ID, p)
	if err != nil {
		return stripeError("upgrade subscription", err)
	}
	// Applied, or pending until its invoice is paid: anything else is not
	// the change asked for, and must not be reported as made.
	var price string
	if it := subItem(sub, c.item.ID); it != nil && it.Price != nil {
		price = it.Price.ID
	}
	if pending := pendingItemPrice(sub, c.item.ID); price != c.price && pending != c.price {
		return fmt.Errorf("billing: upgrade of %s to %s: Stripe answered price %q, pending %q", c.sub.ID, c.price, price, pending)
	}
	return nil
}

func (s *Service) scheduleDowngrade(ctx context.Context, c change) error {
	schedID := ""
	if c.sub.Schedule != nil {
		schedID = c.sub.Schedule.ID
	}
	var phaseStart int64
	if schedID == "" {
		cp := &stripe.SubscriptionScheduleCreateParams{FromSubscription: stripe.String(c.sub.ID)}
		cp.SetIdempotencyKey(attemptKey("schedule", c.sub.ID))
		sched, err := s.stripe.V1SubscriptionSchedules.Create(ctx, cp)
		if err != nil {
			return stripeError("create subscription schedule", err)
		}
		if err := scheduleOf(sched, c.sub.ID); err != nil {
			return err
		}
		schedID = sched.ID
		if len(sched.Phases) > 0 {
			phaseStart = sched.Phases[0].StartDate
		}
	} else {
		sched, err := s.stripe.V1SubscriptionSchedules.Retrieve(ctx, schedID, nil)
		if err != nil {
			return stripeError("fetch subscription schedule", err)
		}
		if err := scheduleOf(sched, c.sub.ID); err != nil {
			return err
		}
		if sched.CurrentPhase != nil {
			phaseStart = sched.CurrentPhase.StartDate
		} else if len(sched.Phases) > 0 {
			phaseStart = sched.Phases[0].StartDate
		}
	}
	if phaseStart == 0 {
		phaseStart = c.item.CurrentPeriodStart
	}
	end := c.item.CurrentPeriodEnd
	next := time.Unix(end, 0).UTC().AddDate(0, 1, 0)
	if c.toInterval == IntervalYear {
		next = time.Unix(end, 0).UTC().AddDate(1, 0, 0)
	}
	// Both phases keep every item (add-ons too): a phase's items replace
	// the subscription's. Only the plan item's price changes.
	var current, after []*stripe.SubscriptionScheduleUpdatePhaseItemParams
	for _, it := range c.sub.Items.Data {
		qty := it.Quantity
		if qty <= 0 {
			qty = 1
		}
		price := it.Price.ID
		current = append(current, &stripe.SubscriptionScheduleUpdatePhaseItemParams{Price: stripe.String(price), Quantity: stripe.Int64(qty)})
		if it.ID == c.item.ID {
			price = c.price
		}
		after = append(after, &stripe.SubscriptionScheduleUpdatePhaseItemParams{Price: stripe.String(price), Quantity: stripe.Int64(qty)})
	}
	up := &stripe.SubscriptionScheduleUpdateParams{
		EndBehavior: stripe.String("release"),
		Phases: []*stripe.SubscriptionScheduleUpdatePhaseParams{
			{Items: current, StartDate: stripe.Int64(phaseStart), EndDate: stripe.Int64(end)},
			{Items: after, EndDate: stripe.Int64(next.Unix()), ProrationBehavior: stripe.String("none")},
		},
	}
	up.AddExpand("phases.items.price")
	up.SetIdempotencyKey(attemptKey("downgrade", schedID))
	sched, err := s.stripe.V1SubscriptionSchedules.Update(ctx, schedID, up)
	if err != nil {
		return stripeError("schedule downgrade", err)
	}
	if err := scheduleOf(sched, c.sub.ID); err != nil {
		return err
	}
	if price, _, at, _ := scheduledPlan(s.Catalog(), sched, time.Unix(end, 0)); price != c.price || at.Unix() != end {
		return fmt.Errorf("billing: downgrade of %s to %s at %d: Stripe's schedule %s changes to %q at %s",
			c.sub.ID, c.price, end, sched.ID, price, at)
	}
	return nil
}

// scheduleOf checks that sched, as Stripe answered it, is a schedule in
// force (not started or active) of subscription subID. A released or
// canceled schedule changes nothing: a change "made" on it is not made.
func scheduleOf(sched *stripe.SubscriptionSchedule, subID string) error {
	live := sched.Status == stripe.SubscriptionScheduleStatusActive || sched.Status == stripe.SubscriptionScheduleStatusNotStarted
	if !live || sched.Subscription == nil || sched.Subscription.ID != subID {
		return fmt.Errorf("billing: Stripe answered subscription schedule %s (%s) for subscription %s: not in force on it",
			sched.ID, sched.Status, subID)
	}
	return nil
}

// attemptKey returns the idempotency key of one attempt at one intent on
// Stripe object id: the intent and the object name it (for whoever reads
// Stripe's request log), a random part makes it this attempt's own.
//
// Stripe replays a key's first response for at least 24 hours, whatever
// happened since (https://docs.stripe.com/api/idempotent_requests). A key
// made only of the intent's parameters (the subscription, its period end)
// was the same for a second downgrade in the same period after a cancel and
// a reactivation, so Stripe answered with the first, released, schedule and
// nothing was scheduled. Stripe recommends random (V4 UUID) keys: stripe-go
// sends the same key on its own network retries of the request, which is
// the duplicate an idempotency key prevents; a retry of the whole action
// re-reads the subscription from Stripe first (planChange), so it cannot
// apply a change twice.
func attemptKey(intent, id string) string {
	return "groundwork-" + intent + "-" + id + "-" + uuid.NewString()
}

func (s *Service) releaseSchedule(ctx context.Context, id string) error {
	p := &stripe.SubscriptionScheduleReleaseParams{}
	p.SetIdempotencyKey(attemptKey("release", id))
	sched, err := s.stripe.V1SubscriptionSchedules.Release(ctx, id, p)
	if err != nil {
		return stripeError("release subscription schedule", err)
	}
	if sched.Status != stripe.SubscriptionScheduleStatusReleased {
		return fmt.Errorf("billing: release of subscription schedule %s: Stripe answered %s", id, sched.Status)
	}
	return nil
}

// KeepPlan drops the organisation's scheduled downgrade: its subscription
// schedule is released, and the subscription renews on the plan it has.
// ECONFLICT: there is no live subscription, or no change is scheduled.
func (s *Service) KeepPlan(ctx context.Context, scope gw.Scope) error {
	if err := authz.Require(scope, authz.BillingManage); err != nil {
		return err
	}
	return s.act(ctx, scope.OrgID, func(a Account) (*audit.Event, string, error) {
		if a.SubscriptionID == "" || !subLive(a.Snapshot.Status) {
			return nil, "", gw.Errorf(gw.ECONFLICT, "This organisation has no subscription.")
		}
		sub, err := s.stripe.V1Subscriptions.Retrieve(ctx, a.SubscriptionID, nil)
		if err != nil {
			return nil, "", stripeError("fetch subscription", err)
		}
		if sub.Schedule == nil || sub.Schedule.ID == "" {
			return nil, "", gw.Errorf(gw.ECONFLICT, "No plan change is scheduled.")
		}
		if err := s.releaseSchedule(ctx, sub.Schedule.ID); err != nil {
			return nil, "", err
		}
		cat := s.Catalog()
		cur, _ := cat.snapshotPlan(a.Snapshot.Plan, a.Snapshot.PriceID)
		scheduled, _ := cat.snapshotPlan(a.ScheduledPlan, a.ScheduledPriceID)
		return &audit.Event{OrgID: scope.OrgID, Actor: scope.Actor, Action: audit.ActionBillingPlanChanged,
			TargetType: audit.TargetSubscription, TargetID: sub.ID,
			Before: map[string]any{"plan": cur.ID, "scheduled_plan": scheduled.ID},
			After:  map[string]any{"plan": cur.ID, "scheduled_plan": nil}}, sub.ID, nil
	})
}

// Cancel cancels the organisation's subscription at the period end: the
// plan paid for stays until then, nothing is refunded or credited. A
// scheduled downgrade is dropped.
func (s *Service) Cancel(ctx context.Context, scope gw.Scope) error {
	return s.setCancelAtPeriodEnd(ctx, scope, true)
}

// Reactivate undoes Cancel before the period ends, and removes a
// cancellation date (cancel_at) set in the Dashboard.
func (s *Service) Reactivate(ctx context.Context, scope gw.Scope) error {
	return s.setCancelAtPeriodEnd(ctx, scope, false)
}

func (s *Service) setCancelAtPeriodEnd(ctx context.Context, scope gw.Scope, cancel bool) error {
	if err := authz.Require(scope, authz.BillingManage); err != nil {
		return err
	}
	return s.act(ctx, scope.OrgID, func(a Account) (*audit.Event, string, error) {
		if a.SubscriptionID == "" || !subLive(a.Snapshot.Status) {
			return nil, "", gw.Errorf(gw.ECONFLICT, "This organisation has no subscription.")
		}
		sub, err := s.stripe.V1Subscriptions.Retrieve(ctx, a.SubscriptionID, nil)
		if err != nil {
			return nil, "", stripeError("fetch subscription", err)
		}
		// A cancel_at date (set in the Dashboard) ends it as
		// cancel_at_period_end does (https://docs.stripe.com/billing/subscriptions/cancel#cancel-at).
		dated := !sub.CancelAtPeriodEnd && sub.CancelAt > 0
		switch {
		case !subLive(sub.Status):
			return nil, "", gw.Errorf(gw.ECONFLICT, "The subscription has ended: choose a plan to subscribe again.")
		case sub.CancelAtPeriodEnd == cancel && cancel:
			return nil, "", gw.Errorf(gw.ECONFLICT, "The subscription already ends at the period end.")
		case cancel && dated:
			return nil, "", gw.Errorf(gw.ECONFLICT, "The subscription already ends on %s.", cancelAt(sub).Format("2 January 2006"))
		case sub.CancelAtPeriodEnd == cancel && !dated:
			return nil, "", gw.Errorf(gw.ECONFLICT, "The subscription is not set to end: there is nothing to reactivate.")
		}
		if cancel && sub.Schedule != nil && sub.Schedule.ID != "" {
			if err := s.releaseSchedule(ctx, sub.Schedule.ID); err != nil {
				return nil, "", err
			}
		}
		p := &stripe.SubscriptionUpdateParams{CancelAtPeriodEnd: stripe.Bool(cancel)}
		if dated {
			p = &stripe.SubscriptionUpdateParams{}
			p.AddUnsetField(stripe.SubscriptionUpdateParamsUnsetFieldCancelAt) // cancel_at="" removes the date
		}
		p.SetIdempotencyKey(attemptKey(map[bool]string{true: "cancel", false: "reactivate"}[cancel], sub.ID))
		updated, err := s.stripe.V1Subscriptions.Update(ctx, sub.ID, p)
		if err != nil {
			return nil, "", stripeError("update subscription", err)
		}
		if updated.CancelAtPeriodEnd != cancel || (!cancel && updated.CancelAt != 0) {
			return nil, "", fmt.Errorf("billing: set cancel_at_period_end=%t on %s: Stripe answered %t (cancel_at %d)",
				cancel, sub.ID, updated.CancelAtPeriodEnd, updated.CancelAt)
		}
		action := audit.ActionBillingCanceled
		if !cancel {
			action = audit.ActionBillingReactivated
		}
		return &audit.Event{OrgID: scope.OrgID, Actor: scope.Actor, Action: action,
			TargetType: audit.TargetSubscription, TargetID: sub.ID,
			Before: map[string]any{"cancel_at_period_end": !cancel}, After: map[string]any{"cancel_at_period_end": cancel}}, sub.ID, nil
	})
}
