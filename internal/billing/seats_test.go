package billing

import (
	"context"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/stretchr/testify/require"

	"github.com/groundwork-dev/groundwork/internal/postgres"
	"github.com/groundwork-dev/groundwork/internal/stripefake"
)

// TestPerSeatQuantityFollowsMembers: with a per-seat plan, a member change
// enqueues a seat-sync job in its transaction, and
// the job sets the plan item's quantity to the member count, prorated into
// the next invoice; running it again changes nothing.
func TestPerSeatQuantityFollowsMembers(t *testing.T) {
	t.Parallel()
	s := newScenario(t, stripefake.Options{Prices: catalogPrices})
	cat, err := LoadCatalog([]byte(strings.Replace(catalogJSON, `"products": ["prod_pro"]`, `"products": ["prod_pro"], "per_seat": true`, 1)), PriceIDs{})
	require.NoError(t, err)
	syncer, err := NewSyncer(SyncerConfig{Pool: s.db.Runtime, Stripe: s.fake.Client(), Catalog: cat, Clock: s.fake, Jobs: s.syncer.cfg.Jobs})
	require.NoError(t, err)
	svc, err := NewService(ServiceConfig{Syncer: syncer, BaseURL: "https://app.test"})
	require.NoError(t, err)
	s.syncer, s.svc = syncer, svc
	s.subscribeWith("price_storage_monthly", "price_pro_monthly")
	s.entitled(PlanPro, AccessFull)

	// Two member changes: two jobs (the second will find nothing to do).
	for range 2 {
		require.NoError(t, postgres.InOrgTx(s.ctx, s.db.Runtime, s.org, func(tx pgx.Tx) error {
			return syncer.Enforcer().SeatsChangedTx(s.ctx, tx, s.org)
		}))
	}
	var jobs int
	require.NoError(t, s.db.Runtime.QueryRow(s.ctx, `SELECT count(*) FROM river_job WHERE kind = 'billing.sync_seats'`).Scan(&jobs))
	require.Equal(t, 2, jobs)

	w := &SyncSeatsWorker{Service: svc, Members: func(_ context.Context, orgID string) (int, error) {
		require.Equal(t, s.org, orgID)
		return 7, nil
	}}
	require.NoError(t, w.Work(s.ctx, &river.Job[SyncSeatsArgs]{Args: SyncSeatsArgs{OrgID: s.org}}))
	items := s.fake.Subscription(s.sub).Items.Data
	require.Equal(t, int64(1), items[0].Quantity, "the add-on keeps its quantity")
	require.Equal(t, int64(7), items[1].Quantity, "the plan item: one per member")

	updates := func() int {
		n := 0
		for _, r := range s.fake.Requests() {
			if r.Method == "POST" && r.Path == "/v1/subscriptions/"+s.sub {
				n++
			}
		}
		return n
	}
	before := updates()
	require.NoError(t, w.Work(s.ctx, &river.Job[SyncSeatsArgs]{Args: SyncSeatsArgs{OrgID: s.org}}))
	require.Equal(t, before, updates(), "idempotent: the quantity is right already")

	// The next renewal bills seven seats, plus the six added for the whole
	// period just ended (the change was made at its start).
	inv, err := s.fake.Renew(s.sub)
	require.NoError(t, err)
	require.Equal(t, int64(500+7*3000+6*3000), s.fake.Invoice(inv).Subtotal)
}

// TestPerSeatCheckoutBuysEveryMember: a per-seat plan is checked out with
// the member count as its quantity; another plan with one.
func TestPerSeatCheckoutBuysEveryMember(t *testing.T) {
	t.Parallel()
	s := newScenario(t, stripefake.Options{Prices: catalogPrices})
	cat, err := LoadCatalog([]byte(strings.Replace(catalogJSON, `"products": ["prod_pro"]`, `"products": ["prod_pro"], "per_seat": true`, 1)), PriceIDs{})
	require.NoError(t, err)
	syncer, err := NewSyncer(SyncerConfig{Pool: s.db.Runtime, Stripe: s.fake.Client(), Catalog: cat, Clock: s.fake})
	require.NoError(t, err)
	s.svc, err = NewService(ServiceConfig{Syncer: syncer, BaseURL: "https://app.test"})
	require.NoError(t, err)
	cs := s.checkout(PlanPro, CheckoutInput{Seats: 4})
	require.Equal(t, int64(4), s.fake.CheckoutSessionParams(cs).Quantity)
	cs = s.checkout(PlanBusiness, CheckoutInput{Seats: 4})
	require.Equal(t, int64(1), s.fake.CheckoutSessionParams(cs).Quantity)
}

// TestSyncSeatsHoldsNoLockWhileStripeAnswers: the seat sync fetches and
// updates the subscription with no transaction open and the billing row
// free (issue 11, item 8), then syncs as every action does.
func TestSyncSeatsHoldsNoLockWhileStripeAnswers(t *testing.T) {
	t.Parallel()
	s := newScenario(t, stripefake.Options{Prices: catalogPrices})
	cat, err := LoadCatalog([]byte(strings.Replace(catalogJSON, `"products": ["prod_pro"]`, `"products": ["prod_pro"], "per_seat": true`, 1)), PriceIDs{})
	require.NoError(t, err)
	s.syncer, err = NewSyncer(SyncerConfig{Pool: s.db.Runtime, Stripe: s.fake.Client(), Catalog: cat, Clock: s.fake, Jobs: s.syncer.cfg.Jobs})
	require.NoError(t, err)
	s.svc, err = NewService(ServiceConfig{Syncer: s.syncer, BaseURL: "https://app.test"})
	require.NoError(t, err)
	s.subscribeWith("price_storage_monthly", "price_pro_monthly")
	g, _, svc := s.gated()
	checked := s.requireNoLockWhileStripeAnswers(g)
	require.NoError(t, svc.SyncSeats(s.ctx, s.org, 5))
	g.set(nil)
	require.True(t, checked()["POST /v1/subscriptions/{id}"], "the update was checked (checked: %v)", checked())
	require.Equal(t, int64(5), s.fake.Subscription(s.sub).Items.Data[1].Quantity)
	s.entitled(PlanPro, AccessFull)
}
