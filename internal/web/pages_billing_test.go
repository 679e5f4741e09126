package web

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/groundwork-dev/groundwork/internal/gw"
)

// TestBillingPages: the billing page, Stripe Checkout and the Customer
// Portal, plan changes, cancelling and reactivating, with billing
// configured against the fake Stripe (newBillingEnv).
func TestBillingPages(t *testing.T) {
	t.Parallel()
	e := newBillingEnv(t)
	fx := newPageFixtureWith(t, e, gw.RoleAdmin, gw.RoleMember) // the free plan has three seats
	fx.vars["stripe"] = e.stripe.URL()
	fx.run(t, billingScenarios())
}

// prorationRE finds the proration date the plan-change preview carries.
var prorationRE = regexp.MustCompile(`name="proration_date" value="([0-9]+)"`)

func billingScenarios() []scenario {
	return []scenario{
		{name: "billing page on the free plan", as: "owner", path: "/o/{org}/billing", wantStatus: http.StatusOK,
			wantText: []string{"Your plan: Free", `action="/o/{org}/billing/checkout"`, "Choose Pro monthly",
				`href="/o/{org}/billing">Billing</a>`, `name="trial" value="true"`, "Start a 14-day free trial of Pro monthly",
				`<p class="price">30.00 EUR / month</p>`, `<p class="price">900.00 EUR / year</p>`},
			notText: []string{"free trial of Business"}},
		{name: "billing page is forbidden to admins", as: "admin", path: "/o/{org}/billing",
			wantStatus: http.StatusForbidden, wantText: forbidden("admin")},
		{name: "checkout of an unknown plan", as: "owner", method: http.MethodPost, path: "/o/{org}/billing/checkout",
			form: url.Values{"plan": {"gold"}, "interval": {"month"}}, wantStatus: http.StatusUnprocessableEntity,
			wantText: []string{"Choose a paid plan.", "Your plan: Free"}},
		{name: "checkout is forbidden to members", as: "member", method: http.MethodPost, path: "/o/{org}/billing/checkout",
			form: url.Values{"plan": {"pro"}, "interval": {"month"}}, wantStatus: http.StatusForbidden, wantText: forbidden("member")},
		{name: "checkout", as: "owner", method: http.MethodPost, path: "/o/{org}/billing/checkout",
			form: url.Values{"plan": {"pro"}, "interval": {"month"}}, wantStatus: http.StatusSeeOther,
			check: func(t *testing.T, fx *pageFixture, r pageResponse) {
				require.Contains(t, r.location, "/c/pay/", "to Stripe Checkout")
				session := r.location[strings.LastIndex(r.location, "/")+1:]
				_, err := fx.e.stripe.CompleteCheckout(session)
				require.NoError(t, err)
				fx.vars["session"] = url.QueryEscape(session)
			}},
		{name: "back from checkout", as: "owner", path: "/o/{org}/billing/success?session_id={session}",
			wantStatus: http.StatusSeeOther, wantLocation: "/o/{org}/billing",
			check: func(t *testing.T, fx *pageFixture, _ pageResponse) {
				body := fx.follow(t, "owner", "/o/{org}/billing")
				require.Contains(t, body, "Thank you: your subscription is set up.")
				require.Contains(t, body, "Your plan: Pro (monthly)")
				require.Contains(t, body, "Upgrade to Business</a> (90.00 EUR / month, ")
				require.Contains(t, body, `href="/o/`+fx.vars["org"]+`/billing/change?plan=pro&amp;interval=year">Switch to yearly billing`)
			}},
		{name: "back from checkout without a session", as: "owner", path: "/o/{org}/billing/success",
			wantStatus: http.StatusUnprocessableEntity, wantText: []string{"Missing checkout session.", "Your plan: Pro (monthly)"}},
		{name: "customer portal", as: "owner", method: http.MethodPost, path: "/o/{org}/billing/portal",
			wantStatus: http.StatusSeeOther, wantLocation: "{stripe}/portal/*"},
		{name: "cancel", as: "owner", method: http.MethodPost, path: "/o/{org}/billing/cancel",
			wantStatus: http.StatusSeeOther, wantLocation: "/o/{org}/billing",
			check: func(t *testing.T, fx *pageFixture, _ pageResponse) {
				body := fx.follow(t, "owner", "/o/{org}/billing")
				require.Contains(t, body, "The subscription will end at the end of the billing period.")
				require.Contains(t, body, `id="cancel-notice"`)
			}},
		{name: "cancel twice", as: "owner", method: http.MethodPost, path: "/o/{org}/billing/cancel",
			wantStatus: http.StatusConflict, wantText: []string{"already ends at the period end", "Your plan: Pro"}},
		{name: "reactivate", as: "owner", method: http.MethodPost, path: "/o/{org}/billing/reactivate",
			wantStatus: http.StatusSeeOther, wantLocation: "/o/{org}/billing",
			check: func(t *testing.T, fx *pageFixture, _ pageResponse) {
				body := fx.follow(t, "owner", "/o/{org}/billing")
				require.Contains(t, body, "The subscription is reactivated.")
				require.NotContains(t, body, `id="cancel-notice"`)
			}},
		{name: "reactivate is forbidden to members", as: "member", method: http.MethodPost, path: "/o/{org}/billing/reactivate",
			wantStatus: http.StatusForbidden, wantText: forbidden("member")},
		{name: "plan change preview", as: "owner", path: "/o/{org}/billing/change?plan=business", wantStatus: http.StatusOK,
			wantText: []string{"Change plan: Pro → Business", "Charged now", `name="proration_date"`},
			notText:  []string{`name="interval"`},
			check: func(t *testing.T, fx *pageFixture, r pageResponse) {
				m := prorationRE.FindStringSubmatch(r.body)
				require.NotNil(t, m)
				fx.vars["proration"] = m[1]
			}},
		{name: "plan change preview of an unknown plan", as: "owner", path: "/o/{org}/billing/change?plan=gold",
			wantStatus: http.StatusUnprocessableEntity, wantText: []string{"Unknown plan.", "Your plan: Pro"}},
		{name: "plan change with a broken preview", as: "owner", method: http.MethodPost, path: "/o/{org}/billing/change",
			form: url.Values{"plan": {"business"}, "proration_date": {"soon"}}, wantStatus: http.StatusUnprocessableEntity,
			wantText: []string{"The price preview is invalid: preview the change again."}},
		{name: "plan change", as: "owner", method: http.MethodPost, path: "/o/{org}/billing/change",
			form:       url.Values{"plan": {"business"}, "proration_date": {"{proration}"}},
			wantStatus: http.StatusSeeOther, wantLocation: "/o/{org}/billing",
			check: func(t *testing.T, fx *pageFixture, _ pageResponse) {
				body := fx.follow(t, "owner", "/o/{org}/billing")
				require.Contains(t, body, "Business")
				require.Contains(t, body, "You are now on the Business plan.")
			}},
		{name: "downgrade at the period end", as: "owner", method: http.MethodPost, path: "/o/{org}/billing/change",
			form: url.Values{"plan": {"pro"}}, wantStatus: http.StatusSeeOther, wantLocation: "/o/{org}/billing",
			check: func(t *testing.T, fx *pageFixture, _ pageResponse) {
				body := fx.follow(t, "owner", "/o/{org}/billing")
				require.Contains(t, body, "is scheduled for the end of the billing period")
				require.Contains(t, body, `id="scheduled-plan"`)
				require.Contains(t, body, `action="/o/`+fx.vars["org"]+`/billing/keep-plan"`)
			}},
		{name: "keep my plan is forbidden to members", as: "member", method: http.MethodPost, path: "/o/{org}/billing/keep-plan",
			wantStatus: http.StatusForbidden, wantText: forbidden("member")},
		{name: "keep my current plan", as: "owner", method: http.MethodPost, path: "/o/{org}/billing/keep-plan",
			wantStatus: http.StatusSeeOther, wantLocation: "/o/{org}/billing",
			check: func(t *testing.T, fx *pageFixture, _ pageResponse) {
				body := fx.follow(t, "owner", "/o/{org}/billing")
				require.Contains(t, body, "You keep your current plan: the scheduled change is canceled.")
				require.NotContains(t, body, `id="scheduled-plan"`)
			}},
		{name: "keep my current plan with nothing scheduled", as: "owner", method: http.MethodPost, path: "/o/{org}/billing/keep-plan",
			wantStatus: http.StatusConflict, wantText: []string{"No plan change is scheduled.", "Your plan: Business"}},
		{name: "switch to yearly billing: preview", as: "owner", path: "/o/{org}/billing/change?plan=business&interval=year", wantStatus: http.StatusOK,
			wantText: []string{"Change plan: Business (monthly) → Business (yearly)", "Charged now", `name="interval" value="year"`},
			check: func(t *testing.T, fx *pageFixture, r pageResponse) {
				m := prorationRE.FindStringSubmatch(r.body)
				require.NotNil(t, m)
				fx.vars["proration"] = m[1]
			}},
		{name: "switch to an unknown interval", as: "owner", path: "/o/{org}/billing/change?plan=business&interval=week",
			wantStatus: http.StatusUnprocessableEntity, wantText: []string{"Choose a monthly or yearly billing interval."}},
		{name: "switch to yearly billing", as: "owner", method: http.MethodPost, path: "/o/{org}/billing/change",
			form:       url.Values{"plan": {"business"}, "interval": {"year"}, "proration_date": {"{proration}"}},
			wantStatus: http.StatusSeeOther, wantLocation: "/o/{org}/billing",
			check: func(t *testing.T, fx *pageFixture, _ pageResponse) {
				body := fx.follow(t, "owner", "/o/{org}/billing")
				require.Contains(t, body, "You are now on the Business, billed yearly, plan.")
				require.Contains(t, body, "Your plan: Business (yearly)")
				require.Contains(t, body, "Switch to monthly billing")
			}},
	}
}
