package stripefake_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/stripe/stripe-go/v85"

	"github.com/groundwork-dev/groundwork/internal/stripefake"
)

func (e env) portalConfig(t *testing.T) *stripe.BillingPortalConfiguration {
	t.Helper()
	c, err := e.sc.V1BillingPortalConfigurations.Create(e.ctx, &stripe.BillingPortalConfigurationCreateParams{
		BusinessProfile:  &stripe.BillingPortalConfigurationCreateBusinessProfileParams{Headline: stripe.String("Groundwork billing")},
		DefaultReturnURL: stripe.String("https://app.example/billing"),
		Features: &stripe.BillingPortalConfigurationCreateFeaturesParams{
			PaymentMethodUpdate: &stripe.BillingPortalConfigurationCreateFeaturesPaymentMethodUpdateParams{Enabled: stripe.Bool(true)},
			InvoiceHistory:      &stripe.BillingPortalConfigurationCreateFeaturesInvoiceHistoryParams{Enabled: stripe.Bool(true)},
			SubscriptionCancel: &stripe.BillingPortalConfigurationCreateFeaturesSubscriptionCancelParams{Enabled: stripe.Bool(true),
				Mode: stripe.String("at_period_end"), ProrationBehavior: stripe.String("none")},
			SubscriptionUpdate: &stripe.BillingPortalConfigurationCreateFeaturesSubscriptionUpdateParams{Enabled: stripe.Bool(true),
				DefaultAllowedUpdates: []*string{stripe.String("price")}, ProrationBehavior: stripe.String("always_invoice"),
				Products: []*stripe.BillingPortalConfigurationCreateFeaturesSubscriptionUpdateProductParams{
					{Product: stripe.String("prod_basic"), Prices: []*string{stripe.String("price_basic_monthly"), stripe.String("price_basic_yearly")}},
					{Product: stripe.String("prod_pro"), Prices: []*string{stripe.String("price_pro_monthly")}},
				}},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestPortal(t *testing.T) {
	t.Parallel()
	e := setup(t, stripefake.Options{})
	c := e.customer(t, "k")
	conf := e.portalConfig(t)
	f := conf.Features
	if !strings.HasPrefix(conf.ID, "bpc_") || conf.BusinessProfile.Headline != "Groundwork billing" || conf.DefaultReturnURL != "https://app.example/billing" ||
		!f.PaymentMethodUpdate.Enabled || !f.InvoiceHistory.Enabled || !f.SubscriptionCancel.Enabled || f.SubscriptionCancel.Mode != "at_period_end" ||
		f.SubscriptionCancel.ProrationBehavior != "none" || !f.SubscriptionUpdate.Enabled || f.SubscriptionUpdate.ProrationBehavior != "always_invoice" ||
		!slices.Equal(f.SubscriptionUpdate.DefaultAllowedUpdates, []stripe.BillingPortalConfigurationFeaturesSubscriptionUpdateDefaultAllowedUpdate{"price"}) ||
		len(f.SubscriptionUpdate.Products) != 2 || f.SubscriptionUpdate.Products[0].Product != "prod_basic" ||
		!slices.Equal(f.SubscriptionUpdate.Products[0].Prices, []string{"price_basic_monthly", "price_basic_yearly"}) {
		t.Fatalf("configuration: %+v", conf)
	}
	got, err := e.sc.V1BillingPortalConfigurations.Retrieve(e.ctx, conf.ID, nil)
	if err != nil || got.Features.SubscriptionUpdate.Products[1].Prices[0] != "price_pro_monthly" {
		t.Fatalf("retrieve: %v %+v", err, got)
	}
	if st := e.fake.PortalConfiguration(conf.ID); st == nil || st.BusinessProfile.Headline != "Groundwork billing" {
		t.Fatalf("PortalConfiguration: %+v", st)
	}
	ps, err := e.sc.V1BillingPortalSessions.Create(e.ctx, &stripe.BillingPortalSessionCreateParams{
		Customer: stripe.String(c.ID), ReturnURL: stripe.String("https://app.example/billing?from=portal"), Configuration: stripe.String(conf.ID)})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(ps.ID, "bps_") || ps.URL != e.fake.URL()+"/portal/"+ps.ID || ps.Customer != c.ID ||
		ps.ReturnURL != "https://app.example/billing?from=portal" || ps.Configuration.ID != conf.ID {
		t.Fatalf("session: %+v", ps)
	}
	if got := e.fake.PortalSession(ps.ID); got == nil || got.Customer != c.ID {
		t.Fatalf("PortalSession: %+v", got)
	}
	// Default configuration and its return URL.
	ps, err = e.sc.V1BillingPortalSessions.Create(e.ctx, &stripe.BillingPortalSessionCreateParams{
		Customer: stripe.String(c.ID), Configuration: stripe.String(conf.ID)})
	if err != nil || ps.ReturnURL != conf.DefaultReturnURL {
		t.Fatalf("session with default return URL: %v %+v", err, ps)
	}
	ps, err = e.sc.V1BillingPortalSessions.Create(e.ctx, &stripe.BillingPortalSessionCreateParams{
		Customer: stripe.String(c.ID), ReturnURL: stripe.String("https://app.example/")})
	if err != nil || ps.Configuration.ID == "" || ps.Configuration.ID == conf.ID {
		t.Fatalf("session with the default configuration: %v %+v", err, ps)
	}
	stripefake.CheckShapesAgainstStripeMock(t, e.fake.Requests())

	for name, p := range map[string]*stripe.BillingPortalSessionCreateParams{
		"no customer":           {ReturnURL: stripe.String("https://app.example/")},
		"unknown customer":      {Customer: stripe.String("cus_nope"), ReturnURL: stripe.String("https://app.example/")},
		"unknown configuration": {Customer: stripe.String(c.ID), ReturnURL: stripe.String("https://app.example/"), Configuration: stripe.String("bpc_nope")},
	} {
		var se *stripe.Error
		if _, err := e.sc.V1BillingPortalSessions.Create(e.ctx, p); !errors.As(err, &se) || se.HTTPStatusCode != 400 {
			t.Errorf("%s: %v", name, err)
		}
	}
	// A price of another product is refused.
	_, err = e.sc.V1BillingPortalConfigurations.Create(e.ctx, &stripe.BillingPortalConfigurationCreateParams{
		Features: &stripe.BillingPortalConfigurationCreateFeaturesParams{
			SubscriptionUpdate: &stripe.BillingPortalConfigurationCreateFeaturesSubscriptionUpdateParams{Enabled: stripe.Bool(true),
				DefaultAllowedUpdates: []*string{stripe.String("price")},
				Products: []*stripe.BillingPortalConfigurationCreateFeaturesSubscriptionUpdateProductParams{
					{Product: stripe.String("prod_basic"), Prices: []*string{stripe.String("price_pro_monthly")}}}}}})
	if err == nil {
		t.Fatal("a price of another product was accepted")
	}
}

// downgradeSchedule puts subID on a schedule that moves it to price at the
// end of the current period, as the app does for a downgrade.
func (e env) downgradeSchedule(t *testing.T, subID, price string) *stripe.SubscriptionSchedule {
	t.Helper()
	var sc *stripe.SubscriptionSchedule
	var err error
	if cur := e.fake.Subscription(subID).Schedule; cur != nil {
		sc, err = e.sc.V1SubscriptionSchedules.Retrieve(e.ctx, cur.ID, nil)
	} else {
		sc, err = e.sc.V1SubscriptionSchedules.Create(e.ctx, &stripe.SubscriptionScheduleCreateParams{FromSubscription: stripe.String(subID)})
	}
	if err != nil {
		t.Fatal(err)
	}
	cur := sc.Phases[0]
	sc, err = e.sc.V1SubscriptionSchedules.Update(e.ctx, sc.ID, &stripe.SubscriptionScheduleUpdateParams{
		EndBehavior: stripe.String("release"),
		Phases: []*stripe.SubscriptionScheduleUpdatePhaseParams{
			{Items: []*stripe.SubscriptionScheduleUpdatePhaseItemParams{{Price: stripe.String(cur.Items[0].Price.ID), Quantity: stripe.Int64(cur.Items[0].Quantity)}},
				StartDate: stripe.Int64(cur.StartDate), EndDate: stripe.Int64(cur.EndDate), ProrationBehavior: stripe.String("none")},
			{Items: []*stripe.SubscriptionScheduleUpdatePhaseItemParams{{Price: stripe.String(price), Quantity: stripe.Int64(1)}},
				StartDate: stripe.Int64(cur.EndDate), ProrationBehavior: stripe.String("none")},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	return sc
}

func TestScheduleDowngradeAtPeriodEnd(t *testing.T) {
	t.Parallel()
	e := setup(t, stripefake.Options{})
	_, subID := e.subscribe(t, "price_pro_monthly")
	sub := e.fake.Subscription(subID)
	start, end := sub.Items.Data[0].CurrentPeriodStart, sub.Items.Data[0].CurrentPeriodEnd

	sc, err := e.sc.V1SubscriptionSchedules.Create(e.ctx, &stripe.SubscriptionScheduleCreateParams{FromSubscription: stripe.String(subID)})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(sc.ID, "sub_sched_") || sc.Status != stripe.SubscriptionScheduleStatusActive || sc.EndBehavior != "release" ||
		sc.Subscription.ID != subID || len(sc.Phases) != 1 || sc.Phases[0].StartDate != start || sc.Phases[0].EndDate != end ||
		sc.Phases[0].Items[0].Price.ID != "price_pro_monthly" || sc.CurrentPhase.EndDate != end {
		t.Fatalf("schedule: %+v", sc)
	}
	got, err := e.sc.V1Subscriptions.Retrieve(e.ctx, subID, nil)
	if err != nil || got.Schedule == nil || got.Schedule.ID != sc.ID {
		t.Fatalf("subscription.schedule: %v %+v", err, got.Schedule)
	}
	if _, err := e.sc.V1SubscriptionSchedules.Create(e.ctx, &stripe.SubscriptionScheduleCreateParams{FromSubscription: stripe.String(subID)}); err == nil {
		t.Fatal("a second schedule for the same subscription was created")
	}
	sc = e.downgradeSchedule(t, subID, "price_basic_monthly")
	if len(sc.Phases) != 2 || sc.Phases[1].Items[0].Price.ID != "price_basic_monthly" || sc.Phases[1].StartDate != end ||
		sc.Phases[1].EndDate <= end || sc.Phases[1].ProrationBehavior != "none" {
		t.Fatalf("updated schedule: %+v", sc.Phases)
	}
	if got, err := e.sc.V1SubscriptionSchedules.Retrieve(e.ctx, sc.ID, nil); err != nil || len(got.Phases) != 2 {
		t.Fatalf("retrieve schedule: %v", err)
	}
	// Nothing changes before the period ends.
	if p := e.fake.Subscription(subID).Items.Data[0].Price.ID; p != "price_pro_monthly" {
		t.Fatalf("price before the boundary: %s", p)
	}
	n := len(e.fake.Events())
	invID, err := e.fake.Renew(subID)
	if err != nil {
		t.Fatal(err)
	}
	inv := e.fake.Invoice(invID)
	if len(inv.Lines.Data) != 1 || inv.Lines.Data[0].Amount != 1000 || inv.Lines.Data[0].Parent.SubscriptionItemDetails.Proration ||
		inv.Total != 1000 || inv.Status != stripe.InvoiceStatusPaid {
		t.Fatalf("renewal invoice: total %d lines %d status %s", inv.Total, len(inv.Lines.Data), inv.Status)
	}
	sub = e.fake.Subscription(subID)
	if sub.Items.Data[0].Price.ID != "price_basic_monthly" || sub.Schedule == nil || sub.Items.Data[0].CurrentPeriodStart != end {
		t.Fatalf("after the boundary: price %s schedule %v", sub.Items.Data[0].Price.ID, sub.Schedule)
	}
	var newTypes []string
	for _, ev := range e.fake.Events()[n:] {
		newTypes = append(newTypes, string(ev.Type))
		if ev.Type == "customer.subscription.updated" {
			items := ev.Data.PreviousAttributes["items"]
			if items == nil {
				t.Errorf("customer.subscription.updated without previous items: %v", ev.Data.PreviousAttributes)
			}
		}
	}
	if i, j := slices.Index(newTypes, "customer.subscription.updated"), slices.Index(newTypes, "invoice.created"); i < 0 || j < 0 || i > j ||
		!slices.Contains(newTypes, "subscription_schedule.updated") {
		t.Fatalf("events at the boundary: %v", newTypes)
	}
	if sc := e.fake.SubscriptionSchedule(sc.ID); sc.Status != stripe.SubscriptionScheduleStatusActive || sc.CurrentPhase.StartDate != end {
		t.Fatalf("schedule in its last phase: %s %+v", sc.Status, sc.CurrentPhase)
	}
	// The last phase ends: the schedule is released, the subscription stays on basic.
	if _, err := e.fake.Renew(subID); err != nil {
		t.Fatal(err)
	}
	sc = e.fake.SubscriptionSchedule(sc.ID)
	sub = e.fake.Subscription(subID)
	if sc.Status != stripe.SubscriptionScheduleStatusReleased || sc.ReleasedSubscription.ID != subID || sc.Subscription != nil ||
		sub.Schedule != nil || sub.Items.Data[0].Price.ID != "price_basic_monthly" || sub.Status != stripe.SubscriptionStatusActive {
		t.Fatalf("after the last phase: schedule %s, subscription schedule %v price %s", sc.Status, sub.Schedule, sub.Items.Data[0].Price.ID)
	}
	types := e.fake.EventTypes()
	for _, want := range []string{"subscription_schedule.created", "subscription_schedule.updated", "subscription_schedule.released"} {
		if !slices.Contains(types, want) {
			t.Errorf("missing %s", want)
		}
	}
	stripefake.CheckShapesAgainstStripeMock(t, e.fake.Requests())
}

func TestScheduleReleaseCancelAndDirectUpdate(t *testing.T) {
	t.Parallel()
	e := setup(t, stripefake.Options{})
	_, subID := e.subscribe(t, "price_pro_monthly")
	sc := e.downgradeSchedule(t, subID, "price_basic_monthly")

	// A direct item change still works and becomes the current phase.
	item := e.fake.Subscription(subID).Items.Data[0]
	if _, err := e.sc.V1Subscriptions.Update(e.ctx, subID, &stripe.SubscriptionUpdateParams{
		Items:             []*stripe.SubscriptionUpdateItemParams{{ID: stripe.String(item.ID), Quantity: stripe.Int64(2)}},
		ProrationBehavior: stripe.String("none"),
	}); err != nil {
		t.Fatal(err)
	}
	if got := e.fake.SubscriptionSchedule(sc.ID); got.Phases[0].Items[0].Quantity != 2 || got.Phases[1].Items[0].Price.ID != "price_basic_monthly" {
		t.Fatalf("phases after a direct update: %+v %+v", got.Phases[0].Items[0], got.Phases[1].Items[0])
	}

	rel, err := e.sc.V1SubscriptionSchedules.Release(e.ctx, sc.ID, nil)
	if err != nil {
		t.Fatal(err)
	}
	if rel.Status != stripe.SubscriptionScheduleStatusReleased || rel.ReleasedSubscription.ID != subID || rel.ReleasedAt == 0 {
		t.Fatalf("released: %+v", rel)
	}
	if got, _ := e.sc.V1Subscriptions.Retrieve(e.ctx, subID, nil); got.Schedule != nil {
		t.Fatalf("subscription still has schedule %v", got.Schedule)
	}
	if _, err := e.sc.V1SubscriptionSchedules.Release(e.ctx, sc.ID, nil); err == nil {
		t.Fatal("released twice")
	}
	if _, err := e.sc.V1SubscriptionSchedules.Update(e.ctx, sc.ID, &stripe.SubscriptionScheduleUpdateParams{EndBehavior: stripe.String("cancel")}); err == nil {
		t.Fatal("updated a released schedule")
	}
	// Released: the renewal does not switch prices.
	if _, err := e.fake.Renew(subID); err != nil {
		t.Fatal(err)
	}
	if p := e.fake.Subscription(subID).Items.Data[0].Price.ID; p != "price_pro_monthly" {
		t.Fatalf("price after release: %s", p)
	}

	// Canceling the subscription cancels its schedule.
	sc2, err := e.sc.V1SubscriptionSchedules.Create(e.ctx, &stripe.SubscriptionScheduleCreateParams{FromSubscription: stripe.String(subID)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.sc.V1Subscriptions.Cancel(e.ctx, subID, nil); err != nil {
		t.Fatal(err)
	}
	if got := e.fake.SubscriptionSchedule(sc2.ID); got.Status != stripe.SubscriptionScheduleStatusCanceled || got.CanceledAt == 0 {
		t.Fatalf("schedule of a canceled subscription: %s", got.Status)
	}
	if !slices.Contains(e.fake.EventTypes(), "subscription_schedule.canceled") {
		t.Error("missing subscription_schedule.canceled")
	}
	stripefake.CheckShapesAgainstStripeMock(t, e.fake.Requests())
}

func TestScheduleEndBehaviorCancelAndValidation(t *testing.T) {
	t.Parallel()
	e := setup(t, stripefake.Options{})
	_, subID := e.subscribe(t, "price_basic_monthly")
	sc, err := e.sc.V1SubscriptionSchedules.Create(e.ctx, &stripe.SubscriptionScheduleCreateParams{FromSubscription: stripe.String(subID)})
	if err != nil {
		t.Fatal(err)
	}
	cur := sc.Phases[0]
	bad := map[string]*stripe.SubscriptionScheduleUpdateParams{
		"moved current phase": {Phases: []*stripe.SubscriptionScheduleUpdatePhaseParams{{StartDate: stripe.Int64(cur.StartDate + 1), EndDate: stripe.Int64(cur.EndDate),
			Items: []*stripe.SubscriptionScheduleUpdatePhaseItemParams{{Price: stripe.String("price_basic_monthly")}}}}},
		"unknown price": {Phases: []*stripe.SubscriptionScheduleUpdatePhaseParams{{StartDate: stripe.Int64(cur.StartDate), EndDate: stripe.Int64(cur.EndDate),
			Items: []*stripe.SubscriptionScheduleUpdatePhaseItemParams{{Price: stripe.String("price_nope")}}}}},
		"gap between phases": {Phases: []*stripe.SubscriptionScheduleUpdatePhaseParams{
			{StartDate: stripe.Int64(cur.StartDate), EndDate: stripe.Int64(cur.EndDate), Items: []*stripe.SubscriptionScheduleUpdatePhaseItemParams{{Price: stripe.String("price_basic_monthly")}}},
			{StartDate: stripe.Int64(cur.EndDate + 60), Items: []*stripe.SubscriptionScheduleUpdatePhaseItemParams{{Price: stripe.String("price_pro_monthly")}}}}},
		"bad end_behavior": {EndBehavior: stripe.String("explode")},
	}
	for name, p := range bad {
		if _, err := e.sc.V1SubscriptionSchedules.Update(e.ctx, sc.ID, p); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := e.sc.V1SubscriptionSchedules.Create(e.ctx, &stripe.SubscriptionScheduleCreateParams{FromSubscription: stripe.String("sub_nope")}); err == nil {
		t.Error("schedule for an unknown subscription")
	}
	if _, err := e.sc.V1SubscriptionSchedules.Update(e.ctx, sc.ID, &stripe.SubscriptionScheduleUpdateParams{EndBehavior: stripe.String("cancel")}); err != nil {
		t.Fatal(err)
	}
	if inv, err := e.fake.Renew(subID); err != nil || inv != "" {
		t.Fatalf("renew at the end of a cancel schedule: %q %v", inv, err)
	}
	if st := e.fake.Subscription(subID).Status; st != stripe.SubscriptionStatusCanceled {
		t.Fatalf("subscription: %s", st)
	}
	if got := e.fake.SubscriptionSchedule(sc.ID); got.Status != stripe.SubscriptionScheduleStatusCompleted {
		t.Fatalf("schedule: %s", got.Status)
	}
}

func totalTax(inv *stripe.Invoice) (int64, stripe.InvoiceTotalTaxTaxabilityReason) {
	if len(inv.TotalTaxes) != 1 {
		return -1, ""
	}
	return inv.TotalTaxes[0].Amount, inv.TotalTaxes[0].TaxabilityReason
}

func TestTaxOutcomes(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name     string
		location stripe.CustomerTaxAutomaticTax
		exempt   stripe.CustomerTaxExempt
		tax      int64
		reason   stripe.InvoiceTotalTaxTaxabilityReason
	}{
		{"standard", stripe.CustomerTaxAutomaticTaxSupported, stripe.CustomerTaxExemptNone, 200, stripe.InvoiceTotalTaxTaxabilityReasonStandardRated},
		{"reverse charge", stripe.CustomerTaxAutomaticTaxSupported, stripe.CustomerTaxExemptReverse, 0, stripe.InvoiceTotalTaxTaxabilityReasonReverseCharge},
		{"exempt", stripe.CustomerTaxAutomaticTaxSupported, stripe.CustomerTaxExemptExempt, 0, stripe.InvoiceTotalTaxTaxabilityReasonCustomerExempt},
		{"not collecting", stripe.CustomerTaxAutomaticTaxNotCollecting, stripe.CustomerTaxExemptNone, 0, stripe.InvoiceTotalTaxTaxabilityReasonNotCollecting},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := setup(t, stripefake.Options{TaxBasisPoints: 2000})
			cus, subID := e.subscribe(t, "price_basic_monthly")
			if err := e.fake.SetTaxLocation(cus, tc.location); err != nil {
				t.Fatal(err)
			}
			if err := e.fake.SetTaxExempt(cus, tc.exempt); err != nil {
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
			amount, reason := totalTax(inv)
			if amount != tc.tax || reason != tc.reason || inv.Subtotal != 1000 || inv.Total != 1000+tc.tax ||
				inv.AutomaticTax.Status != stripe.InvoiceAutomaticTaxStatusComplete || !inv.AutomaticTax.Enabled ||
				inv.Status != stripe.InvoiceStatusPaid || *inv.CustomerTaxExempt != tc.exempt {
				t.Fatalf("invoice: tax %d %s total %d status %s automatic %+v", amount, reason, inv.Total, inv.Status, inv.AutomaticTax)
			}
			c, err := e.sc.V1Customers.Retrieve(e.ctx, cus, &stripe.CustomerRetrieveParams{Params: stripe.Params{Expand: []*string{stripe.String("tax")}}})
			if err != nil || c.Tax == nil || c.Tax.AutomaticTax != tc.location || c.Tax.Location == nil || c.TaxExempt != tc.exempt {
				t.Fatalf("customer: %v %+v", err, c)
			}
			stripefake.CheckShapesAgainstStripeMock(t, e.fake.Requests())
		})
	}
}

func TestTaxWithoutAutomaticTax(t *testing.T) {
	t.Parallel()
	e := setup(t, stripefake.Options{TaxBasisPoints: 2000})
	c := e.customer(t, "k")
	cs, err := e.sc.V1CheckoutSessions.Create(e.ctx, &stripe.CheckoutSessionCreateParams{
		Mode: stripe.String("subscription"), Customer: stripe.String(c.ID), SuccessURL: stripe.String("https://app.example/s"),
		LineItems: []*stripe.CheckoutSessionCreateLineItemParams{{Price: stripe.String("price_basic_monthly"), Quantity: stripe.Int64(1)}},
	})
	if err != nil {
		t.Fatal(err)
	}
	subID, err := e.fake.CompleteCheckout(cs.ID)
	if err != nil {
		t.Fatal(err)
	}
	inv := e.fake.Invoice(e.fake.LatestInvoice(subID))
	if inv.Total != 1000 || len(inv.TotalTaxes) != 0 || inv.AutomaticTax.Enabled {
		t.Fatalf("invoice without automatic tax: total %d taxes %v", inv.Total, inv.TotalTaxes)
	}
}

func asStripeErr(t *testing.T, err error) *stripe.Error {
	t.Helper()
	var se *stripe.Error
	if !errors.As(err, &se) {
		t.Fatalf("not a stripe error: %v", err)
	}
	return se
}

func TestTaxUnrecognizedLocation(t *testing.T) {
	t.Parallel()
	e := setup(t, stripefake.Options{TaxBasisPoints: 2000})
	cus, subID := e.subscribe(t, "price_basic_monthly")
	if err := e.fake.SetTaxLocation(cus, stripe.CustomerTaxAutomaticTaxUnrecognizedLocation); err != nil {
		t.Fatal(err)
	}
	c, err := e.sc.V1Customers.Retrieve(e.ctx, cus, &stripe.CustomerRetrieveParams{Params: stripe.Params{Expand: []*string{stripe.String("tax")}}})
	if err != nil || c.Tax.AutomaticTax != stripe.CustomerTaxAutomaticTaxUnrecognizedLocation || c.Tax.Location != nil || c.TaxExempt != "none" {
		t.Fatalf("customer: %v %+v", err, c.Tax)
	}
	if c, _ := e.sc.V1Customers.Retrieve(e.ctx, cus, nil); c.Tax != nil {
		t.Fatalf("tax rendered without expand: %+v", c.Tax)
	}
	sub := e.fake.Subscription(subID)
	item := sub.Items.Data[0]
	_, err = e.sc.V1Subscriptions.Update(e.ctx, subID, &stripe.SubscriptionUpdateParams{
		Items:             []*stripe.SubscriptionUpdateItemParams{{ID: stripe.String(item.ID), Price: stripe.String("price_pro_monthly")}},
		ProrationBehavior: stripe.String("always_invoice")})
	if se := asStripeErr(t, err); se.HTTPStatusCode != 400 || se.Type != stripe.ErrorTypeInvalidRequest || se.Code != stripe.ErrorCodeCustomerTaxLocationInvalid ||
		!strings.HasPrefix(se.Msg, "The customer's location isn't recognized.") {
		t.Fatalf("update: %+v", se)
	}
	_, err = e.sc.V1Invoices.CreatePreview(e.ctx, &stripe.InvoiceCreatePreviewParams{Customer: stripe.String(cus), Subscription: stripe.String(subID),
		SubscriptionDetails: &stripe.InvoiceCreatePreviewSubscriptionDetailsParams{
			Items: []*stripe.InvoiceCreatePreviewSubscriptionDetailsItemParams{{ID: stripe.String(item.ID), Price: stripe.String("price_pro_monthly")}}}})
	if se := asStripeErr(t, err); se.Code != stripe.ErrorCodeCustomerTaxLocationInvalid {
		t.Fatalf("preview: %+v", se)
	}
	// Other updates still work.
	if _, err := e.sc.V1Subscriptions.Update(e.ctx, subID, &stripe.SubscriptionUpdateParams{CancelAtPeriodEnd: stripe.Bool(false)}); err != nil {
		t.Fatal(err)
	}
	// The renewal invoice cannot be finalized: it stays a draft.
	invID, err := e.fake.Renew(subID)
	if err != nil {
		t.Fatal(err)
	}
	inv, err := e.sc.V1Invoices.Retrieve(e.ctx, invID, nil)
	if err != nil {
		t.Fatal(err)
	}
	if inv.Status != stripe.InvoiceStatusDraft || inv.AutomaticTax.Status != stripe.InvoiceAutomaticTaxStatusRequiresLocationInputs ||
		inv.AmountPaid != 0 || inv.LastFinalizationError == nil || inv.LastFinalizationError.Code != stripe.ErrorCodeCustomerTaxLocationInvalid {
		t.Fatalf("renewal: status %s automatic tax %+v", inv.Status, inv.AutomaticTax)
	}
	if !slices.Contains(e.fake.EventTypes(), "invoice.finalization_failed") {
		t.Error("missing invoice.finalization_failed")
	}

	// Checkout with automatic tax needs to collect the address.
	params := func(addr string) *stripe.CheckoutSessionCreateParams {
		p := &stripe.CheckoutSessionCreateParams{
			Mode: stripe.String("subscription"), Customer: stripe.String(cus), SuccessURL: stripe.String("https://app.example/s"),
			LineItems:    []*stripe.CheckoutSessionCreateLineItemParams{{Price: stripe.String("price_pro_monthly"), Quantity: stripe.Int64(1)}},
			AutomaticTax: &stripe.CheckoutSessionCreateAutomaticTaxParams{Enabled: stripe.Bool(true)},
		}
		if addr != "" {
			p.CustomerUpdate = &stripe.CheckoutSessionCreateCustomerUpdateParams{Address: stripe.String(addr)}
		}
		return p
	}
	for _, addr := range []string{"", "never"} {
		_, err = e.sc.V1CheckoutSessions.Create(e.ctx, params(addr))
		if se := asStripeErr(t, err); se.Code != stripe.ErrorCodeCustomerTaxLocationInvalid {
			t.Fatalf("checkout with customer_update[address]=%q: %+v", addr, se)
		}
	}
	cs, err := e.sc.V1CheckoutSessions.Create(e.ctx, params("auto"))
	if err != nil {
		t.Fatal(err)
	}
	if cs.AutomaticTax.Status != stripe.CheckoutSessionAutomaticTaxStatusRequiresLocationInputs {
		t.Fatalf("session automatic tax: %+v", cs.AutomaticTax)
	}
	sub2, err := e.fake.CompleteCheckout(cs.ID)
	if err != nil {
		t.Fatal(err)
	}
	// Checkout collected a recognized address.
	if inv := e.fake.Invoice(e.fake.LatestInvoice(sub2)); inv.Status != stripe.InvoiceStatusPaid || inv.Total != 3600 {
		t.Fatalf("checkout invoice: %s %d", inv.Status, inv.Total)
	}
	if got := e.fake.CheckoutSession(cs.ID); got.AutomaticTax.Status != stripe.CheckoutSessionAutomaticTaxStatusComplete {
		t.Fatalf("completed session automatic tax: %+v", got.AutomaticTax)
	}
	stripefake.CheckShapesAgainstStripeMock(t, e.fake.Requests())
}

func TestCheckoutSessionParams(t *testing.T) {
	t.Parallel()
	e := setup(t, stripefake.Options{})
	c := e.customer(t, "k")
	cs, err := e.sc.V1CheckoutSessions.Create(e.ctx, &stripe.CheckoutSessionCreateParams{
		Mode: stripe.String("subscription"), Customer: stripe.String(c.ID), ClientReferenceID: stripe.String("org_1"),
		LineItems:                []*stripe.CheckoutSessionCreateLineItemParams{{Price: stripe.String("price_pro_monthly"), Quantity: stripe.Int64(3)}},
		AutomaticTax:             &stripe.CheckoutSessionCreateAutomaticTaxParams{Enabled: stripe.Bool(true)},
		TaxIDCollection:          &stripe.CheckoutSessionCreateTaxIDCollectionParams{Enabled: stripe.Bool(true)},
		BillingAddressCollection: stripe.String("required"),
		CustomerUpdate:           &stripe.CheckoutSessionCreateCustomerUpdateParams{Address: stripe.String("auto"), Name: stripe.String("auto")},
		SubscriptionData:         &stripe.CheckoutSessionCreateSubscriptionDataParams{Metadata: map[string]string{"organisation_id": "org_1"}},
		Metadata:                 map[string]string{"organisation_id": "org_1", "plan": "pro"},
		SuccessURL:               stripe.String("https://app.example/billing/success?session_id={CHECKOUT_SESSION_ID}"),
		CancelURL:                stripe.String("https://app.example/billing"),
		Params:                   stripe.Params{Expand: []*string{stripe.String("line_items")}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if cs.Customer.ID != c.ID || cs.ClientReferenceID != "org_1" || !cs.AutomaticTax.Enabled || !cs.TaxIDCollection.Enabled ||
		cs.BillingAddressCollection != "required" || cs.SuccessURL == "" || cs.CancelURL != "https://app.example/billing" ||
		len(cs.Metadata) != 2 || cs.Metadata["plan"] != "pro" || cs.Mode != stripe.CheckoutSessionModeSubscription {
		t.Fatalf("session: %+v", cs)
	}
	if cs.LineItems == nil || len(cs.LineItems.Data) != 1 || cs.LineItems.Data[0].Price.ID != "price_pro_monthly" || cs.LineItems.Data[0].Quantity != 3 {
		t.Fatalf("line items: %+v", cs.LineItems)
	}
	if got := e.fake.CheckoutSession(cs.ID); got == nil || got.Metadata["organisation_id"] != "org_1" {
		t.Fatalf("CheckoutSession: %+v", got)
	}
	p := e.fake.CheckoutSessionParams(cs.ID)
	if p.Price != "price_pro_monthly" || p.Quantity != 3 || p.CustomerUpdateAddress != "auto" || p.CustomerUpdateName != "auto" ||
		p.SubscriptionMetadata["organisation_id"] != "org_1" {
		t.Fatalf("params: %+v", p)
	}
	subID, err := e.fake.CompleteCheckout(cs.ID)
	if err != nil {
		t.Fatal(err)
	}
	sub := e.fake.Subscription(subID)
	if sub.Metadata["organisation_id"] != "org_1" || sub.Items.Data[0].Quantity != 3 || !sub.AutomaticTax.Enabled {
		t.Fatalf("subscription: %+v", sub)
	}
	if _, err := e.sc.V1CheckoutSessions.Create(e.ctx, &stripe.CheckoutSessionCreateParams{
		Mode: stripe.String("subscription"), SuccessURL: stripe.String("https://app.example/s"),
		LineItems:      []*stripe.CheckoutSessionCreateLineItemParams{{Price: stripe.String("price_pro_monthly"), Quantity: stripe.Int64(1)}},
		CustomerUpdate: &stripe.CheckoutSessionCreateCustomerUpdateParams{Address: stripe.String("auto")},
	}); err == nil {
		t.Fatal("customer_update without customer accepted")
	}
	stripefake.CheckShapesAgainstStripeMock(t, e.fake.Requests())
}
