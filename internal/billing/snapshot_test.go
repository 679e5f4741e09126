package billing

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/stripe/stripe-go/v85"
)

// Table tests of the pure half of a sync (snapshot.go, outbox.go): no
// database, no Stripe. The scenario and replay tests cover the same rules
// end to end.

var (
	syncT0        = time.Date(2026, 5, 20, 12, 0, 0, 0, time.UTC)
	syncPeriodEnd = syncT0.Add(30 * 24 * time.Hour)
)

func stripeCustomer(id string) *stripe.Customer { return &stripe.Customer{ID: id} }

// testSub is a subscription of customer cus_1 with one item at price.
func testSub(id string, status stripe.SubscriptionStatus, price string) *stripe.Subscription {
	return &stripe.Subscription{ID: id, Status: status, Customer: stripeCustomer("cus_1"), Created: syncT0.Unix(),
		Items: &stripe.SubscriptionItemList{Data: []*stripe.SubscriptionItem{{
			Price: &stripe.Price{ID: price}, CurrentPeriodEnd: syncPeriodEnd.Unix()}}}}
}

func testInvoice(id string, status stripe.InvoiceStatus, attempts int64) *stripe.Invoice {
	return &stripe.Invoice{ID: id, Status: status, AttemptCount: attempts, Customer: stripeCustomer("cus_1"),
		AmountDue: 1999, Currency: "eur", HostedInvoiceURL: "https://pay.test/" + id,
		StatusTransitions: &stripe.InvoiceStatusTransitions{FinalizedAt: syncT0.Add(-time.Hour).Unix()},
		Created:           syncT0.Add(-2 * time.Hour).Unix()}
}

// rowKeys is the keys of rows, in order.
func rowKeys(rows []outboxRow) []string {
	var out []string
	for _, r := range rows {
		out = append(out, r.key)
	}
	return out
}

func TestHasBilling(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		prev Account
		h    syncHint
		want bool
	}{
		{name: "never billed", want: false},
		{name: "stored customer", prev: Account{CustomerID: "cus_1"}, want: true},
		{name: "stored subscription", prev: Account{SubscriptionID: "sub_1"}, want: true},
		{name: "event names the customer", h: syncHint{customerID: "cus_1"}, want: true},
		{name: "event names only a subscription", h: syncHint{subscriptionID: "sub_1"}, want: false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tc.want, hasBilling(tc.prev, tc.h))
		})
	}
}

func TestAccountCustomer(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		stored  string
		event   string
		deleted bool
		want    string
	}{
		{name: "first contact takes the event's", event: "cus_1", want: "cus_1"},
		{name: "first contact ignores a deleted customer", event: "cus_1", deleted: true, want: ""},
		{name: "stored, event names none", stored: "cus_1", want: "cus_1"},
		{name: "stored, event names it", stored: "cus_1", event: "cus_1", want: "cus_1"},
		// An unused customer of a checkout attempt whose commit failed, or
		// a former (deleted) one: its event syncs the account's own.
		{name: "event of another customer syncs the stored one", stored: "cus_1", event: "cus_2", want: "cus_1"},
		{name: "neither", want: ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			prev := Account{OrgID: "org", CustomerID: tc.stored}
			h := withoutOtherCustomer(prev, syncHint{customerID: tc.event, customerDeleted: tc.deleted, subscriptionID: "sub_x"})
			require.Equal(t, tc.want, accountCustomer(prev, h))
			if tc.event != "" && tc.want != tc.event {
				require.Empty(t, h.subscriptionID, "the other customer's objects are dropped")
			}
		})
	}
}

func TestDistinctIDs(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   []string
		want []string
	}{
		{in: nil, want: nil},
		{in: []string{"", ""}, want: nil},
		{in: []string{"a", ""}, want: []string{"a"}},
		{in: []string{"", "b"}, want: []string{"b"}},
		{in: []string{"a", "a"}, want: []string{"a"}},
		{in: []string{"a", "b"}, want: []string{"a", "b"}},
	} {
		require.Equal(t, tc.want, distinctIDs(tc.in...), "%q", tc.in)
	}
}

func TestPickSubscription(t *testing.T) {
	t.Parallel()
	at := func(s *stripe.Subscription, created time.Time) *stripe.Subscription {
		s.Created = created.Unix()
		return s
	}
	of := func(s *stripe.Subscription, customer string) *stripe.Subscription {
		s.Customer = stripeCustomer(customer)
		return s
	}
	for _, tc := range []struct {
		name string
		subs []*stripe.Subscription
		want string // "" for nil
	}{
		{name: "none"},
		{name: "another customer's is not the organisation's",
			subs: []*stripe.Subscription{of(testSub("sub_1", stripe.SubscriptionStatusActive, "p"), "cus_2")}},
		{name: "without customer is not the organisation's",
			subs: []*stripe.Subscription{{ID: "sub_1", Status: stripe.SubscriptionStatusActive}}},
		{name: "the one",
			subs: []*stripe.Subscription{testSub("sub_1", stripe.SubscriptionStatusActive, "p")}, want: "sub_1"},
		{name: "live beats a newer canceled one", subs: []*stripe.Subscription{
			at(testSub("sub_old", stripe.SubscriptionStatusPastDue, "p"), syncT0),
			at(testSub("sub_new", stripe.SubscriptionStatusCanceled, "p"), syncT0.Add(time.Hour))}, want: "sub_old"},
		{name: "live beats a newer incomplete_expired one", subs: []*stripe.Subscription{
			at(testSub("sub_new", stripe.SubscriptionStatusIncompleteExpired, "p"), syncT0.Add(time.Hour)),
			at(testSub("sub_old", stripe.SubscriptionStatusIncomplete, "p"), syncT0)}, want: "sub_old"},
		{name: "of two live ones the newer", subs: []*stripe.Subscription{
			at(testSub("sub_old", stripe.SubscriptionStatusActive, "p"), syncT0),
			at(testSub("sub_new", stripe.SubscriptionStatusTrialing, "p"), syncT0.Add(time.Hour))}, want: "sub_new"},
		{name: "of two ended ones the newer", subs: []*stripe.Subscription{
			at(testSub("sub_new", stripe.SubscriptionStatusCanceled, "p"), syncT0.Add(time.Hour)),
			at(testSub("sub_old", stripe.SubscriptionStatusCanceled, "p"), syncT0)}, want: "sub_new"},
		{name: "same time: the greater ID", subs: []*stripe.Subscription{
			testSub("sub_b", stripe.SubscriptionStatusActive, "p"),
			testSub("sub_a", stripe.SubscriptionStatusActive, "p")}, want: "sub_b"},
		{name: "another customer's newer one is skipped", subs: []*stripe.Subscription{
			at(testSub("sub_1", stripe.SubscriptionStatusActive, "p"), syncT0),
			of(at(testSub("sub_2", stripe.SubscriptionStatusActive, "p"), syncT0.Add(time.Hour)), "cus_2")}, want: "sub_1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := pickSubscription(tc.subs, "cus_1")
			if tc.want == "" {
				require.Nil(t, got)
				return
			}
			require.NotNil(t, got)
			require.Equal(t, tc.want, got.ID)
		})
	}
}

func TestScheduleToFetch(t *testing.T) {
	t.Parallel()
	with := func(st stripe.SubscriptionStatus, sched *stripe.SubscriptionSchedule) *stripe.Subscription {
		s := testSub("sub_1", st, "p")
		s.Schedule = sched
		return s
	}
	sched := &stripe.SubscriptionSchedule{ID: "sub_sched_1"}
	require.Equal(t, "sub_sched_1", scheduleToFetch(with(stripe.SubscriptionStatusActive, sched)))
	require.Equal(t, "sub_sched_1", scheduleToFetch(with(stripe.SubscriptionStatusPastDue, sched)))
	require.Empty(t, scheduleToFetch(with(stripe.SubscriptionStatusCanceled, sched)), "an ended subscription changes no more")
	require.Empty(t, scheduleToFetch(with(stripe.SubscriptionStatusActive, nil)))
	require.Empty(t, scheduleToFetch(with(stripe.SubscriptionStatusActive, &stripe.SubscriptionSchedule{})))
}

func TestInvoiceUnexpanded(t *testing.T) {
	t.Parallel()
	require.False(t, invoiceUnexpanded(nil))
	require.True(t, invoiceUnexpanded(&stripe.Invoice{ID: "in_1"}), "an ID only")
	require.False(t, invoiceUnexpanded(&stripe.Invoice{ID: "in_1", Status: stripe.InvoiceStatusOpen}))
	require.False(t, invoiceUnexpanded(&stripe.Invoice{}), "nothing to fetch")
}

func TestScheduledChange(t *testing.T) {
	t.Parallel()
	phase := func(start time.Time, price string) *stripe.SubscriptionSchedulePhase {
		ph := &stripe.SubscriptionSchedulePhase{StartDate: start.Unix()}
		if price != "" {
			ph.Items = []*stripe.SubscriptionSchedulePhaseItem{{Price: &stripe.Price{ID: price}}}
		}
		return ph
	}
	downgrade := []*stripe.SubscriptionSchedulePhase{phase(syncT0.Add(-24*time.Hour), "price_biz"), phase(syncPeriodEnd, "price_pro")}
	for _, tc := range []struct {
		name      string
		status    stripe.SubscriptionScheduleStatus
		phases    []*stripe.SubscriptionSchedulePhase
		wantPrice string
		wantAt    time.Time
	}{
		{name: "active: the phase from the period end", status: stripe.SubscriptionScheduleStatusActive,
			phases: downgrade, wantPrice: "price_pro", wantAt: syncPeriodEnd},
		{name: "not started", status: stripe.SubscriptionScheduleStatusNotStarted,
			phases: downgrade, wantPrice: "price_pro", wantAt: syncPeriodEnd},
		{name: "a later phase counts", status: stripe.SubscriptionScheduleStatusActive,
			phases:    []*stripe.SubscriptionSchedulePhase{phase(syncT0, "price_biz"), phase(syncPeriodEnd.Add(time.Hour), "price_pro")},
			wantPrice: "price_pro", wantAt: syncPeriodEnd.Add(time.Hour)},
		{name: "released", status: stripe.SubscriptionScheduleStatusReleased, phases: downgrade},
		{name: "canceled", status: stripe.SubscriptionScheduleStatusCanceled, phases: downgrade},
		{name: "completed", status: stripe.SubscriptionScheduleStatusCompleted, phases: downgrade},
		{name: "only the current phase", status: stripe.SubscriptionScheduleStatusActive,
			phases: []*stripe.SubscriptionSchedulePhase{phase(syncT0, "price_biz")}},
		{name: "a phase without items is skipped", status: stripe.SubscriptionScheduleStatusActive,
			phases:    []*stripe.SubscriptionSchedulePhase{phase(syncPeriodEnd, ""), phase(syncPeriodEnd.Add(time.Hour), "price_pro")},
			wantPrice: "price_pro", wantAt: syncPeriodEnd.Add(time.Hour)},
		{name: "a phase item without price is skipped", status: stripe.SubscriptionScheduleStatusActive,
			phases: []*stripe.SubscriptionSchedulePhase{{StartDate: syncPeriodEnd.Unix(),
				Items: []*stripe.SubscriptionSchedulePhaseItem{{}}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			price, at := scheduledChange(&stripe.SubscriptionSchedule{Status: tc.status, Phases: tc.phases}, syncPeriodEnd)
			require.Equal(t, tc.wantPrice, price)
			require.Equal(t, tc.wantAt, at)
		})
	}
}

func TestWithSubscription(t *testing.T) {
	t.Parallel()
	// prev has every field a subscription sets, so each case shows what it
	// overwrites; the dispute and checkout fields are the sync's others.
	prev := Account{OrgID: "org", CustomerID: "cus_1", SubscriptionID: "sub_old",
		Snapshot: Snapshot{Status: stripe.SubscriptionStatusCanceled, PriceID: "price_old", PendingPriceID: "price_pending_old",
			CurrentPeriodEnd: syncT0, CancelAtPeriodEnd: true},
		ScheduledPriceID: "price_sched_old", ScheduledChangeAt: syncT0, DisputeID: "dp_1", CheckoutSessionID: "cs_1"}
	edit := func(f func(*stripe.Subscription)) *stripe.Subscription {
		s := testSub("sub_1", stripe.SubscriptionStatusActive, "price_pro")
		f(s)
		return s
	}
	expect := func(f func(*Account)) Account {
		a := prev
		a.SubscriptionID = "sub_1"
		a.Snapshot.Status, a.Snapshot.PriceID, a.Snapshot.CurrentPeriodEnd = stripe.SubscriptionStatusActive, "price_pro", syncPeriodEnd
		a.Snapshot.PendingPriceID, a.Snapshot.CancelAtPeriodEnd = "", false
		a.ScheduledPriceID, a.ScheduledChangeAt = "", time.Time{}
		f(&a)
		return a
	}
	schedule := &stripe.SubscriptionSchedule{Status: stripe.SubscriptionScheduleStatusActive,
		Phases: []*stripe.SubscriptionSchedulePhase{{StartDate: syncPeriodEnd.Unix(),
			Items: []*stripe.SubscriptionSchedulePhaseItem{{Price: &stripe.Price{ID: "price_starter"}}}}}}
	for _, tc := range []struct {
		name  string
		sub   *stripe.Subscription
		sched *stripe.SubscriptionSchedule
		want  Account
	}{
		{name: "active", sub: edit(func(*stripe.Subscription) {}), want: expect(func(*Account) {})},
		{name: "cancel at period end",
			sub:  edit(func(s *stripe.Subscription) { s.CancelAtPeriodEnd = true }),
			want: expect(func(a *Account) { a.Snapshot.CancelAtPeriodEnd = true })},
		{name: "no items: no price, no period",
			sub:  edit(func(s *stripe.Subscription) { s.Items = nil }),
			want: expect(func(a *Account) { a.Snapshot.PriceID, a.Snapshot.CurrentPeriodEnd = "", time.Time{} })},
		{name: "empty items",
			sub:  edit(func(s *stripe.Subscription) { s.Items.Data = nil }),
			want: expect(func(a *Account) { a.Snapshot.PriceID, a.Snapshot.CurrentPeriodEnd = "", time.Time{} })},
		{name: "item without price or period",
			sub:  edit(func(s *stripe.Subscription) { s.Items.Data[0] = &stripe.SubscriptionItem{} }),
			want: expect(func(a *Account) { a.Snapshot.PriceID, a.Snapshot.CurrentPeriodEnd = "", time.Time{} })},
		{name: "pending update",
			sub: edit(func(s *stripe.Subscription) {
				s.PendingUpdate = &stripe.SubscriptionPendingUpdate{SubscriptionItems: []*stripe.SubscriptionItem{
					{Price: &stripe.Price{ID: "price_business"}}}}
			}),
			want: expect(func(a *Account) { a.Snapshot.PendingPriceID = "price_business" })},
		{name: "pending update without items",
			sub:  edit(func(s *stripe.Subscription) { s.PendingUpdate = &stripe.SubscriptionPendingUpdate{} }),
			want: expect(func(*Account) {})},
		{name: "pending update item without price",
			sub: edit(func(s *stripe.Subscription) {
				s.PendingUpdate = &stripe.SubscriptionPendingUpdate{SubscriptionItems: []*stripe.SubscriptionItem{{}}}
			}),
			want: expect(func(*Account) {})},
		{name: "scheduled downgrade", sub: edit(func(*stripe.Subscription) {}), sched: schedule,
			want: expect(func(a *Account) { a.ScheduledPriceID, a.ScheduledChangeAt = "price_starter", syncPeriodEnd })},
		{name: "released schedule clears the stored downgrade", sub: edit(func(*stripe.Subscription) {}),
			sched: &stripe.SubscriptionSchedule{Status: stripe.SubscriptionScheduleStatusReleased, Phases: schedule.Phases},
			want:  expect(func(*Account) {})},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tc.want, withSubscription(prev, tc.sub, tc.sched))
		})
	}
}

// Item 16: grace starts at the invoice's first failed attempt as Stripe
// shows it (finalisation of an attempted invoice charged automatically),
// not at the first failure event that reached us.
func TestFirstFailureAt(t *testing.T) {
	t.Parallel()
	inv := testInvoice("in_1", stripe.InvoiceStatusOpen, 2)
	finalized, created := syncT0.Add(-time.Hour), syncT0.Add(-2*time.Hour)
	notFinalized := func() *stripe.Invoice {
		i := testInvoice("in_1", stripe.InvoiceStatusOpen, 1)
		i.StatusTransitions = nil
		return i
	}()
	notAttempted := testInvoice("in_1", stripe.InvoiceStatusOpen, 0)
	sendInvoice := testInvoice("in_1", stripe.InvoiceStatusOpen, 1)
	sendInvoice.CollectionMethod = stripe.InvoiceCollectionMethodSendInvoice
	failedEvent := func(invoiceID string, at time.Time) syncHint {
		return syncHint{failedEvent: true, invoiceID: invoiceID, eventTime: at}
	}
	earlier, later, first := syncT0.Add(-30*time.Minute), syncT0.Add(30*time.Minute), syncT0.Add(-90*time.Minute)
	for _, tc := range []struct {
		name     string
		inv      *stripe.Invoice
		h        syncHint
		recorded *time.Time
		want     time.Time
	}{
		{name: "the first attempt (finalisation) precedes a later attempt's event", inv: inv, h: failedEvent("in_1", syncT0), want: finalized},
		{name: "the first attempt precedes every recorded event", inv: inv, h: failedEvent("in_1", syncT0), recorded: &earlier, want: finalized},
		{name: "an earlier recorded failure still wins", inv: inv, recorded: &first, want: first},
		{name: "the first attempt, with no event", inv: inv, want: finalized},
		{name: "the failure event being processed", inv: notFinalized, h: failedEvent("in_1", syncT0), want: syncT0},
		{name: "an earlier recorded failure wins", inv: notFinalized, h: failedEvent("in_1", syncT0), recorded: &earlier, want: earlier},
		{name: "a later recorded failure does not", inv: notFinalized, h: failedEvent("in_1", syncT0), recorded: &later, want: syncT0},
		{name: "recorded only (another event type)", inv: notFinalized, h: syncHint{eventTime: syncT0}, recorded: &earlier, want: earlier},
		{name: "recorded in another zone is stored in UTC", inv: notFinalized,
			recorded: func() *time.Time { x := earlier.In(time.FixedZone("X", 3600)); return &x }(), want: earlier},
		{name: "an event for another invoice is not this failure", inv: notFinalized, h: failedEvent("in_2", syncT0), want: created},
		{name: "a failure event without a time", inv: notFinalized, h: failedEvent("in_1", time.Time{}), want: created},
		{name: "not attempted: finalisation is no failure", inv: notAttempted, h: failedEvent("in_1", syncT0), want: syncT0},
		{name: "sent to pay: finalisation is no attempt", inv: sendInvoice, h: failedEvent("in_1", syncT0), want: syncT0},
		{name: "nothing else: creation", inv: notFinalized, want: created},
		{name: "no time at all", inv: &stripe.Invoice{ID: "in_1"}},
		{name: "no invoice: the event", h: failedEvent("in_9", syncT0), want: syncT0},
		{name: "no invoice, no event"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := firstFailureAt(tc.inv, tc.h, tc.recorded)
			require.Equal(t, tc.want, got)
			if !got.IsZero() {
				require.Equal(t, time.UTC, got.Location())
			}
		})
	}
}

func TestDunning(t *testing.T) {
	t.Parallel()
	stored := syncT0.Add(-48 * time.Hour)
	pastDue := testSub("sub_1", stripe.SubscriptionStatusPastDue, "p")
	for _, tc := range []struct {
		name      string
		prev      time.Time
		f         fetched
		want      time.Time
		wantNeeds bool // needsFirstFailure: the ledger is read
		wantRows  []string
	}{
		{name: "starts failing: the first failure is found", f: fetched{sub: pastDue,
			invoice: testInvoice("in_1", stripe.InvoiceStatusOpen, 1)}, want: syncT0.Add(-time.Hour), wantNeeds: true},
		{name: "unpaid is failing too", f: fetched{sub: testSub("sub_1", stripe.SubscriptionStatusUnpaid, "p"),
			invoice: testInvoice("in_1", stripe.InvoiceStatusOpen, 4)}, want: syncT0.Add(-time.Hour), wantNeeds: true},
		{name: "keeps failing: the stored failure stays", prev: stored, f: fetched{sub: pastDue,
			invoice: testInvoice("in_2", stripe.InvoiceStatusOpen, 2)}, want: stored},
		{name: "recovers with the invoice paid: an email", prev: stored,
			f:        fetched{sub: testSub("sub_1", stripe.SubscriptionStatusActive, "p"), invoice: testInvoice("in_1", stripe.InvoiceStatusPaid, 2)},
			wantRows: []string{"invoice:in_1:payment_recovered_email"}},
		{name: "ends unpaid: cleared, no email", prev: stored,
			f: fetched{sub: testSub("sub_1", stripe.SubscriptionStatusCanceled, "p"), invoice: testInvoice("in_1", stripe.InvoiceStatusUncollectible, 4)}},
		{name: "recovers without an invoice: cleared, no email", prev: stored,
			f: fetched{sub: testSub("sub_1", stripe.SubscriptionStatusActive, "p")}},
		{name: "no subscription: not failing", prev: stored},
		{name: "never failed", f: fetched{sub: testSub("sub_1", stripe.SubscriptionStatusActive, "p"),
			invoice: testInvoice("in_1", stripe.InvoiceStatusPaid, 1)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			prev := Account{Snapshot: Snapshot{FirstPaymentFailedAt: tc.prev}}
			require.Equal(t, tc.wantNeeds, needsFirstFailure(prev, tc.f.sub))
			got, rows := dunning(tc.prev, syncHint{}, tc.f)
			require.Equal(t, tc.want, got)
			require.Equal(t, tc.wantRows, rowKeys(rows))
		})
	}
}

func TestNextAccount(t *testing.T) {
	t.Parallel()
	prev := Account{OrgID: "org", CustomerID: "cus_1", SubscriptionID: "sub_1", LatestInvoiceID: "in_0",
		Snapshot: Snapshot{Status: stripe.SubscriptionStatusActive, PriceID: "price_pro", CurrentPeriodEnd: syncT0,
			LatestInvoiceStatus: stripe.InvoiceStatusPaid},
		CheckoutSessionID: "cs_1", SyncedAt: syncT0}
	pastDue := testSub("sub_1", stripe.SubscriptionStatusPastDue, "price_pro")
	withdrawn := &stripe.Dispute{ID: "dp_1", Status: stripe.DisputeStatusNeedsResponse, Amount: 1999, Currency: "eur",
		BalanceTransactions: []*stripe.BalanceTransaction{{Amount: -1999}}}
	for _, tc := range []struct {
		name     string
		prev     Account
		customer string
		h        syncHint
		f        fetched
		want     func(*Account) // applied to a copy of prev
		wantRows []string
	}{
		{name: "first contact: the customer, nothing else yet", prev: Account{OrgID: "org"}, customer: "cus_1",
			want: func(a *Account) { *a = Account{OrgID: "org", CustomerID: "cus_1"} }},
		{name: "no subscription found: the snapshot stays, the invoice goes", prev: prev, customer: "cus_1",
			want: func(a *Account) { a.LatestInvoiceID, a.Snapshot.LatestInvoiceStatus = "", "" }},
		{name: "payment fails: snapshot, first failure, email, in that order", prev: prev, customer: "cus_1",
			h: syncHint{failedEvent: true, invoiceID: "in_1", failedAttempt: 1, eventTime: syncT0.Add(-time.Minute)},
			f: fetched{sub: pastDue, invoice: testInvoice("in_1", stripe.InvoiceStatusOpen, 1),
				eventInvoice: testInvoice("in_1", stripe.InvoiceStatusOpen, 1)},
			want: func(a *Account) {
				a.Snapshot.Status, a.Snapshot.CurrentPeriodEnd = stripe.SubscriptionStatusPastDue, syncPeriodEnd
				a.LatestInvoiceID, a.Snapshot.LatestInvoiceStatus = "in_1", stripe.InvoiceStatusOpen
				a.Snapshot.FirstPaymentFailedAt = syncT0.Add(-time.Hour) // Stripe's first attempt: the invoice's finalisation
			},
			wantRows: []string{"invoice:in_1:attempt:1:payment_failed_email", "invoice:in_1:attempt:1:payment_failed_email"}},
		{name: "dispute with funds withdrawn, beside a recovery", customer: "cus_1",
			prev: func() Account { a := prev; a.Snapshot.FirstPaymentFailedAt = syncT0; return a }(),
			f: fetched{sub: testSub("sub_1", stripe.SubscriptionStatusActive, "price_pro"),
				invoice: testInvoice("in_1", stripe.InvoiceStatusPaid, 2), disputes: []*stripe.Dispute{withdrawn}},
			want: func(a *Account) {
				a.Snapshot.CurrentPeriodEnd = syncPeriodEnd
				a.Snapshot.FirstPaymentFailedAt = time.Time{} // recovered
				a.LatestInvoiceID = "in_1"
				a.DisputeID, a.Dispute = "dp_1", DisputeState{Status: DisputeOpen, FundsWithdrawn: true}
				a.DisputeAmount, a.DisputeCurrency = 1999, "eur"
			},
			wantRows: []string{"invoice:in_1:payment_recovered_email", "dispute:dp_1:dispute_funds_withdrawn_alert"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			want := tc.prev
			tc.want(&want)
			got, rows := nextAccount(tc.prev, tc.customer, tc.h, tc.f)
			got.disputes = nil // mergeDisputes' own test
			require.Equal(t, want, got)
			require.Equal(t, tc.wantRows, rowKeys(rows))
		})
	}
}
