package billing

import (
	"fmt"
	"time"

	"github.com/stripe/stripe-go/v85"

	"github.com/groundwork-dev/groundwork/internal/gw"
)

// Access is how far an organisation may use the product.
type Access string

// Access levels, from most to least.
const (
	// AccessFull: everything the plan includes.
	AccessFull Access = "full"
	// AccessBanner: everything the plan includes, with a banner asking to
	// fix a failed payment before the grace period ends.
	AccessBanner Access = "full_with_banner"
	// AccessReadOnly: restricted. The organisation's data is kept and can be
	// read and exported, but nothing can be created or changed until billing
	// is fixed.
	AccessReadOnly Access = "read_only"
)

// Label is the access level as the billing page shows it.
func (a Access) Label() string {
	switch a {
	case AccessFull:
		return "Full"
	case AccessBanner:
		return "Full, until the grace period ends"
	default:
		return "Read-only"
	}
}

// rank orders access levels: a higher rank is more restricted.
func (a Access) rank() int {
	switch a {
	case AccessFull:
		return 0
	case AccessBanner:
		return 1
	default:
		return 2
	}
}

// Snapshot is what the application knows of an organisation's subscription:
// the fields of billing_accounts that the worker copied from Stripe. The
// zero Snapshot is an organisation without a subscription.
type Snapshot struct {
	// Status is Stripe's subscription status; "" when there is none.
	Status stripe.SubscriptionStatus
	// PriceID is the price of the subscription's plan item: the price
	// Stripe shows the organisation subscribed (and, unless incomplete,
	// paid) for.
	PriceID string
	// Plan and Interval are the plan and interval the catalogue resolved
	// from the subscription's items at the sync (Catalog.Resolve); Plan
	// "" in a row stored before plans were resolved, whose PriceID is
	// looked up instead (Catalog.ByPrice).
	Plan     PlanID
	Interval Interval
	// PendingPlan is the plan of PendingPriceID, resolved likewise.
	PendingPlan PlanID
	// PendingPriceID is the price of a pending update made with
	// payment_behavior=pending_if_incomplete: Stripe applies it only once
	// its invoice is paid, so it grants nothing yet.
	PendingPriceID string
	// CurrentPeriodEnd is the end of the period paid for.
	CurrentPeriodEnd time.Time
	// CancelAtPeriodEnd says the subscription ends at CurrentPeriodEnd.
	CancelAtPeriodEnd bool
	// CancelAt is when Stripe cancels the subscription (its cancel_at): a
	// date set in the Dashboard or the API, or the period end when
	// CancelAtPeriodEnd; zero when it is not set to end.
	CancelAt time.Time
	// FinalizationFailedAt is when Stripe first failed to finalise the
	// latest invoice (Stripe Tax needs the customer's location), while it
	// stays a draft; zero otherwise. Nothing is charged meanwhile, so the
	// grace period starts GracePolicy.FinalizationDays after it.
	FinalizationFailedAt time.Time
	// FirstPaymentFailedAt is when the first payment of the current dunning
	// cycle failed, as stored when the failure was processed; zero when no
	// payment is failing. The grace period is counted from it.
	FirstPaymentFailedAt time.Time
	// LatestInvoiceStatus is the status of the subscription's latest invoice.
	LatestInvoiceStatus stripe.InvoiceStatus
}

// DefaultGraceDays is the grace period after a failed payment when
// GROUNDWORK_BILLING_GRACE_DAYS is not set.
const DefaultGraceDays = 7

// DefaultFinalizationDays is how long an invoice may fail to finalise
// before the grace period starts, when GracePolicy.FinalizationDays is not
// set.
const DefaultFinalizationDays = 3

// GracePolicy says how long an organisation keeps full access after a
// payment fails.
type GracePolicy struct {
	// GraceDays counts from Snapshot.FirstPaymentFailedAt; zero or less
	// means DefaultGraceDays.
	GraceDays int
	// FinalizationDays is how long the latest invoice may fail to finalise
	// (Snapshot.FinalizationFailedAt) before the grace period starts; zero
	// or less means DefaultFinalizationDays.
	FinalizationDays int
}

// finalizationPeriod is FinalizationDays as a duration.
func (p GracePolicy) finalizationPeriod() time.Duration {
	days := p.FinalizationDays
	if days <= 0 {
		days = DefaultFinalizationDays
	}
	return time.Duration(days) * 24 * time.Hour
}

func (p GracePolicy) period() time.Duration {
	days := p.GraceDays
	if days <= 0 {
		days = DefaultGraceDays
	}
	return time.Duration(days) * 24 * time.Hour
}

// DisputeStatus is where the organisation's latest dispute stands.
type DisputeStatus string

// Dispute statuses. Stripe's many open states (warning_needs_response,
// needs_response, under_review, ...) are folded into DisputeInquiry (a
// warning_* state, no funds moved) and DisputeOpen.
const (
	DisputeNone    DisputeStatus = ""
	DisputeInquiry DisputeStatus = "inquiry"
	DisputeOpen    DisputeStatus = "open"
	DisputeWon     DisputeStatus = "won"
	DisputeLost    DisputeStatus = "lost"
)

// LostDisputePolicy says what a lost dispute does to the organisation.
type LostDisputePolicy string

// Lost dispute policies.
const (
	// LostDisputeRestrict makes the organisation read-only (the default).
	LostDisputeRestrict LostDisputePolicy = ""
	// LostDisputeKeep keeps the subscription's entitlements.
	LostDisputeKeep LostDisputePolicy = "keep"
	// LostDisputeFree drops the organisation to the free plan.
	LostDisputeFree LostDisputePolicy = "free"
)

// DisputeState is the organisation's dispute flags (stored in
// billing_accounts) with the configured policy for them.
type DisputeState struct {
	Status DisputeStatus
	// FundsWithdrawn says Stripe took the disputed amount back from the
	// balance (charge.dispute.funds_withdrawn).
	FundsWithdrawn bool
	// AllowWhileOpen keeps access while a dispute with funds withdrawn is
	// open; by default the organisation is read-only until it is closed.
	AllowWhileOpen bool
	// OnLost is the policy for a lost dispute.
	OnLost LostDisputePolicy
}

// Entitlements are what an organisation may do now.
type Entitlements struct {
	// OrgID is the organisation; refusals point to its billing page. It is
	// set by Policy (Compute leaves it empty).
	OrgID string
	// Plan is the effective plan; Limits are its limits.
	Plan   PlanID
	Limits Limits
	Access Access
	// Reason says in a sentence why, for the billing page and the logs.
	Reason string
	// GraceEndsAt is when the grace period ends (or ended); zero outside dunning.
	GraceEndsAt time.Time
	// PendingPlan is the plan of an upgrade awaiting payment; "" if none.
	PendingPlan PlanID
	// InvoiceNotFinalised says the latest invoice cannot be finalised
	// (Stripe Tax needs the billing address): GraceEndsAt counts from that,
	// not from a failed payment.
	InvoiceNotFinalised bool
	// Subscribed says a subscription is live and not set to end: Stripe
	// will keep charging, so the organisation must not be deleted before
	// it is cancelled.
	Subscribed bool
}

// Compute returns the entitlements of an organisation from its subscription
// snapshot, the grace policy, its dispute state and the time. It is a pure
// function: it reads no clock and no database, so event order and
// duplicates cannot change its outcome once the snapshot is current.
//
// The rules, in order:
//   - no subscription, canceled or incomplete_expired: the free plan;
//   - incomplete (first payment not made): the free plan until it is paid;
//   - active or trialing: the subscribed plan, and the free plan once a
//     cancel_at_period_end subscription's period is over or its cancel_at
//     date has passed (in case the cancellation event is late); an upgrade
//     pending payment grants nothing; an invoice Stripe could not finalise
//     for FinalizationDays starts the grace period as a failed payment does;
//   - past_due: the plan with a banner until GraceDays after the stored
//     first failure, read-only after;
//   - unpaid (retries exhausted) or paused (trial ended without a payment
//     method): read-only;
//   - then disputes: one with funds withdrawn makes the organisation
//     read-only unless AllowWhileOpen; lost applies OnLost; an inquiry or a
//     won dispute changes nothing.
//
// The plan is the one resolved at the sync (Snapshot.Plan), which keeps a
// paying customer's plan when a price the catalogue does not know appears
// (withPlans, with an alert); a stored price no plan has, with no plan
// resolved, grants the free plan: a misconfigured price must not grant
// more than was paid for.
func (c *Catalog) Compute(s Snapshot, p GracePolicy, d DisputeState, now time.Time) Entitlements {
	e := c.fromSubscription(s, p, now)
	e.Subscribed = subLive(s.Status) && s.endsAt().IsZero()
	switch {
	case d.Status == DisputeOpen && d.FundsWithdrawn && !d.AllowWhileOpen:
		e.restrict("a payment is disputed and its funds were withdrawn")
	case d.Status == DisputeLost && d.OnLost == LostDisputeRestrict:
		e.restrict("a payment dispute was lost")
	case d.Status == DisputeLost && d.OnLost == LostDisputeFree:
		free := c.Free()
		e.Plan, e.Limits, e.PendingPlan = free.ID, free.Limits, ""
		e.Reason += "; a payment dispute was lost: free plan"
	}
	return e
}

// restrict makes e read-only, keeping the more restricted of the two.
func (e *Entitlements) restrict(why string) {
	if e.Access.rank() < AccessReadOnly.rank() {
		e.Access = AccessReadOnly
	}
	e.Reason += "; " + why
}

func (c *Catalog) fromSubscription(s Snapshot, p GracePolicy, now time.Time) Entitlements {
	free := func(reason string) Entitlements {
		f := c.Free()
		return Entitlements{Plan: f.ID, Limits: f.Limits, Access: AccessFull, Reason: reason}
	}
	paid := func(access Access, reason string) Entitlements {
		plan, ok := c.snapshotPlan(s.Plan, s.PriceID)
		if !ok {
			if s.Plan != "" {
				return free(fmt.Sprintf("plan %q is not in the catalogue: free plan", s.Plan))
			}
			return free(fmt.Sprintf("unknown Stripe price %q: free plan", s.PriceID))
		}
		e := Entitlements{Plan: plan.ID, Limits: plan.Limits, Access: access, Reason: reason}
		if s.PendingPriceID != "" && s.PendingPriceID != s.PriceID {
			if pending, ok := c.snapshotPlan(s.PendingPlan, s.PendingPriceID); ok {
				e.PendingPlan = pending.ID
				e.Reason += fmt.Sprintf("; change to %s awaits payment", pending.Name)
			}
		}
		return e
	}

	switch s.Status {
	case "":
		return free("no subscription")
	case stripe.SubscriptionStatusCanceled:
		return free("subscription canceled")
	case stripe.SubscriptionStatusIncompleteExpired:
		return free("first payment never completed")
	case stripe.SubscriptionStatusIncomplete:
		return free(PaymentProcessingReason)
	case stripe.SubscriptionStatusActive, stripe.SubscriptionStatusTrialing:
		if ends := s.endsAt(); !ends.IsZero() && !now.Before(ends) {
			if s.CancelAtPeriodEnd {
				return free("subscription ended at period end")
			}
			return free("subscription ended on its cancellation date")
		}
		reason := "subscription active"
		if s.Status == stripe.SubscriptionStatusTrialing {
			reason = "trial"
		}
		switch {
		case s.CancelAtPeriodEnd:
			reason += ", ends at period end"
		case !s.CancelAt.IsZero():
			reason += ", ends on " + s.CancelAt.Format("2 January 2006")
		}
		if !s.FinalizationFailedAt.IsZero() {
			return finalizationGrace(paid, s.FinalizationFailedAt, p, now, reason)
		}
		return paid(AccessFull, reason)
	case stripe.SubscriptionStatusPastDue:
		if s.FirstPaymentFailedAt.IsZero() {
			// The failure has not been recorded yet: grace has not started.
			return paid(AccessBanner, "payment failed: grace period")
		}
		ends := s.FirstPaymentFailedAt.Add(p.period())
		var e Entitlements
		if now.Before(ends) {
			e = paid(AccessBanner, "payment failed: grace period")
		} else {
			e = paid(AccessReadOnly, "a payment failed and the grace period is over")
		}
		if e.Plan != PlanFree {
			e.GraceEndsAt = ends
		}
		return e
	case stripe.SubscriptionStatusUnpaid:
		return paid(AccessReadOnly, "payment retries are exhausted")
	case stripe.SubscriptionStatusPaused:
		return paid(AccessReadOnly, "the trial ended without a payment method")
	default:
		return free(fmt.Sprintf("unknown subscription status %q: free plan", s.Status))
	}
}

// endsAt is when the subscription is set to end: its cancel_at, else the
// period end of cancel_at_period_end; zero when it is not set to end.
func (s Snapshot) endsAt() time.Time {
	switch {
	case !s.CancelAt.IsZero():
		return s.CancelAt
	case s.CancelAtPeriodEnd:
		return s.CurrentPeriodEnd
	}
	return time.Time{}
}

// finalizationGrace is the entitlements of a live subscription whose latest
// invoice Stripe has failed to finalise since failedAt: full access for
// FinalizationDays (the customer is asked to fix the billing address), then
// a grace period of GraceDays with a banner, then read-only. Without it an
// organisation whose location Stripe Tax cannot determine is never charged
// and never restricted.
func finalizationGrace(paid func(Access, string) Entitlements, failedAt time.Time, p GracePolicy, now time.Time, reason string) Entitlements {
	starts := failedAt.Add(p.finalizationPeriod())
	ends := starts.Add(p.period())
	why := "; the invoice cannot be finalised: Stripe needs the billing address to compute tax"
	var e Entitlements
	switch {
	case now.Before(starts):
		e = paid(AccessFull, reason+why)
		e.InvoiceNotFinalised = true
		return e
	case now.Before(ends):
		e = paid(AccessBanner, reason+why+": grace period")
	default:
		e = paid(AccessReadOnly, reason+why+" and the grace period is over")
	}
	if e.Plan != PlanFree {
		e.GraceEndsAt = ends
	}
	e.InvoiceNotFinalised = true
	return e
}

// BillingPage is the path of the organisation's billing page, which shows
// its plan and where a limit can be raised; refusals point to it.
func BillingPage(orgID string) string { return "/o/" + orgID + "/billing" }

func (e Entitlements) billingPage() string {
	if e.OrgID == "" {
		return "the organisation's billing page"
	}
	return BillingPage(e.OrgID)
}

// CheckWrite refuses a change when the organisation is read-only.
func (e Entitlements) CheckWrite() error {
	if e.Access == AccessReadOnly {
		return gw.Errorf(gw.EFORBIDDEN, "This organisation is read-only: %s. See %s.", e.Reason, e.billingPage())
	}
	return nil
}

// CheckSeats refuses adding a member to an organisation with used seats.
func (e Entitlements) CheckSeats(used int) error {
	if err := e.CheckWrite(); err != nil {
		return err
	}
	if used >= e.Limits.Seats {
		return gw.Errorf(gw.EFORBIDDEN, "Your plan includes %d seats, all in use. Upgrade at %s.", e.Limits.Seats, e.billingPage())
	}
	return nil
}

// CheckContacts refuses adding n contacts to an organisation holding used.
func (e Entitlements) CheckContacts(used, n int) error {
	if err := e.CheckWrite(); err != nil {
		return err
	}
	if used+n > e.Limits.Contacts {
		return gw.Errorf(gw.EFORBIDDEN, "Your plan includes %d contacts and %d are in use. Upgrade at %s.", e.Limits.Contacts, used, e.billingPage())
	}
	return nil
}

// snapshotPlan is the plan a snapshot names: plan when set (resolved at the
// sync), else the plan of price by its catalogue ID (a row stored before
// plans were resolved).
func (c *Catalog) snapshotPlan(plan PlanID, price string) (Plan, bool) {
	if plan != "" {
		p, ok := c.Plan(plan)
		return p, ok && !p.Free()
	}
	p, _, ok := c.ByPrice(price)
	return p, ok
}
