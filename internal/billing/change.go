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
	Interval Interval
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
	interval Interval
	price    string
	upgrade  bool
}

// planChange checks that the organisation's subscription can move to plan
// and re-fetches it from Stripe.
func (s *Service) planChange(ctx context.Context, a Account, to PlanID) (change, error) {
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
	case sub.Items == nil || len(sub.Items.Data) != 1 || sub.Items.Data[0].Price == nil:
		return c, fmt.Errorf("billing: subscription %s does not have exactly one item", sub.ID)
	}
	c.sub, c.item = sub, sub.Items.Data[0]
	from, iv, ok := cat.ByPrice(c.item.Price.ID)
	if !ok {
		return c, fmt.Errorf("billing: subscription %s has price %s, which no plan has", sub.ID, c.item.Price.ID)
	}
	if from.ID == toPlan.ID {
		return c, gw.Errorf(gw.EINVALID, "This organisation is already on the %s plan.", toPlan.Name)
	}
	c.from, c.to, c.interval = from, toPlan, iv
	c.price, _ = cat.Price(toPlan.ID, iv)
	c.upgrade = cat.rank(toPlan.ID) > cat.rank(from.ID)
	return c, nil
}

// PreviewChange previews moving the organisation's subscription to plan
// (same billing interval). An upgrade is previewed with
// invoices.create_preview at a fixed proration date, which ChangePlan must
// be given back.
func (s *Service) PreviewChange(ctx context.Context, scope gw.Scope, to PlanID) (ChangePreview, error) {
	if err := authz.Require(scope, authz.BillingManage); err != nil {
		return ChangePreview{}, err
	}
	a, err := s.syncer.Account(ctx, scope.OrgID)
	if err != nil {
		return ChangePreview{}, err
	}
	c, err := s.planChange(ctx, a, to)
	if err != nil {
		return ChangePreview{}, err
	}
	p := ChangePreview{From: c.from, To: c.to, Interval: c.interval, Upgrade: c.upgrade,
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
	if err := authz.Require(scope, authz.BillingManage); err != nil {
		return err
	}
	return s.act(ctx, scope.OrgID, func(a Account) (*audit.Event, string, error) {
		c, err := s.planChange(ctx, a, to)
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
			After:  map[string]any{"plan": c.to.ID, "interval": c.interval, "upgrade": c.upgrade}}, c.sub.ID, nil
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
	if price, _ := itemPrice(sub); price != c.price && pendingPrice(sub) != c.price {
		return fmt.Errorf("billing: upgrade of %s to %s: Stripe answered price %q, pending %q", c.sub.ID, c.price, price, pendingPrice(sub))
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
	qty := c.item.Quantity
	if qty <= 0 {
		qty = 1
	}
	next := time.Unix(end, 0).UTC().AddDate(0, 1, 0)
	if c.interval == IntervalYear {
		next = time.Unix(end, 0).UTC().AddDate(1, 0, 0)
	}
	up := &stripe.SubscriptionScheduleUpdateParams{
		EndBehavior: stripe.String("release"),
		Phases: []*stripe.SubscriptionScheduleUpdatePhaseParams{
			{Items: []*stripe.SubscriptionScheduleUpdatePhaseItemParams{{Price: stripe.String(c.item.Price.ID), Quantity: stripe.Int64(qty)}},
				StartDate: stripe.Int64(phaseStart), EndDate: stripe.Int64(end)},
			{Items: []*stripe.SubscriptionScheduleUpdatePhaseItemParams{{Price: stripe.String(c.price), Quantity: stripe.Int64(qty)}},
				EndDate: stripe.Int64(next.Unix()), ProrationBehavior: stripe.String("none")},
		},
	}
	up.SetIdempotencyKey(attemptKey("downgrade", schedID))
	sched, err := s.stripe.V1SubscriptionSchedules.Update(ctx, schedID, up)
	if err != nil {
		return stripeError("schedule downgrade", err)
	}
	if err := scheduleOf(sched, c.sub.ID); err != nil {
		return err
	}
	if price, at := scheduledChange(sched, time.Unix(end, 0)); price != c.price || at.Unix() != end {
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
		cur, _, _ := cat.ByPrice(a.Snapshot.PriceID)
		scheduled, _, _ := cat.ByPrice(a.ScheduledPriceID)
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

// Reactivate undoes Cancel before the period ends.
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
		switch {
		case !subLive(sub.Status):
			return nil, "", gw.Errorf(gw.ECONFLICT, "The subscription has ended: choose a plan to subscribe again.")
		case sub.CancelAtPeriodEnd == cancel && cancel:
			return nil, "", gw.Errorf(gw.ECONFLICT, "The subscription already ends at the period end.")
		case sub.CancelAtPeriodEnd == cancel:
			return nil, "", gw.Errorf(gw.ECONFLICT, "The subscription is not set to end: there is nothing to reactivate.")
		}
		if cancel && sub.Schedule != nil && sub.Schedule.ID != "" {
			if err := s.releaseSchedule(ctx, sub.Schedule.ID); err != nil {
				return nil, "", err
			}
		}
		p := &stripe.SubscriptionUpdateParams{CancelAtPeriodEnd: stripe.Bool(cancel)}
		p.SetIdempotencyKey(attemptKey(map[bool]string{true: "cancel", false: "reactivate"}[cancel], sub.ID))
		updated, err := s.stripe.V1Subscriptions.Update(ctx, sub.ID, p)
		if err != nil {
			return nil, "", stripeError("update subscription", err)
		}
		if updated.CancelAtPeriodEnd != cancel {
			return nil, "", fmt.Errorf("billing: set cancel_at_period_end=%t on %s: Stripe answered %t", cancel, sub.ID, updated.CancelAtPeriodEnd)
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
