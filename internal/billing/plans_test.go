package billing

import (
	"strings"
	"testing"

	"github.com/stripe/stripe-go/v85"

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
		// An interval without an override is sold by the shipped lookup key.
		{"some set", PriceIDs{ProMonth: "a", ProYear: "b", BusinessMonth: "c"}, ""},
		{"none set", PriceIDs{}, ""},
		{"duplicate", PriceIDs{ProMonth: "a", ProYear: "b", BusinessMonth: "a", BusinessYear: "d"}, `price "a" is used by both plan "pro" and plan "business"`},
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

// TestLoadCatalogErrorsAreOneLine: a founder's mistake in plans.json is
// refused at start with one line naming the plan and the field.
func TestLoadCatalogErrorsAreOneLine(t *testing.T) {
	t.Parallel()
	const free = `{"id": "free", "name": "Free", "seats": 1, "contacts": 1}`
	const pro = `{"id": "pro", "name": "Pro", "seats": 5, "contacts": 5, "prices": {"month": "price_a"}}`
	for _, tc := range []struct {
		name, json, err string
		ids             PriceIDs
	}{
		{"valid", `{"plans": [` + free + `, ` + pro + `]}`, "", PriceIDs{}},
		{"syntax", `{"plans": [` + free + `,]}`, "invalid JSON: invalid character ']'", PriceIDs{}},
		{"unknown field", `{"plans": [{"id": "free", "name": "Free", "seats": 1, "contacts": 1, "seat": 3}, ` + pro + `]}`,
			`invalid JSON: json: unknown field "seat"`, PriceIDs{}},
		{"only free", `{"plans": [` + free + `]}`, "needs the free plan first and at least one paid plan", PriceIDs{}},
		{"free with a price", `{"plans": [{"id": "free", "name": "Free", "seats": 1, "contacts": 1, "prices": {"month": "p"}}, ` + pro + `]}`,
			`plan "free" is the free plan (the first): it takes no prices`, PriceIDs{}},
		{"bad id", `{"plans": [` + free + `, {"id": "Pro Plan", "name": "Pro", "seats": 5, "contacts": 5, "prices": {"month": "p"}}]}`,
			`plan 2: id "Pro Plan" must be lower-case`, PriceIDs{}},
		{"twice", `{"plans": [` + free + `, ` + pro + `, {"id": "pro", "name": "Pro", "seats": 5, "contacts": 5, "prices": {"month": "p"}}]}`,
			`plan "pro" is defined twice`, PriceIDs{}},
		{"nothing to sell", `{"plans": [` + free + `, {"id": "pro", "name": "Pro", "seats": 5, "contacts": 5, "products": ["prod_pro"]}]}`,
			`plan "pro": no Stripe price to sell: set prices or lookup_keys for month and/or year`, PriceIDs{}},
		{"bad interval", `{"plans": [` + free + `, {"id": "pro", "name": "Pro", "seats": 5, "contacts": 5, "prices": {"week": "p"}}]}`,
			`plan "pro": prices: interval "week" is not month or year`, PriceIDs{}},
		{"shared product", `{"plans": [` + free + `, {"id": "pro", "name": "Pro", "seats": 5, "contacts": 5, "prices": {"month": "p"}, "products": ["prod_x"]},
			{"id": "biz", "name": "Biz", "seats": 9, "contacts": 9, "prices": {"month": "q"}, "products": ["prod_x"]}]}`,
			`product "prod_x" is used by both plan "pro" and plan "biz"`, PriceIDs{}},
		{"no seats", `{"plans": [` + free + `, {"id": "pro", "name": "Pro", "seats": 0, "contacts": 5, "prices": {"month": "p"}}]}`,
			`plan "pro": seats and contacts must be at least 1`, PriceIDs{}},
		{"override of a missing plan", `{"plans": [` + free + `, ` + pro + `]}`,
			`STRIPE_PRICE_BUSINESS_YEARLY is set but the catalogue has no paid plan "business"`, PriceIDs{BusinessYear: "price_b"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := LoadCatalog([]byte(tc.json), tc.ids)
			if tc.err == "" {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			require.NotContains(t, err.Error(), "\n", "one line")
			require.True(t, strings.HasPrefix(err.Error(), "billing: plan catalogue: "), err.Error())
			require.Contains(t, err.Error(), tc.err)
		})
	}
}

// TestShippedCatalogue: plans.json as shipped loads, sells every paid plan
// monthly and yearly by lookup key, and the STRIPE_PRICE_* overrides win.
func TestShippedCatalogue(t *testing.T) {
	t.Parallel()
	c, err := LoadCatalog(DefaultPlans(), PriceIDs{})
	require.NoError(t, err)
	for _, p := range c.Plans()[1:] {
		require.Equal(t, []Interval{IntervalMonth, IntervalYear}, p.Intervals(), p.ID)
		_, ok := c.Price(p.ID, IntervalMonth)
		require.False(t, ok, "sold by lookup key")
		require.NotEmpty(t, p.LookupKeys[IntervalMonth])
	}
	c = testCatalog(t)
	id, ok := c.Price(PlanPro, IntervalYear)
	require.True(t, ok)
	require.Equal(t, "price_pro_y", id)
}

// TestResolve: a price maps to its plan by ID, other_prices ID, lookup
// key, metadata[groundwork_plan] or product, in that order; anything else
// (an add-on) is no plan's.
func TestResolve(t *testing.T) {
	t.Parallel()
	c, err := LoadCatalog([]byte(`{"plans": [
		{"id": "free", "name": "Free", "seats": 1, "contacts": 1},
		{"id": "pro", "name": "Pro", "seats": 5, "contacts": 5, "prices": {"month": "price_pro_m"},
		 "lookup_keys": {"year": "pro_yearly"}, "other_prices": ["price_pro_2019"], "products": ["prod_pro"]},
		{"id": "business", "name": "Business", "seats": 9, "contacts": 9, "lookup_keys": {"month": "biz_monthly"}}]}`), PriceIDs{})
	require.NoError(t, err)
	price := func(id, key, product, plan string, iv stripe.PriceRecurringInterval) *stripe.Price {
		p := &stripe.Price{ID: id, LookupKey: key, Metadata: map[string]string{}}
		if product != "" {
			p.Product = &stripe.Product{ID: product}
		}
		if plan != "" {
			p.Metadata[PlanMetadata] = plan
		}
		if iv != "" {
			p.Recurring = &stripe.PriceRecurring{Interval: iv}
		}
		return p
	}
	for _, tc := range []struct {
		name  string
		price *stripe.Price
		plan  PlanID
		iv    Interval
	}{
		{"catalogue ID", price("price_pro_m", "", "", "", ""), PlanPro, IntervalMonth},
		{"grandfathered ID", price("price_pro_2019", "", "", "", "year"), PlanPro, IntervalYear},
		{"lookup key (the price moved on)", price("price_new", "pro_yearly", "", "", "year"), PlanPro, IntervalYear},
		{"metadata (another currency)", price("price_usd", "", "prod_other", "business", "month"), PlanBusiness, IntervalMonth},
		{"product (price increase)", price("price_pro_2027", "", "prod_pro", "", "month"), PlanPro, IntervalMonth},
		{"lookup key before product", price("price_x", "biz_monthly", "prod_pro", "", "month"), PlanBusiness, IntervalMonth},
		{"metadata naming the free plan", price("price_y", "", "", "free", "month"), "", ""},
		{"metadata naming no plan", price("price_y", "", "", "enterprise", "month"), "", ""},
		{"add-on", price("price_addon", "extra_storage", "prod_storage", "", "month"), "", ""},
		{"nil", nil, "", ""},
	} {
		p, iv, ok := c.Resolve(tc.price)
		require.Equal(t, tc.plan != "", ok, tc.name)
		require.Equal(t, tc.plan, p.ID, tc.name)
		require.Equal(t, tc.iv, iv, tc.name)
	}
	// Of several items, the plan's (the highest plan's) price is chosen.
	i, p, _, ok := c.planPrice([]*stripe.Price{price("price_addon", "", "prod_storage", "", "month"),
		price("price_pro_m", "", "", "", "month")})
	require.True(t, ok)
	require.Equal(t, 1, i)
	require.Equal(t, PlanPro, p.ID)
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
