package billing

import (
	"context"
	"fmt"

	"github.com/stripe/stripe-go/v85"

	"github.com/groundwork-dev/groundwork/internal/audit"
	"github.com/groundwork-dev/groundwork/internal/authz"
	"github.com/groundwork-dev/groundwork/internal/gw"
)

// Resume resumes the organisation's paused subscription (a trial that ended
// without a payment method, with Stripe's trial_settings set to pause):
// Stripe starts a new billing period now and invoices it
// (POST /v1/subscriptions/{id}/resume, billing_cycle_anchor=now;
// https://docs.stripe.com/api/subscriptions/resume). Paid, the
// subscription is active and the plan applies; failed, it is past_due and
// the grace period starts. The customer adds a payment method in the
// billing portal first. ECONFLICT: there is no paused subscription.
func (s *Service) Resume(ctx context.Context, scope gw.Scope) error {
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
		if sub.Status != stripe.SubscriptionStatusPaused {
			return nil, "", gw.Errorf(gw.ECONFLICT, "The subscription is %s, not paused: there is nothing to resume.", sub.Status)
		}
		p := &stripe.SubscriptionResumeParams{BillingCycleAnchor: stripe.String("now")}
		p.SetIdempotencyKey(attemptKey("resume", sub.ID))
		resumed, err := s.stripe.V1Subscriptions.Resume(ctx, sub.ID, p)
		if err != nil {
			return nil, "", stripeError("resume subscription", err)
		}
		if resumed.Status == stripe.SubscriptionStatusPaused || !subLive(resumed.Status) {
			return nil, "", fmt.Errorf("billing: resume of %s: Stripe answered status %s", sub.ID, resumed.Status)
		}
		return &audit.Event{OrgID: scope.OrgID, Actor: scope.Actor, Action: audit.ActionBillingResumed,
			TargetType: audit.TargetSubscription, TargetID: sub.ID,
			Before: map[string]any{"status": sub.Status}, After: map[string]any{"status": resumed.Status}}, sub.ID, nil
	})
}

// Paused reports whether the account's subscription is paused (a trial
// ended without a payment method): the billing page offers Resume.
func (a Account) Paused() bool { return a.Snapshot.Status == stripe.SubscriptionStatusPaused }
