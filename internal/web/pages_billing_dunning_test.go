package web

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/stripe/stripe-go/v85"

	"github.com/groundwork-dev/groundwork/internal/gw"
	"github.com/groundwork-dev/groundwork/internal/stripefake"
)

// TestBillingPagesDunning: issue 11 items 11, 14 and 20 on the billing
// page: a checkout paid by direct debit says "payment processing", a
// cancellation date set in Stripe is shown with a way to keep the
// subscription, and a paused subscription offers Resume.
func TestBillingPagesDunning(t *testing.T) {
	t.Parallel()
	e := newBillingEnv(t)
	fx := newPageFixtureWith(t, e, gw.RoleMember)
	fx.run(t, billingDunningScenarios())
}

// billingDunningScenarios are TestBillingPagesDunning's scenarios, in order.
func billingDunningScenarios() []scenario {
	checkout := func(o stripefake.CheckoutOutcome) func(t *testing.T, fx *pageFixture, r pageResponse) {
		return func(t *testing.T, fx *pageFixture, r pageResponse) {
			session := r.location[strings.LastIndex(r.location, "/")+1:]
			sub, err := fx.e.stripe.CompleteCheckoutWith(session, o)
			require.NoError(t, err)
			fx.vars["session"], fx.vars["sub"] = url.QueryEscape(session), sub
		}
	}
	return []scenario{
		{name: "checkout paid by direct debit", as: "owner", method: http.MethodPost, path: "/o/{org}/billing/checkout",
			form: url.Values{"plan": {"pro"}, "interval": {"month"}}, wantStatus: http.StatusSeeOther,
			check: checkout(stripefake.CheckoutOutcome{AsyncPayment: true})},
		{name: "back from checkout while the payment processes", as: "owner", path: "/o/{org}/billing/success?session_id={session}",
			wantStatus: http.StatusSeeOther, wantLocation: "/o/{org}/billing",
			check: func(t *testing.T, fx *pageFixture, _ pageResponse) {
				body := fx.follow(t, "owner", "/o/{org}/billing")
				require.Contains(t, body, "Thank you: your payment is processing.")
				require.NotContains(t, body, "your subscription is set up")
				require.Contains(t, body, "payment processing: the plan starts once the payment is confirmed")
				require.Contains(t, body, "Your plan: Free")
				require.Contains(t, body, `id="payment-processing"`)
				require.NotContains(t, body, "Upgrade to")
				require.NotContains(t, body, "/billing/cancel\"")
			}},
		{name: "the payment succeeds", as: "owner", path: "/o/{org}/billing/success?session_id={session}",
			setup: func(t *testing.T, fx *pageFixture) {
				require.NoError(t, fx.e.stripe.SettleAsyncPayment(mustUnescape(t, fx.vars["session"]), true))
			},
			wantStatus: http.StatusSeeOther, wantLocation: "/o/{org}/billing",
			check: func(t *testing.T, fx *pageFixture, _ pageResponse) {
				body := fx.follow(t, "owner", "/o/{org}/billing")
				require.Contains(t, body, "Thank you: your subscription is set up.")
				require.Contains(t, body, "Your plan: Pro (monthly)")
			}},
		{name: "a cancellation date set in Stripe's Dashboard", as: "owner", path: "/o/{org}/billing/success?session_id={session}",
			setup: func(t *testing.T, fx *pageFixture) {
				at := fx.e.stripe.Now().Add(5 * 24 * time.Hour)
				_, err := fx.e.stripe.Client().V1Subscriptions.Update(t.Context(), fx.vars["sub"],
					&stripe.SubscriptionUpdateParams{CancelAt: stripe.Int64(at.Unix())})
				require.NoError(t, err)
			}, // the success page syncs, as the webhook would
			wantStatus: http.StatusSeeOther, wantLocation: "/o/{org}/billing",
			check: func(t *testing.T, fx *pageFixture, _ pageResponse) {
				body := fx.follow(t, "owner", "/o/{org}/billing")
				require.Contains(t, body, `id="cancel-notice"`)
				require.Contains(t, body, "set to be canceled on")
				require.Contains(t, body, "Keep the subscription")
				require.NotContains(t, body, "/billing/cancel\"")
			}},
		{name: "keep the subscription", as: "owner", method: http.MethodPost, path: "/o/{org}/billing/reactivate",
			wantStatus: http.StatusSeeOther, wantLocation: "/o/{org}/billing",
			check: func(t *testing.T, fx *pageFixture, _ pageResponse) {
				body := fx.follow(t, "owner", "/o/{org}/billing")
				require.NotContains(t, body, `id="cancel-notice"`)
				require.Zero(t, fx.e.stripe.Subscription(fx.vars["sub"]).CancelAt)
			}},
		{name: "resume is forbidden to members", as: "member", method: http.MethodPost, path: "/o/{org}/billing/resume",
			wantStatus: http.StatusForbidden, wantText: forbidden("member")},
		{name: "resume an active subscription", as: "owner", method: http.MethodPost, path: "/o/{org}/billing/resume",
			wantStatus: http.StatusConflict, wantText: []string{"not paused: there is nothing to resume"}},
	}
}

func mustUnescape(t *testing.T, s string) string {
	t.Helper()
	u, err := url.QueryUnescape(s)
	require.NoError(t, err)
	return u
}
