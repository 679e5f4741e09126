package billing

import (
	"context"

	"github.com/stripe/stripe-go/v85"

	"github.com/groundwork-dev/groundwork/internal/authz"
	"github.com/groundwork-dev/groundwork/internal/gw"
)

// A checkout paid with a delayed notification payment method (SEPA Direct
// Debit, ACH Direct Debit) completes before the payment is known: the
// customer returns to the success page while the subscription is
// incomplete and its first invoice open, and Stripe later sends
// checkout.session.async_payment_succeeded or
// checkout.session.async_payment_failed
// (https://docs.stripe.com/payments/checkout/fulfill-orders#delayed-notification).
// Those events name the Checkout Session and are synced like every other
// (process_event.go); the plan starts once Stripe shows the invoice paid.
// A card declined in Checkout never reaches the success page (the session
// stays open), so an incomplete subscription there is a payment processing.

// PaymentProcessingReason is the entitlements' reason while the first
// payment of a subscription is not confirmed (status incomplete).
const PaymentProcessingReason = "payment processing: the plan starts once the payment is confirmed"

// CheckoutOutcome is what the checkout success page tells the user.
type CheckoutOutcome string

// Checkout outcomes.
const (
	// CheckoutSubscribed: the subscription is live (paid, or a trial).
	CheckoutSubscribed CheckoutOutcome = "subscribed"
	// CheckoutProcessing: the payment is processing (a delayed
	// notification payment method); the plan starts once it succeeds.
	CheckoutProcessing CheckoutOutcome = "processing"
)

// FinishCheckoutOutcome is FinishCheckout followed by what the user should
// be told: CheckoutProcessing while the subscription is incomplete (the
// payment is processing), CheckoutSubscribed otherwise. It returns
// FinishCheckout's errors.
func (s *Service) FinishCheckoutOutcome(ctx context.Context, scope gw.Scope, sessionID string) (CheckoutOutcome, error) {
	if err := authz.Require(scope, authz.BillingManage); err != nil {
		return "", err
	}
	if err := s.FinishCheckout(ctx, scope, sessionID); err != nil {
		return "", err
	}
	a, err := s.syncer.Account(ctx, scope.OrgID)
	if err != nil {
		return "", err
	}
	if a.Snapshot.Status == stripe.SubscriptionStatusIncomplete {
		return CheckoutProcessing, nil
	}
	return CheckoutSubscribed, nil
}
