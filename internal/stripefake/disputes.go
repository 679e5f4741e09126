package stripefake

import (
	"fmt"

	"github.com/stripe/stripe-go/v85"
)

// Dispute lifecycles beyond OpenDispute and CloseDispute, as documented at
// https://docs.stripe.com/disputes/how-disputes-work: an inquiry
// (warning_needs_response, no funds moved) can be escalated by the issuer
// to a chargeback (needs_response, funds withdrawn:
// charge.dispute.updated and charge.dispute.funds_withdrawn); and a
// dispute resolved by a prevention program (Visa Rapid Dispute
// Resolution, refunded at once) has status prevented
// (https://docs.stripe.com/disputes/prevention/rapid-dispute-resolution).
// Each charge keeps its own disputes.

// EscalateInquiry turns an open inquiry into a chargeback: status
// needs_response, the amount withdrawn, charge.dispute.updated and
// charge.dispute.funds_withdrawn.
func (s *Server) EscalateInquiry(disputeID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.disputes[disputeID]
	if d == nil {
		return fmt.Errorf("stripefake: no dispute %q", disputeID)
	}
	if d.Status != stripe.DisputeStatusWarningNeedsResponse && d.Status != stripe.DisputeStatusWarningUnderReview {
		return fmt.Errorf("stripefake: dispute %s is %s, not an open inquiry", disputeID, d.Status)
	}
	prev := s.render("dispute", d, nil)
	d.Status = stripe.DisputeStatusNeedsResponse
	d.BalanceTransactions = append(d.BalanceTransactions, &stripe.BalanceTransaction{ID: s.newID("txn"), Amount: -d.Amount})
	s.emit("charge.dispute.updated", "dispute", d, prev)
	s.emit("charge.dispute.funds_withdrawn", "dispute", d, nil)
	return nil
}

// PreventDispute records a dispute on a charge that a prevention program
// resolved at once (status prevented, no funds withdrawn from the balance
// by a chargeback): charge.dispute.created and charge.dispute.closed.
func (s *Server) PreventDispute(chargeID string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ch := s.charges[chargeID]
	if ch == nil {
		return "", fmt.Errorf("stripefake: no charge %q", chargeID)
	}
	d := &stripe.Dispute{ID: s.newID("du"), Object: "dispute", Amount: ch.Amount, Currency: ch.Currency,
		Charge: &stripe.Charge{ID: ch.ID}, Created: s.unix(), Reason: stripe.DisputeReasonFraudulent,
		Status: stripe.DisputeStatusPrevented, Metadata: map[string]string{}}
	ch.Disputed = true
	s.disputes[d.ID] = d
	s.emit("charge.dispute.created", "dispute", d, nil)
	s.emit("charge.dispute.closed", "dispute", d, nil)
	return d.ID, nil
}
