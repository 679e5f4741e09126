package billing

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/stripe/stripe-go/v85"

	"github.com/groundwork-dev/groundwork/internal/stripefake"
)

// The prices of the plan catalogue scenarios (issue 11, item 9): the
// plans' prices plus an add-on, a grandfathered Pro price, a Pro price in
// another currency and a price no plan has.
var catalogPrices = append([]stripefake.Price{
	{ID: "price_storage_monthly", Product: "prod_storage", UnitAmount: 500},
	{ID: "price_pro_2019", Product: "prod_pro", UnitAmount: 2000},
	{ID: "price_pro_monthly_usd", Product: "prod_pro_usd", UnitAmount: 3300, Currency: "usd",
		Metadata: map[string]string{PlanMetadata: "pro"}},
	{ID: "price_mystery", Product: "prod_mystery", UnitAmount: 4000},
	{ID: "price_business_monthly", Product: "prod_business", UnitAmount: 9000, LookupKey: "business_monthly"},
}, scenarioPrices[:2]...)

// catalogJSON knows Pro by its price IDs and its product, Business
// monthly only by lookup key (no price ID: it is resolved through Stripe).
const catalogJSON = `{"plans": [
	{"id": "free", "name": "Free", "seats": 3, "contacts": 500},
	{"id": "pro", "name": "Pro", "seats": 20, "contacts": 25000, "features": ["api_access", "exports"],
	 "prices": {"month": "price_pro_monthly", "year": "price_pro_yearly"}, "products": ["prod_pro"]},
	{"id": "business", "name": "Business", "seats": 200, "contacts": 500000, "features": ["sso"],
	 "lookup_keys": {"month": "business_monthly"}}]}`

// newCatalogScenario is a scenario whose module uses catalogJSON.
func newCatalogScenario(t *testing.T) *scenario {
	t.Helper()
	s := newScenario(t, stripefake.Options{Prices: catalogPrices})
	cat, err := LoadCatalog([]byte(catalogJSON), PriceIDs{})
	require.NoError(t, err)
	syncer, err := NewSyncer(SyncerConfig{Pool: s.db.Runtime, Stripe: s.fake.Client(), Catalog: cat, Clock: s.fake})
	require.NoError(t, err)
	svc, err := NewService(ServiceConfig{Syncer: syncer, BaseURL: "https://app.test"})
	require.NoError(t, err)
	s.syncer, s.svc = syncer, svc
	return s
}

// subscribeWith subscribes the organisation through a Checkout Session
// with the given prices as line items, in order, as a Dashboard-made or
// older integration would, and delivers the events.
func (s *scenario) subscribeWith(prices ...string) {
	s.t.Helper()
	cus, err := s.svc.ensureCustomer(s.ctx, s.org, CheckoutInput{})
	require.NoError(s.t, err)
	s.cus = cus
	var lines []*stripe.CheckoutSessionCreateLineItemParams
	for _, p := range prices {
		lines = append(lines, &stripe.CheckoutSessionCreateLineItemParams{Price: stripe.String(p), Quantity: stripe.Int64(1)})
	}
	cs, err := s.fake.Client().V1CheckoutSessions.Create(s.ctx, &stripe.CheckoutSessionCreateParams{
		Mode: stripe.String("subscription"), Customer: stripe.String(s.cus), ClientReferenceID: stripe.String(s.org),
		SuccessURL: stripe.String("https://app.test/billing/success"), LineItems: lines})
	require.NoError(s.t, err)
	s.sub, err = s.fake.CompleteCheckout(cs.ID)
	require.NoError(s.t, err)
	s.deliver()
}

// TestPlanFromAnAddOnListedFirst: a subscription whose first item is an
// add-on is on the plan of its other item (it was on the free plan), and
// plan changes change that item, keeping the add-on.
func TestPlanFromAnAddOnListedFirst(t *testing.T) {
	t.Parallel()
	s := newCatalogScenario(t)
	s.subscribeWith("price_storage_monthly", "price_pro_monthly")
	require.Equal(t, "price_storage_monthly", s.fake.Subscription(s.sub).Items.Data[0].Price.ID)
	s.entitled(PlanPro, AccessFull)
	a := s.account()
	require.Equal(t, PlanPro, a.Snapshot.Plan)
	require.Equal(t, IntervalMonth, a.Snapshot.Interval)
	require.Equal(t, "price_pro_monthly", a.Snapshot.PriceID, "the plan item's price, not the first item's")
	o, err := s.svc.Overview(s.ctx, s.scope)
	require.NoError(t, err)
	require.Equal(t, PlanPro, o.Plan.ID)
	require.Equal(t, IntervalMonth, o.Interval)

	// Upgrade to Business: its price is found by lookup key, and only the
	// plan item changes.
	p, err := s.svc.PreviewChange(s.ctx, s.scope, PlanBusiness)
	require.NoError(t, err)
	require.True(t, p.Upgrade)
	require.NoError(t, s.svc.ChangePlan(s.ctx, s.scope, PlanBusiness, p.ProrationDate))
	s.deliver()
	items := s.fake.Subscription(s.sub).Items.Data
	require.Len(t, items, 2)
	require.Equal(t, "price_storage_monthly", items[0].Price.ID)
	require.Equal(t, "price_business_monthly", items[1].Price.ID)
	s.entitled(PlanBusiness, AccessFull)

	// Downgrade back to Pro at the period end: the schedule keeps the add-on.
	_, err = s.svc.PreviewChange(s.ctx, s.scope, PlanPro)
	require.NoError(t, err)
	require.NoError(t, s.svc.ChangePlan(s.ctx, s.scope, PlanPro, s.fake.Now()))
	s.deliver()
	a = s.account()
	require.Equal(t, PlanPro, a.ScheduledPlan)
	require.Equal(t, "price_pro_monthly", a.ScheduledPriceID)
	_, err = s.fake.Renew(s.sub)
	require.NoError(t, err)
	s.deliver()
	items = s.fake.Subscription(s.sub).Items.Data
	require.Equal(t, []string{"price_storage_monthly", "price_pro_monthly"}, []string{items[0].Price.ID, items[1].Price.ID})
	s.entitled(PlanPro, AccessFull)
}

// TestPlanFromAnotherPriceOfThePlan: a grandfathered price of Pro's
// product, and a price in another currency naming Pro in its metadata, are
// Pro; Business is sold and recognised by its lookup key.
func TestPlanFromAnotherPriceOfThePlan(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		price string
		plan  PlanID
	}{
		{"price_pro_2019", PlanPro},        // grandfathered: by product
		{"price_pro_monthly_usd", PlanPro}, // other currency: by metadata
		{"price_business_monthly", PlanBusiness},
	} {
		t.Run(tc.price, func(t *testing.T) {
			t.Parallel()
			s := newCatalogScenario(t)
			s.subscribeWith(tc.price)
			s.entitled(tc.plan, AccessFull)
			require.Empty(t, s.alerts)
		})
	}
	t.Run("checkout by lookup key", func(t *testing.T) {
		t.Parallel()
		s := newCatalogScenario(t)
		cs := s.checkout(PlanBusiness, CheckoutInput{})
		require.Equal(t, "price_business_monthly", s.fake.CheckoutSessionParams(cs).Price)
		// Business is not sold yearly in this catalogue.
		_, err := s.svc.StartCheckout(s.ctx, s.scope, CheckoutInput{Plan: PlanBusiness, Interval: IntervalYear})
		require.ErrorContains(t, err, "not sold yearly")
	})
}

// TestUnknownPriceNeverDropsAPayingCustomerSilently: a price the catalogue
// does not know (created in the Dashboard, say) keeps a paying
// organisation on its plan and alerts the operator once; an organisation
// that never had a known plan is on the free plan, with the alert.
func TestUnknownPriceNeverDropsAPayingCustomerSilently(t *testing.T) {
	t.Parallel()
	s := newCatalogScenario(t)
	s.subscribeWith("price_pro_monthly")
	s.entitled(PlanPro, AccessFull)
	item := s.fake.Subscription(s.sub).Items.Data[0]
	_, err := s.fake.Client().V1Subscriptions.Update(s.ctx, s.sub, &stripe.SubscriptionUpdateParams{
		Items:             []*stripe.SubscriptionUpdateItemParams{{ID: stripe.String(item.ID), Price: stripe.String("price_mystery")}},
		ProrationBehavior: stripe.String("none")})
	require.NoError(t, err)
	s.deliver()
	s.entitled(PlanPro, AccessFull)
	require.Len(t, s.alerts, 1)
	require.Contains(t, s.alerts[0], "price_mystery")
	require.Contains(t, s.alerts[0], s.sub)
	// Once: another sync alerts no more.
	require.NoError(t, s.syncer.Sync(s.ctx, s.org))
	s.send()
	require.Len(t, s.alerts, 1)

	fresh := newCatalogScenario(t)
	fresh.subscribeWith("price_mystery")
	e := fresh.entitled(PlanFree, AccessFull)
	require.True(t, strings.Contains(e.Reason, "price_mystery"), e.Reason)
	require.Len(t, fresh.alerts, 1)
	require.Contains(t, fresh.alerts[0], "price_mystery")
}
