package stripefake

import (
	"fmt"

	"github.com/stripe/stripe-go/v85"
)

// Asynchronous (delayed notification) payment methods, such as SEPA Direct
// Debit and ACH: Checkout completes before the payment is known
// (checkout.session.completed with payment_status=unpaid), the
// subscription is incomplete with its first invoice open while the payment
// processes, and Stripe later sends checkout.session.async_payment_succeeded
// (invoice paid, subscription active, payment_status=paid) or
// checkout.session.async_payment_failed (the invoice's payment failed; the
// subscription stays incomplete until it expires)
// (https://docs.stripe.com/payments/checkout/fulfill-orders#delayed-notification,
// https://docs.stripe.com/billing/subscriptions/overview#payment-status).

// completeAsync completes session cs whose first invoice inv of subscription
// sub is paid with a delayed notification payment method: the session is
// complete and unpaid, the subscription incomplete, the invoice open. The
// caller holds s.mu.
func (s *Server) completeAsync(cs *stripe.CheckoutSession, sub *stripe.Subscription, inv *stripe.Invoice) {
	s.asyncSessions[cs.ID] = true
	cs.Status = stripe.CheckoutSessionStatusComplete
	cs.PaymentStatus = stripe.CheckoutSessionPaymentStatusUnpaid
	if cs.AutomaticTax.Enabled {
		cs.AutomaticTax.Status = stripe.CheckoutSessionAutomaticTaxStatusComplete
	}
	cs.Subscription = &stripe.Subscription{ID: sub.ID}
	cs.Invoice = &stripe.Invoice{ID: inv.ID}
	inv.Attempted = true
	s.emit("checkout.session.completed", "checkout.session", cs, nil)
}

// SettleAsyncPayment ends the processing payment of a Checkout Session
// completed with CheckoutOutcome.AsyncPayment: succeeded pays its invoice
// (the subscription becomes active) and sends
// checkout.session.async_payment_succeeded; otherwise the payment fails
// (invoice.payment_failed, the subscription stays incomplete) and
// checkout.session.async_payment_failed is sent.
func (s *Server) SettleAsyncPayment(sessionID string, succeeded bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	cs := s.sessions[sessionID]
	if cs == nil || !s.asyncSessions[sessionID] || cs.Invoice == nil {
		return fmt.Errorf("stripefake: checkout session %q has no processing payment", sessionID)
	}
	inv, err := s.openInvoice(cs.Invoice.ID)
	if err != nil {
		return err
	}
	delete(s.asyncSessions, sessionID)
	if succeeded {
		s.pay(inv)
		cs.PaymentStatus = stripe.CheckoutSessionPaymentStatusPaid
		s.emit("checkout.session.async_payment_succeeded", "checkout.session", cs, nil)
		return nil
	}
	s.fail(inv, false)
	s.emit("checkout.session.async_payment_failed", "checkout.session", cs, nil)
	return nil
}
