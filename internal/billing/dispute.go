package billing

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/groundwork-dev/groundwork/internal/audit"
)

// auditDispute records in the organisation's audit log a change of its
// latest dispute (a new dispute, funds withdrawn, won, lost), in the
// transaction that stores it. A sync that changes nothing records nothing,
// so redelivered events add no rows.
func auditDispute(ctx context.Context, tx pgx.Tx, prev, cur Account) error {
	if cur.DisputeID == "" || (cur.DisputeID == prev.DisputeID && cur.Dispute.Status == prev.Dispute.Status &&
		cur.Dispute.FundsWithdrawn == prev.Dispute.FundsWithdrawn) {
		return nil
	}
	values := func(a Account) map[string]any {
		if a.DisputeID == "" {
			return nil
		}
		return map[string]any{"dispute_id": a.DisputeID, "status": string(a.Dispute.Status),
			"funds_withdrawn": a.Dispute.FundsWithdrawn, "amount": a.DisputeAmount, "currency": a.DisputeCurrency}
	}
	before := values(prev)
	if prev.DisputeID != cur.DisputeID {
		before = nil
	}
	return audit.Record(ctx, tx, audit.Event{OrgID: cur.OrgID, Action: audit.ActionBillingDispute,
		TargetType: audit.TargetDispute, TargetID: cur.DisputeID, Before: before, After: values(cur)})
}
