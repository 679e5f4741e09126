package main

import (
	"context"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/stripe/stripe-go/v85"

	"github.com/groundwork-dev/groundwork/internal/billing"
	"github.com/groundwork-dev/groundwork/internal/stripefake"
)

// TestServeWithStripeBilling runs serve with billing configured against the
// fake Stripe: webhooks delivered to POST /webhooks/stripe are recorded and
// processed by the billing queue's workers inside serve, and the ledger
// metrics show nothing left; a badly signed delivery is refused.
func TestServeWithStripeBilling(t *testing.T) {
	t.Parallel()
	fake := stripefake.New(stripefake.Options{Prices: []stripefake.Price{
		{ID: "price_pro_m", Product: "prod_pro", UnitAmount: 3000},
		{ID: "price_pro_y", Product: "prod_pro", UnitAmount: 30000, Interval: "year"},
		{ID: "price_biz_m", Product: "prod_biz", UnitAmount: 9000},
		{ID: "price_biz_y", Product: "prod_biz", UnitAmount: 90000, Interval: "year"},
	}}).Start(t)
	const secret = "whsec_serve_test"
	env := map[string]string{"GROUNDWORK_DATA_DIR": dataDir(t), "PORT": "0",
		"STRIPE_SECRET_KEY": "sk_test_serve", "STRIPE_WEBHOOK_SECRET": secret, "STRIPE_API_BASE": fake.URL(),
		"STRIPE_PRICE_PRO_MONTHLY": "price_pro_m", "STRIPE_PRICE_PRO_YEARLY": "price_pro_y",
		"STRIPE_PRICE_BUSINESS_MONTHLY": "price_biz_m", "STRIPE_PRICE_BUSINESS_YEARLY": "price_biz_y"}
	s := startServe(t, env)
	waitReady(t, s.url)

	_, _, err := runCmdIn(t, env, "a long enough password\n", "user", "create", "-email", "owner@example.com")
	require.NoError(t, err)
	out, _, err := runCmd(t, env, "org", "create", "-name", "Acme", "-owner", "owner@example.com")
	require.NoError(t, err)
	orgID := strings.TrimSpace(out)

	// A checkout made as the billing page makes it, completed on the fake.
	ctx := context.Background()
	sc := fake.Client()
	cus, err := sc.V1Customers.Create(ctx, &stripe.CustomerCreateParams{Metadata: map[string]string{billing.CustomerOrgMetadata: orgID}})
	require.NoError(t, err)
	cs, err := sc.V1CheckoutSessions.Create(ctx, &stripe.CheckoutSessionCreateParams{
		Mode: stripe.String("subscription"), Customer: stripe.String(cus.ID), ClientReferenceID: stripe.String(orgID),
		SuccessURL: stripe.String(s.url + "/o/" + orgID + "/billing/success?session_id={CHECKOUT_SESSION_ID}"),
		LineItems:  []*stripe.CheckoutSessionCreateLineItemParams{{Price: stripe.String("price_pro_m"), Quantity: stripe.Int64(1)}},
	})
	require.NoError(t, err)
	_, err = fake.CompleteCheckout(cs.ID)
	require.NoError(t, err)

	attempts, err := fake.Deliver(ctx, s.url+"/webhooks/stripe", secret, stripefake.DeliverOptions{Duplicate: 0.5, Shuffle: true, Seed: 7})
	require.NoError(t, err)
	require.NotEmpty(t, attempts)
	for _, a := range attempts {
		require.Equal(t, http.StatusOK, a.Status, "%s %s", a.Type, a.EventID)
	}
	require.Empty(t, fake.Pending(s.url+"/webhooks/stripe"))

	gauge := regexp.MustCompile(`(?m)^groundwork_billing_events_unprocessed (\d+)$`)
	require.Eventually(t, func() bool {
		_, body := get(t, s.url+"/metrics")
		m := gauge.FindStringSubmatch(body)
		return m != nil && m[1] == "0"
	}, 30*time.Second, 100*time.Millisecond, "the billing workers in serve process every event")
	_, body := get(t, s.url+"/metrics")
	require.Contains(t, body, "groundwork_billing_events_failed 0")
	require.Contains(t, body, `queue="billing"`)

	// The operator's view: the ledger, a re-sync, the reconciler.
	out, _, err = runCmd(t, env, "billing", "events")
	require.NoError(t, err)
	require.Contains(t, out, "checkout.session.completed")
	require.Contains(t, out, orgID)
	out, _, err = runCmd(t, env, "billing", "events", "-unprocessed")
	require.NoError(t, err)
	require.Equal(t, 1, strings.Count(strings.TrimSpace(out), "\n")+1, "only the header: %s", out)
	out, _, err = runCmd(t, env, "billing", "sync", "-org", "acme")
	require.NoError(t, err)
	require.Contains(t, out, "acme: plan pro, access full")
	// An operator grants Business for a while, then revokes it.
	out, _, err = runCmd(t, env, "billing", "grant-plan", "acme", "business", "-until", "2099-01-31", "-operator", "ops@example.com")
	require.NoError(t, err)
	require.Contains(t, out, "acme: plan business, access full")
	require.Contains(t, out, "Business granted by ops@example.com, until 2099-01-31T00:00:00Z")
	_, _, err = runCmd(t, env, "billing", "grant-plan", "acme", "gold", "-operator", "ops@example.com")
	require.ErrorContains(t, err, `Unknown plan "gold"`)
	out, _, err = runCmd(t, env, "billing", "grant-plan", "-org", "acme", "-plan", "free", "-operator", "ops@example.com")
	require.NoError(t, err)
	require.Contains(t, out, "acme: plan pro, access full")
	out, _, err = runCmd(t, env, "billing", "reconcile")
	require.NoError(t, err)
	require.Contains(t, out, "failed 0")
	_, _, err = runCmd(t, map[string]string{"GROUNDWORK_DATA_DIR": env["GROUNDWORK_DATA_DIR"]}, "billing", "events")
	require.ErrorContains(t, err, "Stripe billing is not configured")

	// A delivery signed with another secret is refused.
	fake.Advance(time.Hour)
	_, err = fake.Renew(fake.Subscriptions()[0])
	require.NoError(t, err)
	attempts, err = fake.Deliver(ctx, s.url+"/webhooks/stripe", "whsec_wrong", stripefake.DeliverOptions{})
	require.NoError(t, err)
	for _, a := range attempts {
		require.Equal(t, http.StatusBadRequest, a.Status, strconv.Itoa(a.Status))
	}
}
