package billing

import (
	"context"

	"github.com/jackc/pgx/v5"
	"github.com/stripe/stripe-go/v85"

	"github.com/groundwork-dev/groundwork/internal/audit"
)

// disputeStatus is Stripe's dispute status as the entitlements see it.
func disputeStatus(st stripe.DisputeStatus) DisputeStatus {
	switch st {
	case stripe.DisputeStatusWarningNeedsResponse, stripe.DisputeStatusWarningUnderReview:
		return DisputeInquiry
	case stripe.DisputeStatusWarningClosed:
		return DisputeNone
	case stripe.DisputeStatusWon:
		return DisputeWon
	case stripe.DisputeStatusLost:
		return DisputeLost
	default: // needs_response, under_review, and any new open state
		return DisputeOpen
	}
}

// fundsWithdrawn reports whether d's balance transactions took money from
// the account (and did not give it all back).
func fundsWithdrawn(d *stripe.Dispute) bool {
	var net int64
	for _, bt := range d.BalanceTransactions {
		if bt != nil {
			net += bt.Amount
		}
	}
	return net < 0
}

// newestDispute is the newest of disputes (by creation, then ID); nil for
// none.
func newestDispute(disputes []*stripe.Dispute) *stripe.Dispute {
	var newest *stripe.Dispute
	for _, d := range disputes {
		if newest == nil || d.Created > newest.Created || (d.Created == newest.Created && d.ID > newest.ID) {
			newest = d
		}
	}
	return newest
}

// withDispute is a with d as its latest dispute.
func withDispute(a Account, d *stripe.Dispute) Account {
	a.DisputeID = d.ID
	a.Dispute = DisputeState{Status: disputeStatus(d.Status), FundsWithdrawn: fundsWithdrawn(d)}
	a.DisputeAmount, a.DisputeCurrency = d.Amount, string(d.Currency)
	return a
}

// disputeAlerts returns the alerts dispute d, in state st, calls for: an
// open one with funds withdrawn, a lost one.
func disputeAlerts(d *stripe.Dispute, st DisputeState) []outboxRow {
	switch {
	case st.Status == DisputeOpen && st.FundsWithdrawn:
		return []outboxRow{disputeAlertRow(OutboxDisputeAlert, d)}
	case st.Status == DisputeLost:
		return []outboxRow{disputeAlertRow(OutboxDisputeLostAlert, d)}
	}
	return nil
}

// disputeAudit is the audit event of a sync that took the account from
// prev to cur: a change of its latest dispute (a new dispute, funds
// withdrawn, won, lost); nil when the dispute did not change, so that
// redelivered events add no rows.
func disputeAudit(prev, cur Account) *audit.Event {
	if cur.DisputeID == "" || (cur.DisputeID == prev.DisputeID && cur.Dispute.Status == prev.Dispute.Status &&
		cur.Dispute.FundsWithdrawn == prev.Dispute.FundsWithdrawn) {
		return nil
	}
	before := disputeValues(prev)
	if prev.DisputeID != cur.DisputeID {
		before = nil
	}
	return &audit.Event{OrgID: cur.OrgID, Action: audit.ActionBillingDispute,
		TargetType: audit.TargetDispute, TargetID: cur.DisputeID, Before: before, After: disputeValues(cur)}
}

// disputeValues is a's latest dispute as the audit log records it; nil for
// none.
func disputeValues(a Account) map[string]any {
	if a.DisputeID == "" {
		return nil
	}
	return map[string]any{"dispute_id": a.DisputeID, "status": string(a.Dispute.Status),
		"funds_withdrawn": a.Dispute.FundsWithdrawn, "amount": a.DisputeAmount, "currency": a.DisputeCurrency}
}

// auditDispute records disputeAudit(prev, cur), if any, in the
// organisation's audit log, in tx, the transaction that stores cur.
func auditDispute(ctx context.Context, tx pgx.Tx, prev, cur Account) error {
	ev := disputeAudit(prev, cur)
	if ev == nil {
		return nil
	}
	return audit.Record(ctx, tx, *ev)
}
