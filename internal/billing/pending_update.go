package billing

import (
	"time"

	"github.com/stripe/stripe-go/v85"
)

// An upgrade is made with payment_behavior=pending_if_incomplete: Stripe
// applies it only once its invoice is paid, and if that invoice is not
// paid by the pending update's expires_at (23 hours later), Stripe
// discards the update and voids the invoice
// (customer.subscription.pending_update_expired;
// https://docs.stripe.com/billing/subscriptions/pending-updates). The
// payment-failed email of such an invoice says so instead of promising a
// retry (failedPlanChangeMessage).

// pendingExpiry is when Stripe discards sub's pending update if in is the
// invoice it waits for (sub's latest invoice, of a plan change); zero
// otherwise.
func pendingExpiry(sub *stripe.Subscription, in *stripe.Invoice) time.Time {
	if sub == nil || sub.PendingUpdate == nil || sub.PendingUpdate.ExpiresAt <= 0 || sub.LatestInvoice == nil ||
		sub.LatestInvoice.ID != in.ID || in.BillingReason != stripe.InvoiceBillingReasonSubscriptionUpdate {
		return time.Time{}
	}
	return time.Unix(sub.PendingUpdate.ExpiresAt, 0).UTC()
}
