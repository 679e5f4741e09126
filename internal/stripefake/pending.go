package stripefake

import (
	"fmt"
	"time"

	"github.com/stripe/stripe-go/v85"
)

// Pending updates (payment_behavior=pending_if_incomplete), as documented
// at https://docs.stripe.com/billing/subscriptions/pending-updates: the
// update applies only once its invoice is paid; if it is not paid by the
// pending update's expires_at (23 hours), Stripe discards the update,
// voids the invoice and sends customer.subscription.pending_update_expired.

// ExpirePendingUpdate moves the clock to the subscription's pending update's
// expires_at (unless it is past it) and expires it: the invoice is voided
// (invoice.voided), the update discarded, and
// customer.subscription.pending_update_expired and
// customer.subscription.updated are sent.
func (s *Server) ExpirePendingUpdate(subID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	sub := s.subs[subID]
	pu, ok := s.pendingUpdates[subID]
	if sub == nil || !ok || sub.PendingUpdate == nil {
		return fmt.Errorf("stripefake: subscription %q has no pending update", subID)
	}
	if at := time.Unix(sub.PendingUpdate.ExpiresAt, 0).UTC(); s.now.Before(at) {
		s.now = at
	}
	if inv := s.invoices[pu.invoice]; inv != nil && inv.Status == stripe.InvoiceStatusOpen {
		inv.Status = stripe.InvoiceStatusVoid
		inv.NextPaymentAttempt = 0
		inv.StatusTransitions.VoidedAt = s.unix()
		s.emit("invoice.voided", "invoice", inv, nil)
	}
	prev := s.render("subscription", sub, nil)
	sub.PendingUpdate = nil
	delete(s.pendingUpdates, subID)
	s.emit("customer.subscription.pending_update_expired", "subscription", sub, prev)
	s.emitUpdated(sub, prev)
	return nil
}
