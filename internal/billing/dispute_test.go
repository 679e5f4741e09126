package billing

import (
	"testing"

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
		"some_new_status":                        DisputeOpen,
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

func TestNewestDispute(t *testing.T) {
	t.Parallel()
	d := func(id string, created int64) *stripe.Dispute { return &stripe.Dispute{ID: id, Created: created} }
	for _, tc := range []struct {
		name string
		in   []*stripe.Dispute
		want string
	}{
		{name: "none"},
		{name: "one", in: []*stripe.Dispute{d("dp_1", 1)}, want: "dp_1"},
		{name: "the newer, stored first", in: []*stripe.Dispute{d("dp_1", 1), d("dp_2", 2)}, want: "dp_2"},
		{name: "the newer, event first", in: []*stripe.Dispute{d("dp_2", 2), d("dp_1", 1)}, want: "dp_2"},
		{name: "same time: the greater ID", in: []*stripe.Dispute{d("dp_b", 1), d("dp_a", 1)}, want: "dp_b"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := newestDispute(tc.in)
			if tc.want == "" {
				require.Nil(t, got)
				return
			}
			require.Equal(t, tc.want, got.ID)
		})
	}
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
			a := withDispute(Account{OrgID: "org", DisputeID: "dp_0"}, tc.d)
			require.Equal(t, Account{OrgID: "org", DisputeID: "dp_1", Dispute: tc.want, DisputeAmount: 1999, DisputeCurrency: "eur"}, a)
			require.Equal(t, tc.rows, rowKeys(disputeAlerts(tc.d, a.Dispute)))
		})
	}
}

func TestDisputeAudit(t *testing.T) {
	t.Parallel()
	acct := func(id string, st DisputeStatus, withdrawn bool) Account {
		return Account{OrgID: "org", DisputeID: id, Dispute: DisputeState{Status: st, FundsWithdrawn: withdrawn},
			DisputeAmount: 1999, DisputeCurrency: "eur"}
	}
	values := func(id string, st DisputeStatus, withdrawn bool) map[string]any {
		return map[string]any{"dispute_id": id, "status": string(st), "funds_withdrawn": withdrawn,
			"amount": int64(1999), "currency": "eur"}
	}
	for _, tc := range []struct {
		name       string
		prev, cur  Account
		wantNil    bool
		wantBefore map[string]any
		wantAfter  map[string]any
	}{
		{name: "no dispute", prev: Account{OrgID: "org"}, cur: Account{OrgID: "org"}, wantNil: true},
		{name: "unchanged (a redelivered event)", prev: acct("dp_1", DisputeOpen, true), cur: acct("dp_1", DisputeOpen, true), wantNil: true},
		{name: "new dispute", prev: Account{OrgID: "org"}, cur: acct("dp_1", DisputeOpen, false),
			wantAfter: values("dp_1", DisputeOpen, false)},
		{name: "funds withdrawn", prev: acct("dp_1", DisputeOpen, false), cur: acct("dp_1", DisputeOpen, true),
			wantBefore: values("dp_1", DisputeOpen, false), wantAfter: values("dp_1", DisputeOpen, true)},
		{name: "lost", prev: acct("dp_1", DisputeOpen, true), cur: acct("dp_1", DisputeLost, true),
			wantBefore: values("dp_1", DisputeOpen, true), wantAfter: values("dp_1", DisputeLost, true)},
		{name: "another dispute replaces the stored one: no before", prev: acct("dp_1", DisputeWon, false),
			cur: acct("dp_2", DisputeOpen, false), wantAfter: values("dp_2", DisputeOpen, false)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ev := disputeAudit(tc.prev, tc.cur)
			if tc.wantNil {
				require.Nil(t, ev)
				return
			}
			require.NotNil(t, ev)
			require.Equal(t, audit.Event{OrgID: "org", Action: audit.ActionBillingDispute, TargetType: audit.TargetDispute,
				TargetID: tc.cur.DisputeID, Before: tc.wantBefore, After: tc.wantAfter}, *ev)
		})
	}
}
