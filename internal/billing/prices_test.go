package billing

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestPlanCardPricesFromStripe: the plan cards' prices come from Stripe
// (by the catalogue's price ID or lookup key), are fetched once per TTL,
// survive a Stripe outage once fetched, and without them the page says
// the price is shown at checkout rather than failing.
func TestPlanCardPricesFromStripe(t *testing.T) {
	t.Parallel()
	s := newCatalogScenario(t)
	priceRequests := func() int {
		n := 0
		for _, r := range s.fake.Requests() {
			if r.Method == "GET" && (r.Path == "/v1/prices" || len(r.Path) > len("/v1/prices/") && r.Path[:len("/v1/prices/")] == "/v1/prices/") {
				n++
			}
		}
		return n
	}
	o, err := s.svc.Overview(s.ctx, s.scope)
	require.NoError(t, err)
	require.False(t, o.PricesUnavailable)
	require.Equal(t, "30.00 EUR / month", o.PriceOf(PlanPro, IntervalMonth))
	require.Equal(t, "300.00 EUR / year", o.PriceOf(PlanPro, IntervalYear))
	require.Equal(t, "90.00 EUR / month", o.PriceOf(PlanBusiness, IntervalMonth), "by lookup key")
	require.Empty(t, o.PriceOf(PlanBusiness, IntervalYear), "not sold yearly")
	fetched := priceRequests()
	require.Equal(t, 3, fetched, "two price IDs, one lookup-key list")

	// Cached: the next page asks Stripe nothing about prices.
	_, err = s.svc.Overview(s.ctx, s.scope)
	require.NoError(t, err)
	require.Equal(t, fetched, priceRequests())

	// Stripe down past the TTL: the prices fetched before are shown.
	s.fake.SetUnavailable(true)
	s.fake.Advance(DefaultPriceCacheTTL + time.Minute)
	prices, ok := s.svc.Prices(s.ctx)
	require.True(t, ok)
	require.Equal(t, int64(3000), prices[PlanPro][IntervalMonth].UnitAmount)
	// and Stripe is not asked again within a minute of the failure.
	n := priceRequests()
	_, _ = s.svc.Prices(s.ctx)
	require.Equal(t, n, priceRequests())

	// A process that never reached Stripe shows no amounts.
	fresh, err := NewService(ServiceConfig{Syncer: s.syncer, BaseURL: "https://app.test"})
	require.NoError(t, err)
	prices, ok = fresh.Prices(s.ctx)
	require.False(t, ok)
	require.Empty(t, prices)
	s.fake.SetUnavailable(false)
}
