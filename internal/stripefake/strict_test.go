package stripefake_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/stripe/stripe-go/v85"

	"github.com/groundwork-dev/groundwork/internal/stripefake"
)

// The fake is as strict as Stripe's documentation where the billing module
// relies on it: idempotency keys (replay for 24 hours, then forgotten;
// validation errors not saved; other parameters refused), events that keep
// the API version they were created in, deleted customers, and the event
// list's filters.

// customerWithKey creates a customer named name with idempotency key key.
func (e env) customerWithKey(key, name string) (*stripe.Customer, error) {
	p := &stripe.CustomerCreateParams{Name: stripe.String(name)}
	p.SetIdempotencyKey(key)
	return e.sc.V1Customers.Create(e.ctx, p)
}

func replayed(c *stripe.Customer) bool {
	return c.LastResponse != nil && c.LastResponse.Header.Get("Idempotent-Replayed") == "true"
}

func requireStripeError(t *testing.T, err error, status int, typ stripe.ErrorType) *stripe.Error {
	t.Helper()
	var se *stripe.Error
	if !errors.As(err, &se) || se.HTTPStatusCode != status || se.Type != typ {
		t.Fatalf("want a %d %s, got %v", status, typ, err)
	}
	return se
}

// https://docs.stripe.com/api/idempotent_requests: the first result is
// replayed for at least 24 hours, whatever happened since; then the key is
// pruned and a reuse is a new request. Other parameters with a live key are
// an idempotency_error.
func TestIdempotencyKeyReplaysFor24Hours(t *testing.T) {
	t.Parallel()
	e := setup(t, stripefake.Options{})
	first, err := e.customerWithKey("k1", "Acme")
	if err != nil || replayed(first) {
		t.Fatalf("first use: %v, replayed %v", err, err == nil && replayed(first))
	}
	e.fake.Advance(stripefake.IdempotencyKeyTTL - time.Second)
	again, err := e.customerWithKey("k1", "Acme")
	if err != nil || again.ID != first.ID || !replayed(again) || e.fake.CustomerCount() != 1 {
		t.Fatalf("within 24 hours: %v %+v (replayed %v, %d customers)", err, again, err == nil && replayed(again), e.fake.CustomerCount())
	}
	_, err = e.customerWithKey("k1", "Acme Ltd")
	requireStripeError(t, err, http.StatusBadRequest, stripe.ErrorTypeIdempotency)

	e.fake.Advance(time.Second)
	fresh, err := e.customerWithKey("k1", "Acme Ltd")
	if err != nil || fresh.ID == first.ID || replayed(fresh) || fresh.Name != "Acme Ltd" {
		t.Fatalf("after 24 hours the key is new: %v %+v", err, fresh)
	}

	// The trap: a replay names what was true then. A schedule created,
	// released and "created again" with the same key and parameters is
	// the released one.
	_, subID := e.subscribe(t, "price_pro_monthly")
	create := func() *stripe.SubscriptionSchedule {
		t.Helper()
		p := &stripe.SubscriptionScheduleCreateParams{FromSubscription: stripe.String(subID)}
		p.SetIdempotencyKey("schedule-" + subID)
		sc, err := e.sc.V1SubscriptionSchedules.Create(e.ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		return sc
	}
	sc := create()
	if _, err := e.sc.V1SubscriptionSchedules.Release(e.ctx, sc.ID, nil); err != nil {
		t.Fatal(err)
	}
	if again := create(); again.ID != sc.ID || again.Status != stripe.SubscriptionScheduleStatusActive {
		t.Fatalf("the replay is the first response: %s %s", again.ID, again.Status)
	}
	if got := e.fake.SubscriptionSchedule(sc.ID); got.Status != stripe.SubscriptionScheduleStatusReleased {
		t.Fatalf("yet the schedule is %s", got.Status)
	}
	if sub := e.fake.Subscription(subID); sub.Schedule != nil {
		t.Fatalf("and the subscription has no schedule: %v", sub.Schedule)
	}
	stripefake.CheckShapesAgainstStripeMock(t, e.fake.Requests())
}

// "If incoming parameters fail validation ... we don't save the idempotent
// result": a refused request can be retried with the same key, corrected.
func TestIdempotencyKeyNotSavedForValidationErrors(t *testing.T) {
	t.Parallel()
	e := setup(t, stripefake.Options{})
	bad := &stripe.CustomerCreateParams{TaxExempt: stripe.String("sometimes")}
	bad.SetIdempotencyKey("k2")
	for range 2 {
		_, err := e.sc.V1Customers.Create(e.ctx, bad)
		se := requireStripeError(t, err, http.StatusBadRequest, stripe.ErrorTypeInvalidRequest)
		if se.Param != "tax_exempt" || se.LastResponse.Header.Get("Idempotent-Replayed") != "" {
			t.Fatalf("refusal: %+v", se)
		}
	}
	c, err := e.customerWithKey("k2", "Acme")
	if err != nil || replayed(c) || e.fake.CustomerCount() != 1 {
		t.Fatalf("the corrected request runs: %v (%d customers)", err, e.fake.CustomerCount())
	}
}

// https://docs.stripe.com/api/events/list: each event keeps the API
// version of its creation; a webhook endpoint renders it in its own.
func TestEventsKeepTheirAPIVersion(t *testing.T) {
	t.Parallel()
	const older = "2025-03-31.basil"
	e := setup(t, stripefake.Options{APIVersion: older})
	if _, err := e.customerWithKey("a", "Old"); err != nil {
		t.Fatal(err)
	}
	e.fake.SetAPIVersion(stripe.APIVersion) // the account is upgraded
	if _, err := e.customerWithKey("b", "New"); err != nil {
		t.Fatal(err)
	}
	var versions []string
	for ev, err := range e.sc.V1Events.List(e.ctx, &stripe.EventListParams{}).All(e.ctx) {
		if err != nil {
			t.Fatal(err)
		}
		versions = append(versions, ev.APIVersion)
	}
	if !slices.Equal(versions, []string{stripe.APIVersion, older}) {
		t.Fatalf("versions, newest first: %v", versions)
	}

	rc := &receiver{}
	srv := httptest.NewServer(rc)
	t.Cleanup(srv.Close)
	if _, err := e.fake.Deliver(e.ctx, srv.URL, secret, stripefake.DeliverOptions{APIVersion: older}); err != nil {
		t.Fatal(err)
	}
	if len(rc.versions) != 2 || rc.versions[0] != older || rc.versions[1] != older {
		t.Fatalf("an endpoint of version %s received %v", older, rc.versions)
	}
	stripefake.CheckShapesAgainstStripeMock(t, e.fake.Requests())
}

// https://docs.stripe.com/api/customers/delete: deleting a customer cancels
// its subscriptions at once; retrieving it then answers deleted=true and
// nothing else, and it cannot be used any more.
func TestDeleteCustomer(t *testing.T) {
	t.Parallel()
	e := setup(t, stripefake.Options{})
	cusID, subID := e.subscribe(t, "price_pro_monthly")
	n := len(e.fake.Events())
	del, err := e.sc.V1Customers.Delete(e.ctx, cusID, nil)
	if err != nil || !del.Deleted || del.ID != cusID {
		t.Fatalf("delete: %v %+v", err, del)
	}
	if sub := e.fake.Subscription(subID); sub.Status != stripe.SubscriptionStatusCanceled || sub.EndedAt == 0 {
		t.Fatalf("subscription after deletion: %s", sub.Status)
	}
	var types []string
	for _, ev := range e.fake.Events()[n:] {
		types = append(types, string(ev.Type))
	}
	if !slices.Equal(types, []string{"customer.subscription.deleted", "customer.deleted"}) {
		t.Fatalf("events: %v", types)
	}
	got, err := e.sc.V1Customers.Retrieve(e.ctx, cusID, nil)
	if err != nil || !got.Deleted || got.ID != cusID || len(got.Metadata) != 0 || got.Email != "" {
		t.Fatalf("retrieve a deleted customer: %v %+v", err, got)
	}
	p := &stripe.SubscriptionRetrieveParams{}
	p.AddExpand("customer")
	if sub, err := e.sc.V1Subscriptions.Retrieve(e.ctx, subID, p); err != nil || !sub.Customer.Deleted {
		t.Fatalf("expanded customer of its subscription: %v %+v", err, sub)
	}
	_, err = e.sc.V1Customers.Delete(e.ctx, cusID, nil)
	requireStripeError(t, err, http.StatusNotFound, stripe.ErrorTypeInvalidRequest)
	_, err = e.sc.V1CheckoutSessions.Create(e.ctx, &stripe.CheckoutSessionCreateParams{
		Mode: stripe.String("subscription"), Customer: stripe.String(cusID), SuccessURL: stripe.String("https://app.example/ok"),
		LineItems: []*stripe.CheckoutSessionCreateLineItemParams{{Price: stripe.String("price_pro_monthly"), Quantity: stripe.Int64(1)}}})
	if se := requireStripeError(t, err, http.StatusBadRequest, stripe.ErrorTypeInvalidRequest); se.Code != stripe.ErrorCodeResourceMissing {
		t.Fatalf("checkout for a deleted customer: %+v", se)
	}
	_, err = e.sc.V1BillingPortalSessions.Create(e.ctx, &stripe.BillingPortalSessionCreateParams{
		Customer: stripe.String(cusID), ReturnURL: stripe.String("https://app.example/billing")})
	requireStripeError(t, err, http.StatusBadRequest, stripe.ErrorTypeInvalidRequest)
	if !e.fake.CustomerDeleted(cusID) {
		t.Fatal("CustomerDeleted")
	}
	stripefake.CheckShapesAgainstStripeMock(t, e.fake.Requests())
}

// GET /v1/events: delivery_success (pending, failed or given up at an
// endpoint), types (at most 20 exact names, not with type), created.
func TestListEventsFilters(t *testing.T) {
	t.Parallel()
	e := setup(t, stripefake.Options{})
	_, subID := e.subscribe(t, "price_basic_monthly")
	rc := &receiver{}
	srv := httptest.NewServer(rc)
	t.Cleanup(srv.Close)
	list := func(p *stripe.EventListParams) []string {
		t.Helper()
		var ids []string
		for ev, err := range e.sc.V1Events.List(e.ctx, p).All(e.ctx) {
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, ev.ID)
		}
		return ids
	}
	undelivered := func() []string {
		t.Helper()
		return list(&stripe.EventListParams{DeliverySuccess: stripe.Bool(false)})
	}
	all := len(e.fake.Events())
	if n := len(undelivered()); n != all {
		t.Fatalf("before any delivery %d of %d events are undelivered", n, all)
	}
	if _, err := e.fake.Deliver(e.ctx, srv.URL, secret, stripefake.DeliverOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := undelivered(); len(got) != 0 {
		t.Fatalf("all delivered, yet undelivered: %v", got)
	}
	if n := len(list(&stripe.EventListParams{DeliverySuccess: stripe.Bool(true)})); n != all {
		t.Fatalf("delivered: %d of %d", n, all)
	}

	// Stripe gives up on every event of a renewal: they are never pending
	// again, and the list keeps them as undelivered.
	renewedAt := e.fake.Subscription(subID).Items.Data[0].CurrentPeriodEnd
	if _, err := e.fake.Renew(subID); err != nil {
		t.Fatal(err)
	}
	atts, err := e.fake.Deliver(e.ctx, srv.URL, secret, stripefake.DeliverOptions{GiveUp: 1})
	if err != nil {
		t.Fatal(err)
	}
	var gaveUp []string
	for _, a := range atts {
		if !a.GaveUp || a.Delivered() {
			t.Fatalf("attempt %+v", a)
		}
		gaveUp = append(gaveUp, a.EventID)
	}
	if len(gaveUp) == 0 || len(e.fake.Pending(srv.URL)) != 0 || !slices.Equal(e.fake.GivenUp(srv.URL), gaveUp) {
		t.Fatalf("given up %v, pending %v", gaveUp, e.fake.Pending(srv.URL))
	}
	if atts, _ := e.fake.Deliver(e.ctx, srv.URL, secret, stripefake.DeliverOptions{}); len(atts) != 0 {
		t.Fatalf("Stripe does not retry what it gave up: %v", atts)
	}
	got := undelivered()
	slices.Reverse(got)
	if !slices.Equal(got, gaveUp) {
		t.Fatalf("undelivered %v, want %v", got, gaveUp)
	}
	// A second endpoint that has received nothing makes every event undelivered.
	e.fake.MarkDelivered("https://other.example/hook", gaveUp[0])
	if n := len(undelivered()); n != all+len(gaveUp) {
		t.Fatalf("with a second endpoint: %d undelivered", n)
	}

	paid := list(&stripe.EventListParams{Types: []*string{stripe.String("invoice.paid"), stripe.String("customer.deleted")}})
	wild := list(&stripe.EventListParams{Type: stripe.String("invoice.*")})
	if len(paid) != 2 || len(wild) <= len(paid) {
		t.Fatalf("types: %d invoice.paid, %d invoice.*", len(paid), len(wild))
	}
	since := renewedAt // the renewal's events: its draft, and its finalisation an hour later
	if got := list(&stripe.EventListParams{CreatedRange: &stripe.RangeQueryParams{GreaterThanOrEqual: since}}); len(got) != len(gaveUp) {
		t.Fatalf("created[gte]: %d events", len(got))
	}
	stripefake.CheckShapesAgainstStripeMock(t, e.fake.Requests())

	var tooMany []*string
	for range 21 {
		tooMany = append(tooMany, stripe.String("invoice.paid"))
	}
	for name, p := range map[string]*stripe.EventListParams{
		"21 types":            {Types: tooMany},
		"type and types":      {Type: stripe.String("invoice.paid"), Types: []*string{stripe.String("invoice.paid")}},
		"a wildcard in types": {Types: []*string{stripe.String("invoice.*")}},
	} {
		var got error
		for _, err := range e.sc.V1Events.List(e.ctx, p).All(e.ctx) {
			got = err
			break
		}
		if se := requireStripeError(t, got, http.StatusBadRequest, stripe.ErrorTypeInvalidRequest); se == nil {
			t.Fatal(name)
		}
	}
}
