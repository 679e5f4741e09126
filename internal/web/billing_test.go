package web

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
	"github.com/stripe/stripe-go/v85"

	"github.com/groundwork-dev/groundwork/internal/billing"
	"github.com/groundwork-dev/groundwork/internal/gw"
	"github.com/groundwork-dev/groundwork/internal/postgres"
	"github.com/groundwork-dev/groundwork/internal/stripefake"
)

// testEvent is a Stripe event of this build's API version.
func testEvent(id, apiVersion string) []byte {
	return stripefake.EventPayload(&stripe.Event{ID: id, Object: "event", Type: "customer.created",
		APIVersion: apiVersion, Created: time.Now().Unix(),
		Data: &stripe.EventData{Raw: json.RawMessage(`{"id":"cus_web_test","object":"customer"}`)}})
}

// postWebhook posts payload to /webhooks/stripe with the signature header
// sig, as Stripe does: no cookies, no Origin, no Sec-Fetch-Site.
func (e *env) postWebhook(payload []byte, sig string) (int, string) {
	e.t.Helper()
	req, err := http.NewRequest(http.MethodPost, e.srv.URL+"/webhooks/stripe", bytes.NewReader(payload))
	require.NoError(e.t, err)
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	if sig != "" {
		req.Header.Set("Stripe-Signature", sig)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(e.t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(e.t, err)
	return resp.StatusCode, string(b)
}

// storedEvents counts the rows of the webhook ledger.
func (e *env) storedEvents() int {
	e.t.Helper()
	var n int
	require.NoError(e.t, e.db.Owner.QueryRow(context.Background(), `SELECT count(*) FROM stripe_events`).Scan(&n))
	return n
}

func TestStripeWebhookRoute(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var alerts []error
	alert := func(_ context.Context, err error) {
		mu.Lock()
		defer mu.Unlock()
		alerts = append(alerts, err)
	}
	e := newBillingEnv(t, func(d *Deps) {
		d.OnError = alert
		d.StripeWebhooks.OnVersionSkew = alert // as serve wires app.Options.Alert
	})

	t.Run("signed event is recorded once, duplicates acknowledged", func(t *testing.T) {
		payload := testEvent("evt_web_signed", stripe.APIVersion)
		status, body := e.postWebhook(payload, stripefake.SignPayload(payload, time.Now(), e.webhookSecret))
		require.Equal(t, http.StatusOK, status, body)
		require.JSONEq(t, `{"received":true}`, body)
		status, body = e.postWebhook(payload, stripefake.SignPayload(payload, time.Now(), e.webhookSecret))
		require.Equal(t, http.StatusOK, status, body)
		require.JSONEq(t, `{"received":true}`, body)
		var n int
		require.NoError(t, e.db.Owner.QueryRow(context.Background(),
			`SELECT count(*) FROM stripe_events WHERE id = 'evt_web_signed'`).Scan(&n))
		require.Equal(t, 1, n)
	})

	t.Run("bad signature stores nothing", func(t *testing.T) {
		before := e.storedEvents()
		payload := testEvent("evt_web_badsig", stripe.APIVersion)
		for _, sig := range []string{
			stripefake.SignPayload(payload, time.Now(), "whsec_wrong"),
			stripefake.SignPayload(payload, time.Now().Add(-time.Hour), e.webhookSecret), // stale
			"", // missing
		} {
			status, body := e.postWebhook(payload, sig)
			require.Equal(t, http.StatusBadRequest, status, body)
			require.Contains(t, body, `"error"`)
		}
		require.Equal(t, before, e.storedEvents())
	})

	t.Run("another API version is recorded and alerted", func(t *testing.T) {
		before := e.storedEvents()
		payload := testEvent("evt_web_oldversion", "2020-08-27")
		status, body := e.postWebhook(payload, stripefake.SignPayload(payload, time.Now(), e.webhookSecret))
		require.Equal(t, http.StatusOK, status, body)
		require.Equal(t, before+1, e.storedEvents())
		mu.Lock()
		defer mu.Unlock()
		require.Len(t, alerts, 1)
		require.ErrorIs(t, alerts[0], billing.ErrAPIVersionMismatch)
	})

	t.Run("oversized body is 413", func(t *testing.T) {
		before := e.storedEvents()
		payload := bytes.Repeat([]byte("x"), billing.MaxWebhookBody+1)
		status, body := e.postWebhook(payload, stripefake.SignPayload(payload, time.Now(), e.webhookSecret))
		require.Equal(t, http.StatusRequestEntityTooLarge, status, body)
		require.Equal(t, before, e.storedEvents())
	})
}

func TestStripeWebhookNotConfigured(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	payload := testEvent("evt_web_off", stripe.APIVersion)
	status, _ := e.postWebhook(payload, stripefake.SignPayload(payload, time.Now(), "whsec_any"))
	require.Equal(t, http.StatusNotFound, status)
}

// get fetches path as a browser and returns the status, Location and body.
func get(t *testing.T, c *http.Client, u string) (int, string, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	require.NoError(t, err)
	req.Header.Set("Accept", "text/html")
	resp, err := c.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, resp.Header.Get("Location"), string(b)
}

// post submits a form as a browser and returns the status, Location and body.
func post(t *testing.T, c *http.Client, u string, form url.Values) (int, string, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, u, strings.NewReader(form.Encode()))
	require.NoError(t, err)
	req.Header.Set("Accept", "text/html")
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := c.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, resp.Header.Get("Location"), string(b)
}

func TestBillingCheckoutFlow(t *testing.T) {
	t.Parallel()
	e := newBillingEnv(t)
	owner := e.user("owner@billing.example")
	o, _ := e.org(owner.ID, "Billing Co")
	c := e.login(owner.Email)
	base := e.srv.URL + "/o/" + o.Slug + "/billing"

	status, _, body := get(t, c, base)
	require.Equal(t, http.StatusOK, status, body)
	require.Contains(t, body, "Your plan: Free")
	require.Contains(t, body, `action="/o/`+o.Slug+`/billing/checkout"`)
	require.Contains(t, body, `href="/o/`+o.Slug+`/billing">Billing</a>`, "the sub-nav links to billing")

	status, loc, body := post(t, c, base+"/checkout", url.Values{"plan": {"pro"}, "interval": {"month"}})
	require.Equal(t, http.StatusSeeOther, status, body)
	require.True(t, strings.Contains(loc, "/c/pay/"), loc)
	sessionID := loc[strings.LastIndex(loc, "/")+1:]
	params := e.stripe.CheckoutSessionParams(sessionID)
	require.Equal(t, testPriceProMonth, params.Price)
	cs := e.stripe.CheckoutSession(sessionID)
	require.Equal(t, o.ID, cs.ClientReferenceID)
	require.Equal(t, e.srv.URL+billing.BillingPage(o.ID)+"/success?session_id={CHECKOUT_SESSION_ID}", cs.SuccessURL)

	_, err := e.stripe.CompleteCheckout(sessionID)
	require.NoError(t, err)

	// The success URL names the organisation by ID; {org} accepts it.
	status, loc, body = get(t, c, e.srv.URL+billing.BillingPage(o.ID)+"/success?session_id="+url.QueryEscape(sessionID))
	require.Equal(t, http.StatusSeeOther, status, body)
	require.Equal(t, "/o/"+o.Slug+"/billing", loc)
	status, _, body = get(t, c, base)
	require.Equal(t, http.StatusOK, status, body)
	require.Contains(t, body, "Your plan: Pro (monthly)")
	require.Contains(t, body, "your subscription is set up")
	require.Contains(t, body, "Upgrade to Business")
	require.Contains(t, body, "Manage payment methods and invoices")
	require.NotContains(t, body, `/billing/checkout"`, "no checkout once subscribed")

	// A second checkout goes to the Customer Portal, not a new session.
	sessions := 0
	for _, r := range e.stripe.Requests() {
		if r.Method == http.MethodPost && r.Path == "/v1/checkout/sessions" {
			sessions++
		}
	}
	status, loc, body = post(t, c, base+"/checkout", url.Values{"plan": {"business"}, "interval": {"month"}})
	require.Equal(t, http.StatusSeeOther, status, body)
	require.True(t, strings.HasPrefix(loc, e.stripe.URL()+"/portal/"), loc)
	after := 0
	for _, r := range e.stripe.Requests() {
		if r.Method == http.MethodPost && r.Path == "/v1/checkout/sessions" {
			after++
		}
	}
	require.Equal(t, sessions, after, "no new checkout session")

	// The portal button.
	status, loc, body = post(t, c, base+"/portal", nil)
	require.Equal(t, http.StatusSeeOther, status, body)
	require.True(t, strings.HasPrefix(loc, e.stripe.URL()+"/portal/"), loc)

	// The upgrade preview shows the amount charged now and carries the
	// proration date.
	status, _, body = get(t, c, base+"/change?plan=business")
	require.Equal(t, http.StatusOK, status, body)
	require.Contains(t, body, "Pro → Business")
	require.Contains(t, body, "Charged now")
	require.Contains(t, body, `name="proration_date"`)

	// Cancel at period end, then reactivate.
	status, loc, body = post(t, c, base+"/cancel", nil)
	require.Equal(t, http.StatusSeeOther, status, body)
	require.Equal(t, "/o/"+o.Slug+"/billing", loc)
	_, _, body = get(t, c, base)
	require.Contains(t, body, `id="cancel-notice"`)
	require.Contains(t, body, "/billing/reactivate")
	status, _, body = post(t, c, base+"/cancel", nil)
	require.Equal(t, http.StatusConflict, status, "cancelling twice is refused on the page: %s", body)
	require.Contains(t, body, "already ends at the period end")
	status, _, body = post(t, c, base+"/reactivate", nil)
	require.Equal(t, http.StatusSeeOther, status, body)
	_, _, body = get(t, c, base)
	require.NotContains(t, body, `id="cancel-notice"`)

	// The webhooks of all this are accepted.
	attempts, err := e.stripe.Deliver(context.Background(), e.srv.URL+"/webhooks/stripe", e.webhookSecret, stripefake.DeliverOptions{})
	require.NoError(t, err)
	require.NotEmpty(t, attempts)
	for _, a := range attempts {
		require.True(t, a.Delivered(), "attempt %+v", a)
	}
}

func TestBillingRefusesWithoutBillingManage(t *testing.T) {
	t.Parallel()
	e := newBillingEnv(t)
	owner := e.user("owner@refuse.example")
	o, ownerScope := e.org(owner.ID, "Refuse Co")
	for _, role := range []gw.Role{gw.RoleAdmin, gw.RoleMember} {
		u := e.user(string(role) + "@refuse.example")
		e.join(ownerScope, u, role)
		c := e.login(u.Email)
		n := 0
		for _, r := range Routes(Deps{}) {
			if !strings.Contains(r.Pattern, "/billing") {
				continue
			}
			n++
			method, path, _ := strings.Cut(r.Pattern, " ")
			path = strings.ReplaceAll(path, "{org}", o.Slug)
			var status int
			var body string
			if method == http.MethodGet {
				status, _, body = get(t, c, e.srv.URL+path+"?plan=pro&session_id=cs_x")
			} else {
				status, _, body = post(t, c, e.srv.URL+path, url.Values{"plan": {"pro"}, "interval": {"month"}})
			}
			require.Equal(t, http.StatusForbidden, status, "%s as %s: %s", r.Pattern, role, body)
		}
		require.Equal(t, 10, n, "every billing route")
		_, _, body := get(t, c, e.srv.URL+"/o/"+o.Slug+"/contacts")
		require.NotContains(t, body, `/billing">Billing</a>`, "no Billing link for %s", role)
	}
	require.Empty(t, e.stripe.Requests(), "nothing reached Stripe")
}

func TestBillingNotConfigured(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	owner := e.user("owner@nobilling.example")
	o, _ := e.org(owner.ID, "No Billing Co")
	c := e.login(owner.Email)
	for _, r := range Routes(Deps{}) {
		if !strings.Contains(r.Pattern, "/billing") {
			continue
		}
		method, path, _ := strings.Cut(r.Pattern, " ")
		path = e.srv.URL + strings.ReplaceAll(path, "{org}", o.Slug)
		var status int
		var body string
		if method == http.MethodGet {
			status, _, body = get(t, c, path)
		} else {
			status, _, body = post(t, c, path, nil)
		}
		require.Equal(t, http.StatusNotFound, status, "%s: %s", r.Pattern, body)
		require.Contains(t, body, billingOffMessage, r.Pattern)
	}
	_, _, body := get(t, c, e.srv.URL+"/o/"+o.Slug+"/contacts")
	require.NotContains(t, body, `/billing">Billing</a>`, "no Billing link without billing")
	require.NotContains(t, body, `id="billing-banner"`)
}

func TestBillingBanner(t *testing.T) {
	t.Parallel()
	e := newBillingEnv(t)
	ctx := context.Background()
	owner := e.user("owner@banner.example")
	o, ownerScope := e.org(owner.ID, "Banner Co")
	member := e.user("member@banner.example")
	e.join(ownerScope, member, gw.RoleMember)
	setStatus := func(status string, failedAt time.Time) {
		require.NoError(t, postgres.InOrgTx(ctx, e.db.Runtime, o.ID, func(tx pgx.Tx) error {
			_, err := tx.Exec(ctx, `INSERT INTO billing_accounts (org_id, subscription_id, status, price_id, first_payment_failed_at)
				VALUES ($1, 'sub_banner', $2, $3, $4)
				ON CONFLICT (org_id) DO UPDATE SET status = $2, first_payment_failed_at = $4`,
				o.ID, status, testPriceProMonth, failedAt)
			return err
		}))
	}
	ownerClient, memberClient := e.login(owner.Email), e.login(member.Email)
	contacts := e.srv.URL + "/o/" + o.Slug + "/contacts"

	_, _, body := get(t, ownerClient, contacts)
	require.NotContains(t, body, `id="billing-banner"`, "no banner on the free plan")

	failed := e.stripe.Now().Add(-24 * time.Hour)
	setStatus("past_due", failed)
	graceEnds := failed.Add(billing.DefaultGraceDays * 24 * time.Hour).UTC().Format("2006-01-02 15:04 UTC")
	status, _, body := get(t, ownerClient, contacts)
	require.Equal(t, http.StatusOK, status, body)
	require.Contains(t, body, "A payment failed. Update your payment method before "+graceEnds+" to keep full access.")
	require.Contains(t, body, `<a href="/o/`+o.Slug+`/billing">Go to billing</a>`)
	_, _, body = get(t, memberClient, contacts)
	require.Contains(t, body, "A payment failed.", "every member sees the banner")
	require.NotContains(t, body, "Go to billing", "only billing managers get the link")

	setStatus("unpaid", failed)
	_, _, body = get(t, ownerClient, contacts)
	require.Contains(t, body, "This organisation is read-only: payment retries are exhausted.")
	require.Contains(t, body, `<a href="/o/`+o.Slug+`/billing">Go to billing</a>`)
	_, _, body = get(t, ownerClient, e.srv.URL+"/o/"+o.Slug+"/members")
	require.Contains(t, body, "This organisation is read-only", "on every page of the organisation")
}
