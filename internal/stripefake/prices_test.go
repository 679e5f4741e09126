package stripefake_test

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/stripe/stripe-go/v85"

	"github.com/groundwork-dev/groundwork/internal/stripefake"
)

var pricedOptions = stripefake.Options{Prices: []stripefake.Price{
	{ID: "price_pro_monthly", Product: "prod_pro", UnitAmount: 3000, LookupKey: "pro_monthly",
		Metadata: map[string]string{"groundwork_plan": "pro"}},
	{ID: "price_pro_yearly", Product: "prod_pro", UnitAmount: 30000, Interval: "year", LookupKey: "pro_yearly"},
	{ID: "price_pro_2019", Product: "prod_pro", UnitAmount: 2000, Inactive: true},
	{ID: "price_storage", Product: "prod_storage", UnitAmount: 500},
	{ID: "price_pro_usd", Product: "prod_pro", UnitAmount: 3300, Currency: "usd"},
}}

// TestPrices: GET /v1/prices filters by lookup_keys (at most 10, as
// https://docs.stripe.com/api/prices/list says), active and product, and
// renders lookup_key, metadata and the product as an ID; GET
// /v1/prices/{id} returns one price or resource_missing.
func TestPrices(t *testing.T) {
	t.Parallel()
	e := setup(t, pricedOptions)
	var got []string
	for p, err := range e.sc.V1Prices.List(e.ctx, &stripe.PriceListParams{LookupKeys: stripe.StringSlice([]string{"pro_monthly", "pro_yearly", "nope"})}).All(e.ctx) {
		require.NoError(t, err)
		got = append(got, p.ID+" "+p.LookupKey)
	}
	require.ElementsMatch(t, []string{"price_pro_monthly pro_monthly", "price_pro_yearly pro_yearly"}, got)

	got = nil
	for p, err := range e.sc.V1Prices.List(e.ctx, &stripe.PriceListParams{Active: stripe.Bool(false)}).All(e.ctx) {
		require.NoError(t, err)
		got = append(got, p.ID)
	}
	require.Equal(t, []string{"price_pro_2019"}, got)

	keys := make([]string, 11)
	for i := range keys {
		keys[i] = "k" + string(rune('a'+i))
	}
	for _, err := range e.sc.V1Prices.List(e.ctx, &stripe.PriceListParams{LookupKeys: stripe.StringSlice(keys)}).All(e.ctx) {
		var se *stripe.Error
		require.True(t, errors.As(err, &se), "%v", err)
		require.Equal(t, "lookup_keys", se.Param)
		break
	}

	p, err := e.sc.V1Prices.Retrieve(e.ctx, "price_pro_monthly", nil)
	require.NoError(t, err)
	require.Equal(t, "pro_monthly", p.LookupKey)
	require.Equal(t, "pro", p.Metadata["groundwork_plan"])
	require.Equal(t, "prod_pro", p.Product.ID)
	require.Equal(t, int64(3000), p.UnitAmount)
	require.Equal(t, stripe.PriceRecurringIntervalMonth, p.Recurring.Interval)
	_, err = e.sc.V1Prices.Retrieve(e.ctx, "price_none", nil)
	var se *stripe.Error
	require.True(t, errors.As(err, &se))
	require.Equal(t, 404, se.HTTPStatusCode)

	e.fake.SetUnavailable(true)
	_, err = e.sc.V1Prices.Retrieve(e.ctx, "price_pro_monthly", nil)
	require.Error(t, err)
	e.fake.SetUnavailable(false)
	_, err = e.sc.V1Prices.Retrieve(e.ctx, "price_pro_monthly", nil)
	require.NoError(t, err)
	stripefake.CheckShapesAgainstStripeMock(t, e.fake.Requests())
}

// TestCheckoutSeveralItems: a Checkout Session with several line items
// makes a subscription with one item per line, in order, billed together;
// lines must share interval and currency, and inactive prices are refused.
func TestCheckoutSeveralItems(t *testing.T) {
	t.Parallel()
	e := setup(t, pricedOptions)
	c := e.customer(t, "k")
	create := func(prices ...string) (*stripe.CheckoutSession, error) {
		var lines []*stripe.CheckoutSessionCreateLineItemParams
		for _, p := range prices {
			lines = append(lines, &stripe.CheckoutSessionCreateLineItemParams{Price: stripe.String(p), Quantity: stripe.Int64(2)})
		}
		return e.sc.V1CheckoutSessions.Create(e.ctx, &stripe.CheckoutSessionCreateParams{
			Mode: stripe.String("subscription"), Customer: stripe.String(c.ID), LineItems: lines,
			SuccessURL: stripe.String("https://app.example/ok")})
	}
	cs, err := create("price_storage", "price_pro_monthly")
	require.NoError(t, err)
	require.Equal(t, []string{"price_storage", "price_pro_monthly"}, e.fake.CheckoutSessionParams(cs.ID).Prices)
	subID, err := e.fake.CompleteCheckout(cs.ID)
	require.NoError(t, err)
	sub := e.fake.Subscription(subID)
	require.Len(t, sub.Items.Data, 2)
	require.Equal(t, "price_storage", sub.Items.Data[0].Price.ID)
	require.Equal(t, "price_pro_monthly", sub.Items.Data[1].Price.ID)
	require.Equal(t, "pro_monthly", sub.Items.Data[1].Price.LookupKey)
	inv := e.fake.Invoice(sub.LatestInvoice.ID)
	require.Equal(t, int64(2*500+2*3000), inv.Subtotal)

	for _, tc := range []struct{ prices []string }{
		{[]string{"price_pro_monthly", "price_pro_yearly"}}, // interval
		{[]string{"price_pro_monthly", "price_pro_usd"}},    // currency
		{[]string{"price_pro_2019"}},                        // inactive
	} {
		_, err := create(tc.prices...)
		var se *stripe.Error
		require.True(t, errors.As(err, &se), "%v: %v", tc.prices, err)
		require.Equal(t, 400, se.HTTPStatusCode, tc.prices)
	}
	stripefake.CheckShapesAgainstStripeMock(t, e.fake.Requests())
}

// TestIntervalChange: moving a subscription to a price of another
// interval invoices at once, crediting the unused time and charging a
// whole new period from now, and restarts the period; the preview at the
// same proration date equals the invoice. A subscription whose items
// would end on different intervals is refused.
func TestIntervalChange(t *testing.T) {
	t.Parallel()
	e := setup(t, stripefake.Options{})
	_, subID := e.subscribe(t, "price_pro_monthly")
	e.fake.Advance(10 * 24 * time.Hour)
	item := e.fake.Subscription(subID).Items.Data[0]
	d := e.fake.Now().Unix()
	preview, err := e.sc.V1Invoices.CreatePreview(e.ctx, &stripe.InvoiceCreatePreviewParams{Subscription: stripe.String(subID),
		SubscriptionDetails: &stripe.InvoiceCreatePreviewSubscriptionDetailsParams{ProrationDate: stripe.Int64(d),
			Items: []*stripe.InvoiceCreatePreviewSubscriptionDetailsItemParams{{ID: stripe.String(item.ID), Price: stripe.String("price_pro_yearly")}}}})
	require.NoError(t, err)
	sub, err := e.sc.V1Subscriptions.Update(e.ctx, subID, &stripe.SubscriptionUpdateParams{ProrationDate: stripe.Int64(d),
		Items: []*stripe.SubscriptionUpdateItemParams{{ID: stripe.String(item.ID), Price: stripe.String("price_pro_yearly")}}})
	require.NoError(t, err)
	it := sub.Items.Data[0]
	require.Equal(t, "price_pro_yearly", it.Price.ID)
	require.Equal(t, d, it.CurrentPeriodStart)
	require.Equal(t, e.fake.Now().AddDate(1, 0, 0).Unix(), it.CurrentPeriodEnd)
	require.Equal(t, d, sub.BillingCycleAnchor)
	inv := e.fake.Invoice(sub.LatestInvoice.ID)
	require.Equal(t, stripe.InvoiceBillingReasonSubscriptionUpdate, inv.BillingReason)
	require.Equal(t, int64(30000-2032), inv.Total, "a year charged, 21 of 31 days of 30.00 credited")
	require.Equal(t, preview.Total, inv.Total)

	// An add-on left monthly beside a yearly plan item is refused.
	c := e.customer(t, "k2")
	cs, err := e.sc.V1CheckoutSessions.Create(e.ctx, &stripe.CheckoutSessionCreateParams{Mode: stripe.String("subscription"),
		Customer: stripe.String(c.ID), SuccessURL: stripe.String("https://app.example/ok"),
		LineItems: []*stripe.CheckoutSessionCreateLineItemParams{{Price: stripe.String("price_basic_monthly")}, {Price: stripe.String("price_pro_monthly")}}})
	require.NoError(t, err)
	two, err := e.fake.CompleteCheckout(cs.ID)
	require.NoError(t, err)
	items := e.fake.Subscription(two).Items.Data
	_, err = e.sc.V1Subscriptions.Update(e.ctx, two, &stripe.SubscriptionUpdateParams{
		Items: []*stripe.SubscriptionUpdateItemParams{{ID: stripe.String(items[1].ID), Price: stripe.String("price_pro_yearly")}}})
	var se *stripe.Error
	require.True(t, errors.As(err, &se), "%v", err)
	require.Equal(t, 400, se.HTTPStatusCode)
	stripefake.CheckShapesAgainstStripeMock(t, e.fake.Requests())
}
