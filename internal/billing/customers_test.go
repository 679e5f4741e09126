package billing

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"github.com/stripe/stripe-go/v85"

	"github.com/groundwork-dev/groundwork/internal/gw"
	"github.com/groundwork-dev/groundwork/internal/stripefake"
)

// deleteCustomer deletes the organisation's Stripe customer as an operator
// does in the Dashboard: Stripe cancels its subscription at once.
func (s *scenario) deleteCustomer() {
	s.t.Helper()
	_, err := s.fake.Client().V1Customers.Delete(s.ctx, s.cus, nil)
	require.NoError(s.t, err)
}

// resubscribe checks out plan as another owner (another email) and
// completes the payment, delivering everything.
func (s *scenario) resubscribe(plan PlanID) {
	s.t.Helper()
	id := s.checkout(plan, CheckoutInput{Email: "new-owner@acme.test", OrgName: "Acme Renamed"})
	sub, err := s.fake.CompleteCheckout(id)
	require.NoError(s.t, err)
	s.sub, s.cus = sub, s.account().CustomerID
	s.deliver()
}

// 18. A customer deleted in Stripe: its events still resolve to the
// organisation (through the customers the application recorded; the
// deleted customer no longer returns its metadata), the organisation is on
// the free plan with no customer, and subscribing again creates a new
// customer, even for another owner within Stripe's 24-hour idempotency
// window. Late events of the deleted customer change nothing.
func TestScenario18CustomerDeletedInStripe(t *testing.T) {
	t.Parallel()
	s := newScenario(t, stripefake.Options{})
	s.subscribe(PlanPro)
	s.deliver()
	s.entitled(PlanPro, AccessFull)
	old, oldSub := s.cus, s.sub

	s.deleteCustomer()
	ids, types := s.receive()
	require.Equal(t, []string{"customer.subscription.deleted", "customer.deleted"}, types)
	s.process(ids...)
	s.requireProcessed(ids...)
	s.entitled(PlanFree, AccessFull)
	a := s.account()
	require.Empty(t, a.CustomerID, "the deleted customer is forgotten")
	require.Empty(t, a.SubscriptionID)
	ov, err := s.svc.Overview(s.ctx, s.scope)
	require.NoError(t, err)
	require.False(t, ov.Live)

	s.resubscribe(PlanBusiness)
	require.NotEqual(t, old, s.cus, "a new customer")
	c, err := s.fake.Client().V1Customers.Retrieve(s.ctx, s.cus, nil)
	require.NoError(t, err)
	require.Equal(t, "new-owner@acme.test", c.Email)
	require.Equal(t, s.org, c.Metadata[CustomerOrgMetadata])
	s.requireTruth()
	s.entitled(PlanBusiness, AccessFull)

	// The deleted customer's events, delivered again, change nothing.
	s.process(ids...)
	s.requireTruth()
	require.Equal(t, s.cus, s.account().CustomerID)
	require.NotEqual(t, oldSub, s.account().SubscriptionID)
}

// A customer deleted in Stripe whose events have not arrived yet: the next
// checkout (by another owner, at once) notices it, forgets it and creates
// a new customer, instead of failing on the dead one.
func TestScenario18CustomerDeletedBeforeItsWebhooks(t *testing.T) {
	t.Parallel()
	s := newScenario(t, stripefake.Options{})
	s.subscribe(PlanPro)
	s.deliver()
	old := s.cus
	s.deleteCustomer()
	s.skip() // no webhook yet

	s.resubscribe(PlanPro)
	require.NotEqual(t, old, s.cus)
	s.requireTruth()
	s.entitled(PlanPro, AccessFull)
	require.True(t, s.fake.CustomerDeleted(old))
}

// The daily sweep (Syncer.Sync) notices a customer deleted while every
// webhook about it was lost.
func TestSyncNoticesADeletedCustomer(t *testing.T) {
	t.Parallel()
	s := newScenario(t, stripefake.Options{})
	s.subscribe(PlanPro)
	s.deliver()
	s.deleteCustomer()
	s.skip()
	s.entitled(PlanPro, AccessFull)
	require.NoError(t, s.syncer.Sync(s.ctx, s.org))
	s.entitled(PlanFree, AccessFull)
	require.Empty(t, s.account().CustomerID)
}

// cancelAfterCustomerCreate is a transport that cancels the request's
// caller once Stripe has answered the customer creation: the customer
// exists in Stripe, but the commit that would record it fails.
type cancelAfterCustomerCreate struct {
	cancel context.CancelFunc
}

func (c cancelAfterCustomerCreate) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := http.DefaultTransport.RoundTrip(r)
	if r.Method == http.MethodPost && r.URL.Path == "/v1/customers" {
		c.cancel()
	}
	return resp, err
}

// Item 17. The customer's idempotency key is the attempt's, not the
// organisation's: after a first attempt whose commit failed, another owner
// (another email and name) can still start a checkout, where a key per
// organisation is refused by Stripe with idempotency_error for 24 hours.
func TestCheckoutAfterAFailedCustomerCommit(t *testing.T) {
	t.Parallel()
	s := newScenario(t, stripefake.Options{})
	ctx, cancel := context.WithCancel(s.ctx)
	b := stripe.GetBackendWithConfig(stripe.APIBackend, &stripe.BackendConfig{
		URL: stripe.String(s.fake.URL()), MaxNetworkRetries: stripe.Int64(0),
		HTTPClient:    &http.Client{Transport: cancelAfterCustomerCreate{cancel: cancel}},
		LeveledLogger: &stripe.LeveledLogger{Level: stripe.LevelNull}})
	sc := stripe.NewClient("sk_test_fake", stripe.WithBackends(&stripe.Backends{API: b, Connect: b, Uploads: b, MeterEvents: b}))
	cfg := s.syncer.cfg
	cfg.Stripe = sc
	syncer, err := NewSyncer(cfg)
	require.NoError(t, err)
	flaky, err := NewService(ServiceConfig{Syncer: syncer, BaseURL: "https://app.test"})
	require.NoError(t, err)
	_, err = flaky.StartCheckout(ctx, s.scope, CheckoutInput{Plan: PlanPro, Email: "first@acme.test", OrgName: "Acme"})
	require.Error(t, err)
	require.Empty(t, s.account().CustomerID, "nothing recorded")
	require.Equal(t, 1, s.fake.CustomerCount(), "yet Stripe has the customer")

	other := gw.Scope{Actor: gw.Actor{UserID: uuid.NewString()}, OrgID: s.org, Role: gw.RoleOwner}
	u, err := s.svc.StartCheckout(s.ctx, other, CheckoutInput{Plan: PlanPro, Email: "second@acme.test", OrgName: "Acme Ltd"})
	require.NoError(t, err)
	require.Contains(t, u, "/c/pay/")
	c, err := s.fake.Client().V1Customers.Retrieve(s.ctx, s.account().CustomerID, nil)
	require.NoError(t, err)
	require.Equal(t, "second@acme.test", c.Email)
	sub, err := s.fake.CompleteCheckout(u[strings.LastIndex(u, "/")+1:])
	require.NoError(t, err)
	s.sub, s.cus = sub, c.ID
	s.deliver()
	s.requireTruth()
	s.entitled(PlanPro, AccessFull)
}

// Item 12. subscription_schedule.* events (the endpoint subscribes to them)
// resolve to the organisation and sync it: a schedule released in the
// Dashboard drops the scheduled downgrade from the page even when only the
// schedule's event arrives.
func TestScheduleEventsResolveToTheOrganisation(t *testing.T) {
	t.Parallel()
	s := newScenario(t, stripefake.Options{})
	s.subscribe(PlanBusiness)
	s.deliver()
	require.NoError(t, s.svc.ChangePlan(s.ctx, s.scope, PlanPro, time.Time{}))
	s.deliver()
	require.Equal(t, "price_pro_monthly", s.account().ScheduledPriceID)
	sched := s.fake.Subscription(s.sub).Schedule.ID

	_, err := s.fake.Client().V1SubscriptionSchedules.Release(s.ctx, sched, nil)
	require.NoError(t, err)
	ids, types := s.receive()
	var scheduleEvents []string
	for i, typ := range types {
		if strings.HasPrefix(typ, "subscription_schedule.") {
			scheduleEvents = append(scheduleEvents, ids[i])
		}
	}
	require.NotEmpty(t, scheduleEvents)
	s.process(scheduleEvents...)
	s.requireProcessed(scheduleEvents...)
	require.Empty(t, s.account().ScheduledPriceID)
	s.requireTruth()
}
