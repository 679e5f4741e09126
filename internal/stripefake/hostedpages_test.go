package stripefake_test

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stripe/stripe-go/v85"

	"github.com/groundwork-dev/groundwork/internal/stripefake"
)

// noRedirect is an HTTP client that returns redirects instead of following
// them, to read where the hosted pages send the browser.
var noRedirect = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// get fetches a hosted page and returns its status and body.
func get(t *testing.T, u string) (int, string) {
	t.Helper()
	resp, err := noRedirect.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestHostedCheckoutAndPortalPages: the hosted Checkout page shows the
// price's amount and completes on Pay, redirecting to the success URL; the
// portal page lists the customer's subscription, cancels it at the period
// end through the API (emitting customer.subscription.updated), takes the
// cancellation back, and links back to the return URL.
func TestHostedCheckoutAndPortalPages(t *testing.T) {
	t.Parallel()
	e := setup(t, stripefake.Options{})
	c := e.customer(t, "cus-hosted")
	cs := e.checkout(t, c.ID, "price_pro_monthly")
	status, body := get(t, cs.URL)
	if status != http.StatusOK || !strings.Contains(body, "30.00 EUR</strong> / month") || !strings.Contains(body, `id="pay"`) {
		t.Fatalf("checkout page: %d %s", status, body)
	}
	resp, err := noRedirect.PostForm(cs.URL, url.Values{"outcome": {"pay"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "https://app.example/billing/success?session_id="+cs.ID {
		t.Fatalf("pay: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	subs := e.fake.Subscriptions()
	if len(subs) != 1 {
		t.Fatalf("subscriptions after pay: %v", subs)
	}
	sub := subs[0]

	ps, err := e.sc.V1BillingPortalSessions.Create(e.ctx, &stripe.BillingPortalSessionCreateParams{
		Customer: stripe.String(c.ID), ReturnURL: stripe.String("https://app.example/billing")})
	if err != nil {
		t.Fatal(err)
	}
	status, body = get(t, ps.URL)
	if status != http.StatusOK || !strings.Contains(body, `id="cancel-`+sub+`"`) || !strings.Contains(body, `href="https://app.example/billing"`) {
		t.Fatalf("portal page: %d %s", status, body)
	}
	for _, tc := range []struct {
		action string
		want   bool
	}{{"cancel", true}, {"renew", false}} {
		before := len(e.fake.Events())
		resp, err := noRedirect.PostForm(ps.URL, url.Values{"subscription": {sub}, "action": {tc.action}})
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("%s: status %d", tc.action, resp.StatusCode)
		}
		if got := e.fake.Subscription(sub).CancelAtPeriodEnd; got != tc.want {
			t.Fatalf("%s: cancel_at_period_end %v", tc.action, got)
		}
		types := e.fake.EventTypes()[before:]
		if len(types) == 0 || types[len(types)-1] != "customer.subscription.updated" {
			t.Fatalf("%s: events %v", tc.action, types)
		}
	}
	// Another customer's subscription cannot be changed from this portal.
	resp, err = noRedirect.PostForm(ps.URL, url.Values{"subscription": {"sub_other"}, "action": {"cancel"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("another subscription: %d", resp.StatusCode)
	}
	if status, _ := get(t, e.fake.URL()+"/portal/bps_nope"); status != http.StatusNotFound {
		t.Fatalf("unknown portal session: %d", status)
	}
}
