//go:build e2e

package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/groundwork-dev/groundwork/internal/gwtest"
	"github.com/groundwork-dev/groundwork/internal/mailtest"
)

// TestE2EBrowserFakeStripe clicks billing through as a developer would on a
// laptop with no Stripe account: serve with GROUNDWORK_STRIPE=fake and no
// STRIPE_* variable, the plan cards priced from the fake's prices, Checkout
// on the fake's hosted page (Pay), back on the billing page with Pro active;
// then the fake's portal cancels at the period end, and the billing page
// learns it from the webhook the fake delivers to the app itself (signed
// with the shared secret), as it would learn it from Stripe.
func TestE2EBrowserFakeStripe(t *testing.T) {
	t.Parallel()
	gwtest.RequireTool(t, chromiumPath, "run scripts/install-deps.sh (apt-get install chromium) to run the browser tests")
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()

	port := freePort(t)
	base := "http://localhost:" + port
	mails := mailtest.Start(t)
	s := startServe(t, map[string]string{
		"GROUNDWORK_DATA_DIR": dataDir(t),
		"PORT":                port,
		"GROUNDWORK_BASE_URL": base,
		"SMTP_URL":            mails.URL(),
		"GROUNDWORK_STRIPE":   "fake",
	})
	waitReady(t, s.url)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("server logs:\n%s", s.logs)
		}
	})
	require.Contains(t, s.logs.String(), "built-in fake Stripe", "serve says billing is fake")
	browser := startChromium(t, ctx)
	shots := filepath.Join(screenshotDir(t), "fake-stripe")
	require.NoError(t, os.MkdirAll(shots, 0o755))

	a := newTab(t, browser, "owner", base, shots)
	signUpVerifyLogIn(a, mails, "founder@example.com", "plum-orchard-4471", false) // gitleaks:allow (test fixture)
	a.submit(`form[action="/orgs"]`, map[string]string{"name": "Laptop Labs"})
	slug := a.match(`/o/([a-z0-9-]+)/`)
	billingURL := base + "/o/" + slug + "/billing"

	// The plan cards show the fake Stripe's prices.
	a.open(billingURL)
	a.expectH1("Billing")
	a.expectText("Your plan: Free")
	a.expectText("29.00 EUR")
	a.expectText("99.00 EUR")
	a.screenshot("01-billing-free")

	// Choose Pro, monthly: the fake's hosted Checkout, Pay, and back.
	a.click(`form[action="/o/` + slug + `/billing/checkout"]:has(input[name="plan"][value="pro"]):has(input[name="interval"][value="month"]) button[type=submit]`)
	a.expectH1("Checkout")
	require.True(t, strings.HasPrefix(a.location(), "http://127.0.0.1:"), "the fake's own page: %s", a.location())
	a.screenshot("02-checkout")
	a.click("#pay")
	a.expectH1("Billing")
	require.Equal(t, billingURL, a.location())
	a.expectText("Your plan: Pro (monthly)")
	a.screenshot("03-billing-pro")

	// The customer portal: cancel at the end of the period, return.
	a.click(`form[action="/o/` + slug + `/billing/portal"] button[type=submit]`)
	a.expectH1("Customer portal")
	a.click(`button[id^="cancel-"]`)
	a.expectText("cancels at the end of the period")
	a.click("#return")
	a.expectH1("Billing")

	// The webhook the fake delivers (every second) brings the cancellation.
	deadline := time.Now().Add(30 * time.Second)
	for {
		a.open(billingURL)
		if n := step(a, "cancel notice", chromedp.Evaluate[int](`document.querySelectorAll("#cancel-notice").length`)); n == 1 {
			break
		}
		if time.Now().After(deadline) {
			a.fatalf("the billing page never showed the cancellation")
		}
		time.Sleep(500 * time.Millisecond)
	}
	a.expectText("Your plan: Pro (monthly)")
	a.screenshot("04-billing-cancelling")
	require.Contains(t, s.logs.String(), "/webhooks/stripe", "the fake delivered its events to the app")
}
