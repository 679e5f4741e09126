package billing

import (
	"testing"

	"github.com/stretchr/testify/require"
)

var testPrices = PriceIDs{
	ProMonth: "price_pro_m", ProYear: "price_pro_y",
	BusinessMonth: "price_biz_m", BusinessYear: "price_biz_y",
}

func testCatalog(t *testing.T) *Catalog {
	t.Helper()
	c, err := NewCatalog(testPrices)
	require.NoError(t, err)
	return c
}

func TestNewCatalogValidatesPriceIDs(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		ids  PriceIDs
		err  string
	}{
		{"all set", testPrices, ""},
		{"missing", PriceIDs{ProMonth: "a", ProYear: "b", BusinessMonth: "c"}, "no Stripe price ID for plan business, interval year"},
		{"duplicate", PriceIDs{ProMonth: "a", ProYear: "b", BusinessMonth: "a", BusinessYear: "d"}, "used by both pro/month and business/month"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := NewCatalog(tc.ids)
			if tc.err == "" {
				require.NoError(t, err)
			} else {
				require.ErrorContains(t, err, tc.err)
			}
		})
	}
}

func TestCatalogLookups(t *testing.T) {
	t.Parallel()
	c := testCatalog(t)

	plans := c.Plans()
	require.Len(t, plans, 3)
	require.Equal(t, []PlanID{PlanFree, PlanPro, PlanBusiness}, []PlanID{plans[0].ID, plans[1].ID, plans[2].ID})
	require.True(t, c.Free().Free())
	require.Empty(t, c.Free().Prices, "the free plan needs no Stripe price")
	for i := 1; i < len(plans); i++ {
		require.Greater(t, plans[i].Limits.Seats, plans[i-1].Limits.Seats)
		require.Greater(t, plans[i].Limits.Contacts, plans[i-1].Limits.Contacts)
	}

	for _, tc := range []struct {
		price    string
		plan     PlanID
		interval Interval
		ok       bool
	}{
		{"price_pro_m", PlanPro, IntervalMonth, true},
		{"price_pro_y", PlanPro, IntervalYear, true},
		{"price_biz_m", PlanBusiness, IntervalMonth, true},
		{"price_biz_y", PlanBusiness, IntervalYear, true},
		{"price_unknown", "", "", false},
		{"", "", "", false},
	} {
		p, iv, ok := c.ByPrice(tc.price)
		require.Equal(t, tc.ok, ok, tc.price)
		require.Equal(t, tc.plan, p.ID, tc.price)
		require.Equal(t, tc.interval, iv, tc.price)
		if ok {
			back, ok := c.Price(p.ID, iv)
			require.True(t, ok)
			require.Equal(t, tc.price, back)
		}
	}
	_, ok := c.Price(PlanFree, IntervalMonth)
	require.False(t, ok)

	biz, ok := c.Plan(PlanBusiness)
	require.True(t, ok)
	require.True(t, biz.Limits.Has(FeatureSSO))
	require.False(t, c.Free().Limits.Has(FeatureSSO))
	_, ok = c.Plan("enterprise")
	require.False(t, ok)

	// Callers get copies: changing one changes nothing in the catalog.
	biz.Limits.Features[0] = "hacked"
	biz.Prices[IntervalMonth] = "price_hacked"
	again, _ := c.Plan(PlanBusiness)
	require.NotContains(t, again.Limits.Features, "hacked")
	require.Equal(t, "price_biz_m", again.Prices[IntervalMonth])
}
