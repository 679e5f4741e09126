package stripefake_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stripe/stripe-go/v85"
	"github.com/stripe/stripe-go/v85/webhook"

	"github.com/groundwork-dev/groundwork/internal/stripefake"
)

const secret = "whsec_test_fake"

type env struct {
	fake *stripefake.Server
	sc   *stripe.Client
	ctx  context.Context
}

func setup(t *testing.T, opts stripefake.Options) env {
	t.Helper()
	f := stripefake.New(opts).Start(t)
	return env{fake: f, sc: f.Client(), ctx: context.Background()}
}

func (e env) customer(t *testing.T, key string) *stripe.Customer {
	t.Helper()
	p := &stripe.CustomerCreateParams{Email: stripe.String("billing@example.org"), Name: stripe.String("Org")}
	p.AddMetadata("organisation_id", "org_1")
	p.SetIdempotencyKey(key)
	c, err := e.sc.V1Customers.Create(e.ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func (e env) checkout(t *testing.T, cus, price string) *stripe.CheckoutSession {
	t.Helper()
	cs, err := e.sc.V1CheckoutSessions.Create(e.ctx, &stripe.CheckoutSessionCreateParams{
		Mode:                     stripe.String(string(stripe.CheckoutSessionModeSubscription)),
		Customer:                 stripe.String(cus),
		ClientReferenceID:        stripe.String("org_1"),
		LineItems:                []*stripe.CheckoutSessionCreateLineItemParams{{Price: stripe.String(price), Quantity: stripe.Int64(1)}},
		AutomaticTax:             &stripe.CheckoutSessionCreateAutomaticTaxParams{Enabled: stripe.Bool(true)},
		TaxIDCollection:          &stripe.CheckoutSessionCreateTaxIDCollectionParams{Enabled: stripe.Bool(true)},
		BillingAddressCollection: stripe.String("required"),
		CustomerUpdate:           &stripe.CheckoutSessionCreateCustomerUpdateParams{Address: stripe.String("auto"), Name: stripe.String("auto")},
		SuccessURL:               stripe.String("https://app.example/billing/success?session_id={CHECKOUT_SESSION_ID}"),
		CancelURL:                stripe.String("https://app.example/billing"),
	})
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

// subscribe runs customer → checkout → completion and returns the subscription ID.
func (e env) subscribe(t *testing.T, price string) (string, string) {
	t.Helper()
	c := e.customer(t, "cus-org_1")
	cs := e.checkout(t, c.ID, price)
	subID, err := e.fake.CompleteCheckout(cs.ID)
	if err != nil {
		t.Fatal(err)
	}
	return c.ID, subID
}

func TestCustomerIdempotency(t *testing.T) {
	t.Parallel()
	e := setup(t, stripefake.Options{})
	a := e.customer(t, "org_1-customer")
	b := e.customer(t, "org_1-customer")
	if a.ID != b.ID || e.fake.CustomerCount() != 1 {
		t.Fatalf("same idempotency key gave %s and %s (%d customers)", a.ID, b.ID, e.fake.CustomerCount())
	}
	if a.Metadata["organisation_id"] != "org_1" {
		t.Fatalf("metadata lost: %v", a.Metadata)
	}
	// Same key, different parameters: Stripe refuses.
	p := &stripe.CustomerCreateParams{Email: stripe.String("other@example.org")}
	p.SetIdempotencyKey("org_1-customer")
	if _, err := e.sc.V1Customers.Create(e.ctx, p); err == nil {
		t.Fatal("reusing a key with other parameters succeeded")
	}
	got, err := e.sc.V1Customers.Retrieve(e.ctx, a.ID, nil)
	if err != nil || got.Email != "billing@example.org" {
		t.Fatalf("retrieve: %v %+v", err, got)
	}
	if c := e.customer(t, "org_2-customer"); c.ID == a.ID {
		t.Fatal("a new key returned the old customer")
	}
}

func TestCheckoutCompletion(t *testing.T) {
	t.Parallel()
	e := setup(t, stripefake.Options{})
	c := e.customer(t, "k")
	cs := e.checkout(t, c.ID, "price_basic_monthly")
	if cs.Status != stripe.CheckoutSessionStatusOpen || cs.URL == "" || !cs.AutomaticTax.Enabled || !cs.TaxIDCollection.Enabled ||
		cs.BillingAddressCollection != "required" || cs.ClientReferenceID != "org_1" {
		t.Fatalf("session: %+v", cs)
	}
	subID, err := e.fake.CompleteCheckout(cs.ID)
	if err != nil {
		t.Fatal(err)
	}
	sub, err := e.sc.V1Subscriptions.Retrieve(e.ctx, subID, &stripe.SubscriptionRetrieveParams{
		Params: stripe.Params{Expand: []*string{stripe.String("latest_invoice")}}})
	if err != nil {
		t.Fatal(err)
	}
	if sub.Status != stripe.SubscriptionStatusActive || sub.Customer.ID != c.ID || sub.Items.Data[0].Price.ID != "price_basic_monthly" {
		t.Fatalf("subscription: status %s customer %s", sub.Status, sub.Customer.ID)
	}
	if sub.LatestInvoice.Status != stripe.InvoiceStatusPaid || sub.LatestInvoice.AmountPaid != 1000 ||
		sub.LatestInvoice.BillingReason != stripe.InvoiceBillingReasonSubscriptionCreate {
		t.Fatalf("first invoice: %+v", sub.LatestInvoice)
	}
	cs, err = e.sc.V1CheckoutSessions.Retrieve(e.ctx, cs.ID, nil)
	if err != nil || cs.Status != stripe.CheckoutSessionStatusComplete || cs.Subscription.ID != subID {
		t.Fatalf("completed session: %v %+v", err, cs)
	}
	types := e.fake.EventTypes()
	for _, want := range []string{"customer.created", "customer.subscription.created", "invoice.finalized", "invoice.paid",
		"customer.subscription.updated", "checkout.session.completed"} {
		if !slices.Contains(types, want) {
			t.Errorf("missing event %s in %v", want, types)
		}
	}
	// The events API serves the same events, newest first, with the SDK's version.
	it := e.sc.V1Events.List(e.ctx, &stripe.EventListParams{Type: stripe.String("checkout.session.completed")})
	n := 0
	for ev, err := range it.All(e.ctx) {
		if err != nil {
			t.Fatal(err)
		}
		n++
		if ev.APIVersion != stripe.APIVersion || ev.Data.Object["client_reference_id"] != "org_1" {
			t.Fatalf("event: %+v", ev)
		}
	}
	if n != 1 {
		t.Fatalf("listed %d checkout.session.completed events", n)
	}
	all := e.fake.Events()
	got, err := e.sc.V1Events.Retrieve(e.ctx, all[0].ID, nil)
	if err != nil || got.Type != all[0].Type {
		t.Fatalf("retrieve event: %v", err)
	}
}

func TestUpgradeProrationMatchesPreview(t *testing.T) {
	t.Parallel()
	e := setup(t, stripefake.Options{TaxBasisPoints: 2000})
	_, subID := e.subscribe(t, "price_basic_monthly")
	e.fake.Advance(10 * 24 * time.Hour)
	sub, err := e.sc.V1Subscriptions.Retrieve(e.ctx, subID, nil)
	if err != nil {
		t.Fatal(err)
	}
	item := sub.Items.Data[0]
	prorationDate := e.fake.Now().Unix()
	preview, err := e.sc.V1Invoices.CreatePreview(e.ctx, &stripe.InvoiceCreatePreviewParams{
		Customer:     stripe.String(sub.Customer.ID),
		Subscription: stripe.String(subID),
		SubscriptionDetails: &stripe.InvoiceCreatePreviewSubscriptionDetailsParams{
			Items:             []*stripe.InvoiceCreatePreviewSubscriptionDetailsItemParams{{ID: stripe.String(item.ID), Price: stripe.String("price_pro_monthly")}},
			ProrationBehavior: stripe.String("always_invoice"),
			ProrationDate:     stripe.Int64(prorationDate),
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	// January has 31 days; 21 remain after 10 days: (3000-1000)*21/31 = 1354.8… → -677 + 2032 = 1355.
	start, end := item.CurrentPeriodStart, item.CurrentPeriodEnd
	rem := end - prorationDate
	wantSub := -roundDiv(1000*rem, end-start) + roundDiv(3000*rem, end-start)
	if preview.Subtotal != wantSub || preview.Total != wantSub+roundDiv(wantSub*2000, 10000) || len(preview.Lines.Data) != 2 {
		t.Fatalf("preview subtotal %d total %d lines %d, want subtotal %d", preview.Subtotal, preview.Total, len(preview.Lines.Data), wantSub)
	}
	e.fake.Advance(time.Minute) // the user reads the preview; the date stays fixed
	upd, err := e.sc.V1Subscriptions.Update(e.ctx, subID, &stripe.SubscriptionUpdateParams{
		Items:             []*stripe.SubscriptionUpdateItemParams{{ID: stripe.String(item.ID), Price: stripe.String("price_pro_monthly")}},
		ProrationBehavior: stripe.String("always_invoice"),
		ProrationDate:     stripe.Int64(prorationDate),
		PaymentBehavior:   stripe.String("pending_if_incomplete"),
		Params:            stripe.Params{Expand: []*string{stripe.String("latest_invoice")}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if upd.LatestInvoice.Total != preview.Total || upd.LatestInvoice.AmountPaid != preview.AmountDue ||
		upd.LatestInvoice.Status != stripe.InvoiceStatusPaid || upd.Items.Data[0].Price.ID != "price_pro_monthly" || upd.PendingUpdate != nil {
		t.Fatalf("update: invoice total %d paid %d status %s price %s; preview %d",
			upd.LatestInvoice.Total, upd.LatestInvoice.AmountPaid, upd.LatestInvoice.Status, upd.Items.Data[0].Price.ID, preview.Total)
	}
}

func TestUpgradeFailedPaymentStaysPending(t *testing.T) {
	t.Parallel()
	e := setup(t, stripefake.Options{})
	cus, subID := e.subscribe(t, "price_basic_monthly")
	if err := e.fake.SetCardDeclines(cus, true); err != nil {
		t.Fatal(err)
	}
	sub := e.fake.Subscription(subID)
	upd, err := e.sc.V1Subscriptions.Update(e.ctx, subID, &stripe.SubscriptionUpdateParams{
		Items:             []*stripe.SubscriptionUpdateItemParams{{ID: stripe.String(sub.Items.Data[0].ID), Price: stripe.String("price_pro_monthly")}},
		ProrationBehavior: stripe.String("always_invoice"),
		PaymentBehavior:   stripe.String("pending_if_incomplete"),
	})
	if err != nil {
		t.Fatal(err)
	}
	if upd.Status != stripe.SubscriptionStatusActive || upd.Items.Data[0].Price.ID != "price_basic_monthly" || upd.PendingUpdate == nil {
		t.Fatalf("pending update: status %s price %s pending %v", upd.Status, upd.Items.Data[0].Price.ID, upd.PendingUpdate)
	}
	if err := e.fake.PayInvoice(upd.LatestInvoice.ID); err != nil {
		t.Fatal(err)
	}
	if got := e.fake.Subscription(subID); got.Items.Data[0].Price.ID != "price_pro_monthly" || got.PendingUpdate != nil {
		t.Fatalf("after payment: price %s pending %v", got.Items.Data[0].Price.ID, got.PendingUpdate)
	}
}

func roundDiv(a, b int64) int64 {
	if a < 0 {
		return -((-a*2 + b) / (2 * b))
	}
	return (a*2 + b) / (2 * b)
}

func TestFailedPaymentThenRecovered(t *testing.T) {
	t.Parallel()
	e := setup(t, stripefake.Options{})
	cus, subID := e.subscribe(t, "price_basic_monthly")
	if err := e.fake.SetCardDeclines(cus, true); err != nil {
		t.Fatal(err)
	}
	invID, err := e.fake.Renew(subID)
	if err != nil {
		t.Fatal(err)
	}
	inv, err := e.sc.V1Invoices.Retrieve(e.ctx, invID, nil)
	if err != nil {
		t.Fatal(err)
	}
	sub, _ := e.sc.V1Subscriptions.Retrieve(e.ctx, subID, nil)
	if inv.Status != stripe.InvoiceStatusOpen || inv.AttemptCount != 1 || inv.NextPaymentAttempt == 0 ||
		sub.Status != stripe.SubscriptionStatusPastDue || inv.Parent.SubscriptionDetails.Subscription.ID != subID {
		t.Fatalf("after failure: invoice %s attempts %d, sub %s", inv.Status, inv.AttemptCount, sub.Status)
	}
	e.fake.Advance(72 * time.Hour)
	if err := e.fake.FailPayment(invID); err != nil {
		t.Fatal(err)
	}
	if got := e.fake.Invoice(invID); got.AttemptCount != 2 {
		t.Fatalf("attempts %d", got.AttemptCount)
	}
	if err := e.fake.PayInvoice(invID); err != nil {
		t.Fatal(err)
	}
	sub, _ = e.sc.V1Subscriptions.Retrieve(e.ctx, subID, nil)
	inv, _ = e.sc.V1Invoices.Retrieve(e.ctx, invID, nil)
	if sub.Status != stripe.SubscriptionStatusActive || inv.Status != stripe.InvoiceStatusPaid || inv.AttemptCount != 3 {
		t.Fatalf("after recovery: sub %s invoice %s attempts %d", sub.Status, inv.Status, inv.AttemptCount)
	}
	n := 0
	for _, ty := range e.fake.EventTypes() {
		if ty == "invoice.payment_failed" {
			n++
		}
	}
	if n != 2 {
		t.Fatalf("%d invoice.payment_failed events, want 2", n)
	}
}

func TestDunningAndDisputes(t *testing.T) {
	t.Parallel()
	for _, mode := range []string{"canceled", "unpaid"} {
		e := setup(t, stripefake.Options{RetriesExhausted: mode})
		cus, subID := e.subscribe(t, "price_basic_monthly")
		_ = e.fake.SetCardDeclines(cus, true)
		if _, err := e.fake.Renew(subID); err != nil {
			t.Fatal(err)
		}
		if err := e.fake.ExhaustRetries(subID); err != nil {
			t.Fatal(err)
		}
		if got := e.fake.Subscription(subID).Status; string(got) != mode {
			t.Fatalf("exhausted retries: %s, want %s", got, mode)
		}
	}
	e := setup(t, stripefake.Options{})
	_, subID := e.subscribe(t, "price_basic_monthly")
	charge := e.fake.InvoiceCharge(e.fake.LatestInvoice(subID))
	inquiry, err := e.fake.OpenDispute(charge, false)
	if err != nil {
		t.Fatal(err)
	}
	du, err := e.fake.OpenDispute(charge, true)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.fake.CloseDispute(inquiry, true); err != nil {
		t.Fatal(err)
	}
	if err := e.fake.CloseDispute(du, false); err != nil {
		t.Fatal(err)
	}
	d, err := e.sc.V1Disputes.Retrieve(e.ctx, du, nil)
	if err != nil || d.Status != stripe.DisputeStatusLost || d.Charge.ID != charge || d.Amount != 1000 {
		t.Fatalf("dispute: %v %+v", err, d)
	}
	if d := e.fake.Dispute(inquiry); d.Status != stripe.DisputeStatusWarningClosed {
		t.Fatalf("inquiry: %s", d.Status)
	}
	types := e.fake.EventTypes()
	for _, want := range []string{"charge.dispute.created", "charge.dispute.funds_withdrawn", "charge.dispute.closed"} {
		if !slices.Contains(types, want) {
			t.Errorf("missing %s", want)
		}
	}
}

func TestTrialAndIncomplete(t *testing.T) {
	t.Parallel()
	e := setup(t, stripefake.Options{})
	c := e.customer(t, "k")
	cs, err := e.sc.V1CheckoutSessions.Create(e.ctx, &stripe.CheckoutSessionCreateParams{
		Mode: stripe.String("subscription"), Customer: stripe.String(c.ID), SuccessURL: stripe.String("https://app.example/s"),
		LineItems: []*stripe.CheckoutSessionCreateLineItemParams{{Price: stripe.String("price_basic_monthly"), Quantity: stripe.Int64(1)}},
		SubscriptionData: &stripe.CheckoutSessionCreateSubscriptionDataParams{TrialPeriodDays: stripe.Int64(14),
			TrialSettings: &stripe.CheckoutSessionCreateSubscriptionDataTrialSettingsParams{
				EndBehavior: &stripe.CheckoutSessionCreateSubscriptionDataTrialSettingsEndBehaviorParams{
					MissingPaymentMethod: stripe.String("cancel")}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	subID, err := e.fake.CompleteCheckoutWith(cs.ID, stripefake.CheckoutOutcome{NoPaymentMethod: true})
	if err != nil {
		t.Fatal(err)
	}
	if st := e.fake.Subscription(subID).Status; st != stripe.SubscriptionStatusTrialing {
		t.Fatalf("trial: %s", st)
	}
	if _, err := e.fake.TrialEnd(subID); err != nil {
		t.Fatal(err)
	}
	if st := e.fake.Subscription(subID).Status; st != stripe.SubscriptionStatusCanceled {
		t.Fatalf("trial without card ended: %s", st)
	}

	cs = e.checkout(t, c.ID, "price_basic_monthly")
	subID, err = e.fake.CompleteCheckoutWith(cs.ID, stripefake.CheckoutOutcome{PaymentFails: true})
	if err != nil {
		t.Fatal(err)
	}
	if st := e.fake.Subscription(subID).Status; st != stripe.SubscriptionStatusIncomplete {
		t.Fatalf("declined first payment: %s", st)
	}
	if err := e.fake.ExpireIncomplete(subID); err != nil {
		t.Fatal(err)
	}
	if st := e.fake.Subscription(subID).Status; st != stripe.SubscriptionStatusIncompleteExpired {
		t.Fatalf("expired: %s", st)
	}
}

func TestCancelAtPeriodEnd(t *testing.T) {
	t.Parallel()
	e := setup(t, stripefake.Options{})
	_, subID := e.subscribe(t, "price_basic_monthly")
	for _, v := range []bool{true, false, true} {
		sub, err := e.sc.V1Subscriptions.Update(e.ctx, subID, &stripe.SubscriptionUpdateParams{CancelAtPeriodEnd: stripe.Bool(v)})
		if err != nil || sub.CancelAtPeriodEnd != v {
			t.Fatalf("cancel_at_period_end=%v: %v", v, err)
		}
	}
	if inv, err := e.fake.Renew(subID); err != nil || inv != "" {
		t.Fatalf("renew: %q %v", inv, err)
	}
	if st := e.fake.Subscription(subID).Status; st != stripe.SubscriptionStatusCanceled {
		t.Fatalf("at period end: %s", st)
	}
	if _, err := e.sc.V1Subscriptions.Cancel(e.ctx, subID, nil); err == nil {
		t.Fatal("canceling twice succeeded")
	}
}

// receiver verifies signatures like the app does (of any API version) and
// records event IDs and versions.
type receiver struct {
	mu       sync.Mutex
	ids      []string
	versions []string
	bad      int
	failNext int // answer 500 to the next n valid deliveries
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	ev, err := webhook.ConstructEventWithOptions(body, r.Header.Get("Stripe-Signature"), secret,
		webhook.ConstructEventOptions{Tolerance: webhook.DefaultTolerance, IgnoreAPIVersionMismatch: true})
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if err != nil {
		rc.bad++
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if rc.failNext > 0 {
		rc.failNext--
		http.Error(w, "boom", http.StatusInternalServerError)
		return
	}
	rc.ids = append(rc.ids, ev.ID)
	rc.versions = append(rc.versions, ev.APIVersion)
}

func TestDeliverSigned(t *testing.T) {
	t.Parallel()
	e := setup(t, stripefake.Options{})
	_, subID := e.subscribe(t, "price_basic_monthly")
	if _, err := e.fake.Renew(subID); err != nil {
		t.Fatal(err)
	}
	rc := &receiver{failNext: 2}
	srv := httptest.NewServer(rc)
	t.Cleanup(srv.Close)
	total := len(e.fake.Events())

	atts, err := e.fake.Deliver(e.ctx, srv.URL, secret, stripefake.DeliverOptions{Seed: 7, Shuffle: true, Duplicate: 0.5, Drop: 0.2, Concurrency: 4})
	if err != nil {
		t.Fatal(err)
	}
	if rc.bad != 0 {
		t.Fatalf("%d deliveries failed verification", rc.bad)
	}
	var failed, dropped int
	for _, a := range atts {
		if a.Dropped {
			dropped++
		} else if a.Status == 500 {
			failed++
		}
	}
	if failed != 2 {
		t.Fatalf("receiver 500s seen: %d", failed)
	}
	// Redeliver what is still pending until everything has arrived.
	for i := 0; len(e.fake.Pending(srv.URL)) > 0; i++ {
		if i > 5 {
			t.Fatalf("still pending: %v", e.fake.Pending(srv.URL))
		}
		if _, err := e.fake.Deliver(e.ctx, srv.URL, secret, stripefake.DeliverOptions{Seed: uint64(i)}); err != nil {
			t.Fatal(err)
		}
	}
	seen := map[string]bool{}
	for _, id := range rc.ids {
		seen[id] = true
	}
	if len(seen) != total {
		t.Fatalf("received %d distinct events, want %d", len(seen), total)
	}

	// Rotated secrets: two v1 signatures, either verifies.
	payload := stripefake.EventPayload(e.fake.Events()[0])
	hdr := stripefake.SignPayload(payload, time.Now(), "whsec_old", secret)
	if _, err := webhook.ConstructEvent(payload, hdr, secret); err != nil {
		t.Fatalf("two signatures: %v", err)
	}
	// A stale timestamp fails.
	if _, err := e.fake.Deliver(e.ctx, srv.URL, secret, stripefake.DeliverOptions{Redeliver: true, SignedAt: time.Now().Add(-time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if rc.bad != total {
		t.Fatalf("stale signatures rejected %d, want %d", rc.bad, total)
	}
}

func TestRequestShapesAgainstStripeMock(t *testing.T) {
	t.Parallel()
	e := setup(t, stripefake.Options{})
	_, subID := e.subscribe(t, "price_basic_monthly")
	sub := e.fake.Subscription(subID)
	_, _ = e.sc.V1Subscriptions.Retrieve(e.ctx, subID, &stripe.SubscriptionRetrieveParams{Params: stripe.Params{Expand: []*string{stripe.String("latest_invoice")}}})
	pd := e.fake.Now().Unix()
	if _, err := e.sc.V1Invoices.CreatePreview(e.ctx, &stripe.InvoiceCreatePreviewParams{
		Customer: stripe.String(sub.Customer.ID), Subscription: stripe.String(subID),
		SubscriptionDetails: &stripe.InvoiceCreatePreviewSubscriptionDetailsParams{
			Items:             []*stripe.InvoiceCreatePreviewSubscriptionDetailsItemParams{{ID: stripe.String(sub.Items.Data[0].ID), Price: stripe.String("price_pro_monthly")}},
			ProrationBehavior: stripe.String("always_invoice"), ProrationDate: stripe.Int64(pd)},
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.sc.V1Subscriptions.Update(e.ctx, subID, &stripe.SubscriptionUpdateParams{
		Items:             []*stripe.SubscriptionUpdateItemParams{{ID: stripe.String(sub.Items.Data[0].ID), Price: stripe.String("price_pro_monthly")}},
		ProrationBehavior: stripe.String("always_invoice"), ProrationDate: stripe.Int64(pd),
		PaymentBehavior: stripe.String("pending_if_incomplete"),
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.sc.V1Subscriptions.Cancel(e.ctx, subID, nil); err != nil {
		t.Fatal(err)
	}
	for _, err := range e.sc.V1Events.List(e.ctx, &stripe.EventListParams{Types: []*string{stripe.String("invoice.paid")}}).All(e.ctx) {
		if err != nil {
			t.Fatal(err)
		}
	}
	reqs := e.fake.Requests()
	if len(reqs) < 7 {
		t.Fatalf("recorded %d requests", len(reqs))
	}
	stripefake.CheckShapesAgainstStripeMock(t, reqs)

	// The check has teeth: a misspelt parameter is rejected.
	base := stripefake.StartStripeMock(t)
	bad := []stripefake.Request{{Method: "POST", Path: "/v1/subscriptions/sub_123",
		Form: url.Values{"proration_behaviour": {"always_invoice"}}}}
	if errs := stripefake.ShapeErrors(base, bad); len(errs) != 1 {
		t.Fatalf("stripe-mock accepted a misspelt parameter: %v", errs)
	}
}
