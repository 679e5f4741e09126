package billing

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/stripe/stripe-go/v85"

	"github.com/groundwork-dev/groundwork/internal/audit"
)

func TestDisputeStatus(t *testing.T) {
	t.Parallel()
	for st, want := range map[stripe.DisputeStatus]DisputeStatus{
		stripe.DisputeStatusWarningNeedsResponse: DisputeInquiry,
		stripe.DisputeStatusWarningUnderReview:   DisputeInquiry,
		stripe.DisputeStatusWarningClosed:        DisputeNone,
		stripe.DisputeStatusNeedsResponse:        DisputeOpen,
		stripe.DisputeStatusUnderReview:          DisputeOpen,
		stripe.DisputeStatusWon:                  DisputeWon,
		stripe.DisputeStatusLost:                 DisputeLost,
		// Item 13: prevented is not open (no dispute, no funds withdrawn).
		stripe.DisputeStatusPrevented: DisputeNone,
		"some_new_status":             DisputeOpen,
	} {
		require.Equal(t, want, disputeStatus(st), st)
	}
}

func TestFundsWithdrawn(t *testing.T) {
	t.Parallel()
	bt := func(amounts ...int64) []*stripe.BalanceTransaction {
		var out []*stripe.BalanceTransaction
		for _, a := range amounts {
			out = append(out, &stripe.BalanceTransaction{Amount: a})
		}
		return out
	}
	for _, tc := range []struct {
		name string
		bts  []*stripe.BalanceTransaction
		want bool
	}{
		{name: "none (an inquiry)"},
		{name: "withdrawn", bts: bt(-1999), want: true},
		{name: "withdrawn and fee", bts: bt(-1999, -1500), want: true},
		{name: "reinstated (won)", bts: bt(-1999, 1999)},
		{name: "partly reinstated", bts: bt(-1999, 1000), want: true},
		{name: "nil entries are skipped", bts: append(bt(-5), nil), want: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tc.want, fundsWithdrawn(&stripe.Dispute{BalanceTransactions: tc.bts}))
		})
	}
}

// Item 4: every dispute counts, not only the newest: a later inquiry on
// another charge does not lift an earlier dispute's funds withdrawn, nor a
// lost one.
func TestGoverningDispute(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
	row := func(id string, day int, st DisputeStatus, withdrawn bool) disputeRow {
		return disputeRow{ID: id, Created: at.AddDate(0, 0, day), State: DisputeState{Status: st, FundsWithdrawn: withdrawn}}
	}
	cleared := row("dp_lost", 1, DisputeLost, true)
	cleared.ClearedAt = at.AddDate(0, 1, 0)
	for _, tc := range []struct {
		name string
		rows []disputeRow
		want string
		st   DisputeState
	}{
		{name: "none", st: DisputeState{}},
		{name: "funds withdrawn beats a later inquiry",
			rows: []disputeRow{row("dp_1", 1, DisputeOpen, true), row("dp_2", 2, DisputeInquiry, false)},
			want: "dp_1", st: DisputeState{Status: DisputeOpen, FundsWithdrawn: true}},
		{name: "lost beats a later inquiry and a later win",
			rows: []disputeRow{row("dp_1", 1, DisputeLost, true), row("dp_2", 2, DisputeInquiry, false), row("dp_3", 3, DisputeWon, false)},
			want: "dp_1", st: DisputeState{Status: DisputeLost, FundsWithdrawn: true}},
		{name: "funds withdrawn beats lost",
			rows: []disputeRow{row("dp_1", 1, DisputeLost, true), row("dp_2", 2, DisputeOpen, true)},
			want: "dp_2", st: DisputeState{Status: DisputeOpen, FundsWithdrawn: true}},
		{name: "a cleared lost dispute counts as none",
			rows: []disputeRow{cleared}, want: "dp_lost", st: DisputeState{}},
		{name: "an inquiry beats a cleared lost dispute",
			rows: []disputeRow{cleared, row("dp_2", 2, DisputeInquiry, false)}, want: "dp_2", st: DisputeState{Status: DisputeInquiry}},
		{name: "the newest of equals", rows: []disputeRow{row("dp_1", 1, DisputeWon, false), row("dp_2", 2, DisputeNone, false)},
			want: "dp_2", st: DisputeState{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			a := withDisputes(Account{OrgID: "org"}, tc.rows)
			require.Equal(t, tc.want, a.DisputeID)
			require.Equal(t, tc.st, a.Dispute)
		})
	}
}

// Item 5: a lost dispute is cleared by an invoice paid after it was lost,
// not by one paid before, nor by a free one.
func TestMergeDisputesClearsALostDisputeOnALaterPayment(t *testing.T) {
	t.Parallel()
	lostAt := time.Date(2026, 5, 10, 0, 0, 0, 0, time.UTC)
	lost := &stripe.Dispute{ID: "dp_1", Status: stripe.DisputeStatusLost, Amount: 3000, Currency: "eur",
		BalanceTransactions: []*stripe.BalanceTransaction{{Amount: -3000}}}
	inv := func(paid time.Time, amount int64) *stripe.Invoice {
		return &stripe.Invoice{ID: "in_1", Status: stripe.InvoiceStatusPaid, AmountPaid: amount,
			StatusTransitions: &stripe.InvoiceStatusTransitions{PaidAt: paid.Unix()}}
	}
	rows := mergeDisputes(nil, []*stripe.Dispute{lost}, inv(lostAt.Add(-time.Hour), 3000), lostAt)
	require.Len(t, rows, 1)
	require.Equal(t, lostAt, rows[0].LostAt)
	require.True(t, rows[0].ClearedAt.IsZero(), "paid before it was lost")
	require.True(t, rows[0].changed)
	stored := rows[0]
	stored.before, stored.changed = nil, false

	rows = mergeDisputes([]disputeRow{stored}, []*stripe.Dispute{lost}, inv(lostAt.Add(30*24*time.Hour), 0), lostAt.Add(time.Hour))
	require.True(t, rows[0].ClearedAt.IsZero(), "a free invoice")
	require.False(t, rows[0].changed, "a redelivered event changes nothing")
	require.Equal(t, lostAt, rows[0].LostAt, "first seen lost")

	paid := lostAt.Add(30 * 24 * time.Hour)
	rows = mergeDisputes([]disputeRow{stored}, nil, inv(paid, 3000), paid)
	require.Equal(t, paid, rows[0].ClearedAt)
	require.Equal(t, "invoice:in_1", rows[0].ClearedBy)
	require.True(t, rows[0].changed)
	require.NotNil(t, rows[0].before)
	a := withDisputes(Account{OrgID: "org"}, rows)
	require.Equal(t, DisputeState{}, a.Dispute)
}

func TestWithDisputeAndAlerts(t *testing.T) {
	t.Parallel()
	withdrawn := []*stripe.BalanceTransaction{{Amount: -1999}}
	for _, tc := range []struct {
		name string
		d    *stripe.Dispute
		want DisputeState
		rows []string
	}{
		{name: "inquiry: no alert", d: &stripe.Dispute{ID: "dp_1", Status: stripe.DisputeStatusWarningNeedsResponse},
			want: DisputeState{Status: DisputeInquiry}},
		{name: "open, funds not withdrawn: no alert", d: &stripe.Dispute{ID: "dp_1", Status: stripe.DisputeStatusNeedsResponse},
			want: DisputeState{Status: DisputeOpen}},
		{name: "open, funds withdrawn: alert",
			d:    &stripe.Dispute{ID: "dp_1", Status: stripe.DisputeStatusUnderReview, BalanceTransactions: withdrawn},
			want: DisputeState{Status: DisputeOpen, FundsWithdrawn: true}, rows: []string{"dispute:dp_1:dispute_funds_withdrawn_alert"}},
		{name: "lost: alert", d: &stripe.Dispute{ID: "dp_1", Status: stripe.DisputeStatusLost, BalanceTransactions: withdrawn},
			want: DisputeState{Status: DisputeLost, FundsWithdrawn: true}, rows: []string{"dispute:dp_1:dispute_lost_alert"}},
		{name: "won: no alert", d: &stripe.Dispute{ID: "dp_1", Status: stripe.DisputeStatusWon,
			BalanceTransactions: []*stripe.BalanceTransaction{{Amount: -1999}, {Amount: 1999}}},
			want: DisputeState{Status: DisputeWon}},
		{name: "inquiry closed: no alert", d: &stripe.Dispute{ID: "dp_1", Status: stripe.DisputeStatusWarningClosed},
			want: DisputeState{Status: DisputeNone}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.d.Amount, tc.d.Currency = 1999, "eur"
			a := withDisputes(Account{OrgID: "org", DisputeID: "dp_0"}, mergeDisputes(nil, []*stripe.Dispute{tc.d}, nil, time.Unix(0, 0)))
			a.disputes = nil
			require.Equal(t, Account{OrgID: "org", DisputeID: "dp_1", Dispute: tc.want, DisputeAmount: 1999, DisputeCurrency: "eur"}, a)
			require.Equal(t, tc.rows, rowKeys(disputeAlerts(tc.d, a.Dispute)))
		})
	}
}

func TestDisputeAudit(t *testing.T) {
	t.Parallel()
	row := func(id string, st DisputeStatus, withdrawn bool) disputeRow {
		return disputeRow{ID: id, State: DisputeState{Status: st, FundsWithdrawn: withdrawn}, Amount: 1999, Currency: "eur"}
	}
	values := func(id string, st DisputeStatus, withdrawn bool) map[string]any {
		return map[string]any{"dispute_id": id, "status": string(st), "funds_withdrawn": withdrawn,
			"amount": int64(1999), "currency": "eur"}
	}
	changed := func(before *disputeRow, r disputeRow) disputeRow { r.before, r.changed = before, true; return r }
	openRow, withdrawnRow := row("dp_1", DisputeOpen, false), row("dp_1", DisputeOpen, true)
	for _, tc := range []struct {
		name       string
		r          disputeRow
		wantNil    bool
		wantBefore map[string]any
		wantAfter  map[string]any
	}{
		{name: "unchanged (a redelivered event)", r: withdrawnRow, wantNil: true},
		{name: "new dispute", r: changed(nil, openRow), wantAfter: values("dp_1", DisputeOpen, false)},
		{name: "funds withdrawn", r: changed(&openRow, withdrawnRow),
			wantBefore: values("dp_1", DisputeOpen, false), wantAfter: values("dp_1", DisputeOpen, true)},
		{name: "lost", r: changed(&withdrawnRow, row("dp_1", DisputeLost, true)),
			wantBefore: values("dp_1", DisputeOpen, true), wantAfter: values("dp_1", DisputeLost, true)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ev := disputeAudit("org", tc.r)
			if tc.wantNil {
				require.Nil(t, ev)
				return
			}
			require.NotNil(t, ev)
			require.Equal(t, audit.Event{OrgID: "org", Action: audit.ActionBillingDispute, TargetType: audit.TargetDispute,
				TargetID: tc.r.ID, Before: tc.wantBefore, After: tc.wantAfter}, *ev)
		})
	}
}
