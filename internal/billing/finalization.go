package billing

import (
	"time"

	"github.com/stripe/stripe-go/v85"
)

// An invoice Stripe cannot finalise stays a draft: with automatic tax,
// Stripe Tax needs the customer's location, and while it is missing the
// renewal invoice is neither finalised nor charged, so the subscription
// stays active and no payment ever fails
// (https://docs.stripe.com/tax/customer-locations#address-validation,
// https://docs.stripe.com/api/invoices/object#invoice_object-last_finalization_error).
// The account records when finalisation first failed; the entitlements
// start the grace period GracePolicy.FinalizationDays after it
// (finalizationGrace).

// finalizationFailed reports whether inv is a draft whose finalisation
// Stripe attempted and failed.
func finalizationFailed(inv *stripe.Invoice) bool {
	return inv != nil && inv.Status == stripe.InvoiceStatusDraft && inv.LastFinalizationError != nil
}

// finalizationFailedAt is the account's FinalizationFailedAt after a sync
// of prev that read the latest invoice inv: kept while the same invoice
// stays unfinalised; for a newly failed invoice, its creation (Stripe's
// time, never "now", and the same whichever event or sync sees it first:
// a renewal is drafted about an hour before Stripe tries to finalise it);
// zero once it is finalised or replaced by one that was.
func finalizationFailedAt(prev Account, inv *stripe.Invoice) time.Time {
	if !finalizationFailed(inv) {
		return time.Time{}
	}
	if prev.LatestInvoiceID == inv.ID && !prev.Snapshot.FinalizationFailedAt.IsZero() {
		return prev.Snapshot.FinalizationFailedAt
	}
	return time.Unix(inv.Created, 0).UTC()
}

// cancelAt is when Stripe cancels sub (its cancel_at: a date set in the
// Dashboard or the API, or the period end of cancel_at_period_end); zero
// when it is not set to end
// (https://docs.stripe.com/billing/subscriptions/cancel#cancel-at).
func cancelAt(sub *stripe.Subscription) time.Time {
	if sub.CancelAt <= 0 {
		return time.Time{}
	}
	return time.Unix(sub.CancelAt, 0).UTC()
}
