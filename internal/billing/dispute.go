package billing

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stripe/stripe-go/v85"

	"github.com/groundwork-dev/groundwork/internal/audit"
)

// disputeStatus is Stripe's dispute status as the entitlements see it.
func disputeStatus(st stripe.DisputeStatus) DisputeStatus {
	switch st {
	case stripe.DisputeStatusWarningNeedsResponse, stripe.DisputeStatusWarningUnderReview:
		return DisputeInquiry
	case stripe.DisputeStatusWarningClosed, stripe.DisputeStatusPrevented:
		// prevented: a dispute prevention program (Visa's Rapid Dispute
		// Resolution, say) refunded the payment and no dispute was opened;
		// nothing is open and no funds were withdrawn
		// (https://docs.stripe.com/api/disputes/object#dispute_object-status,
		// https://docs.stripe.com/disputes/prevention).
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

// disputeRow is one dispute on the organisation's payments as
// billing_disputes stores it.
type disputeRow struct {
	ID       string
	State    DisputeState // Status and FundsWithdrawn only
	Amount   int64
	Currency string
	Created  time.Time
	// LostAt is when the dispute was first seen lost; zero otherwise.
	LostAt time.Time
	// ClearedAt and ClearedBy: a lost dispute's effect ended, by a later
	// paid invoice ("invoice:<id>") or an operator ("operator:<who>").
	ClearedAt time.Time
	ClearedBy string
	// before is the stored row this one replaces (nil: a new dispute);
	// changed says the row is to be stored (and audited).
	before  *disputeRow
	changed bool
}

// lostUncleared reports whether r is a lost dispute whose effect has not
// been cleared.
func (r disputeRow) lostUncleared() bool {
	return r.State.Status == DisputeLost && r.ClearedAt.IsZero()
}

// rank orders rows by how much they govern the organisation's dispute
// state: open with funds withdrawn, lost and not cleared, open, inquiry,
// anything else.
func (r disputeRow) rank() int {
	switch {
	case r.State.Status == DisputeOpen && r.State.FundsWithdrawn:
		return 5
	case r.lostUncleared():
		return 4
	case r.State.Status == DisputeOpen:
		return 3
	case r.State.Status == DisputeInquiry:
		return 2
	}
	return 1
}

// disputeRowOf is dispute d as a row, keeping what only the application
// knows (when it was lost, whether it was cleared) from old.
func disputeRowOf(d *stripe.Dispute, old *disputeRow, at time.Time) disputeRow {
	r := disputeRow{ID: d.ID, State: DisputeState{Status: disputeStatus(d.Status), FundsWithdrawn: fundsWithdrawn(d)},
		Amount: d.Amount, Currency: string(d.Currency), Created: time.Unix(d.Created, 0).UTC(), before: old}
	if old != nil {
		r.LostAt, r.ClearedAt, r.ClearedBy = old.LostAt, old.ClearedAt, old.ClearedBy
	}
	if r.State.Status == DisputeLost && r.LostAt.IsZero() {
		r.LostAt = at
	}
	r.changed = old == nil || old.State != r.State || old.Amount != r.Amount || old.Currency != r.Currency ||
		!old.LostAt.Equal(r.LostAt)
	return r
}

// mergeDisputes is the organisation's disputes after a sync at time at
// that re-fetched fetched: stored, each replaced by its re-fetched self,
// plus the new ones, in a stable order (by creation, then ID). A lost
// dispute not cleared yet is cleared by inv, the subscription's latest
// invoice, when it was paid (an amount above zero) after the dispute was
// lost: the organisation paid again, so the lost payment no longer
// restricts it (item 5 of issue 11; an operator can clear it too).
func mergeDisputes(stored []disputeRow, fetched []*stripe.Dispute, inv *stripe.Invoice, at time.Time) []disputeRow {
	byID := map[string]int{}
	out := make([]disputeRow, 0, len(stored)+len(fetched))
	for _, r := range stored {
		byID[r.ID] = len(out)
		out = append(out, r)
	}
	for _, d := range fetched {
		if d == nil {
			continue
		}
		i, ok := byID[d.ID]
		if !ok {
			byID[d.ID] = len(out)
			out = append(out, disputeRowOf(d, nil, at))
			continue
		}
		old := out[i]
		out[i] = disputeRowOf(d, &old, at)
	}
	if paidAt, ok := paidAfterAll(inv); ok {
		for i, r := range out {
			if r.lostUncleared() && paidAt.After(r.LostAt) {
				if r.before == nil && !r.changed {
					old := r
					r.before = &old
				}
				r.ClearedAt, r.ClearedBy, r.changed = paidAt, "invoice:"+inv.ID, true
				out[i] = r
			}
		}
	}
	slices.SortFunc(out, func(a, b disputeRow) int {
		if c := a.Created.Compare(b.Created); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out
}

// paidAfterAll returns when inv was paid, if it is a paid invoice of a
// positive amount.
func paidAfterAll(inv *stripe.Invoice) (time.Time, bool) {
	if inv == nil || inv.Status != stripe.InvoiceStatusPaid || inv.AmountPaid <= 0 ||
		inv.StatusTransitions == nil || inv.StatusTransitions.PaidAt == 0 {
		return time.Time{}, false
	}
	return time.Unix(inv.StatusTransitions.PaidAt, 0).UTC(), true
}

// governingDispute is the dispute of rows that decides the organisation's
// dispute state (the highest rank, then the newest); nil for none.
func governingDispute(rows []disputeRow) *disputeRow {
	var g *disputeRow
	for i := range rows {
		r := &rows[i]
		if g == nil || r.rank() > g.rank() || (r.rank() == g.rank() && (r.Created.After(g.Created) ||
			(r.Created.Equal(g.Created) && r.ID > g.ID))) {
			g = r
		}
	}
	return g
}

// withDisputes is a with rows as its disputes and the governing one as
// its dispute state; a lost dispute that was cleared counts as none.
func withDisputes(a Account, rows []disputeRow) Account {
	a.disputes = rows
	g := governingDispute(rows)
	if g == nil {
		return a
	}
	a.DisputeID, a.Dispute, a.DisputeAmount, a.DisputeCurrency = g.ID, g.State, g.Amount, g.Currency
	if g.State.Status == DisputeLost && !g.ClearedAt.IsZero() {
		a.Dispute = DisputeState{Status: DisputeNone}
	}
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

// disputeAudit is the audit event of a dispute row stored by a sync (a new
// dispute, funds withdrawn, won, lost, cleared); nil when r did not change,
// so that redelivered events add no rows.
func disputeAudit(orgID string, r disputeRow) *audit.Event {
	if !r.changed {
		return nil
	}
	var before map[string]any
	if r.before != nil {
		before = disputeValues(*r.before)
	}
	return &audit.Event{OrgID: orgID, Action: audit.ActionBillingDispute,
		TargetType: audit.TargetDispute, TargetID: r.ID, Before: before, After: disputeValues(r)}
}

// disputeValues is r as the audit log records it.
func disputeValues(r disputeRow) map[string]any {
	v := map[string]any{"dispute_id": r.ID, "status": string(r.State.Status),
		"funds_withdrawn": r.State.FundsWithdrawn, "amount": r.Amount, "currency": r.Currency}
	if !r.ClearedAt.IsZero() {
		v["cleared_at"], v["cleared_by"] = r.ClearedAt.Format(time.RFC3339), r.ClearedBy
	}
	return v
}

// storeDisputes stores the changed rows of cur's disputes and records
// each change in the organisation's audit log, in tx, the transaction
// that stores cur.
func storeDisputes(ctx context.Context, tx pgx.Tx, cur Account) error {
	for _, r := range cur.disputes {
		if !r.changed {
			continue
		}
		if err := upsertDispute(ctx, tx, cur.OrgID, r); err != nil {
			return err
		}
	}
	// Audit last, as every audit event (audit.Record).
	for _, r := range cur.disputes {
		if ev := disputeAudit(cur.OrgID, r); ev != nil {
			if err := audit.Record(ctx, tx, *ev); err != nil {
				return err
			}
		}
	}
	return nil
}
