package main

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/groundwork-dev/groundwork/internal/config"
	"github.com/groundwork-dev/groundwork/internal/stripefake"
)

// fakeStripePrices are the prices the built-in fake Stripe sells: the plan
// catalogue's lookup keys (internal/billing/plans.json), in euros, so the
// plan cards show amounts read from "Stripe" as they would in production.
var fakeStripePrices = []stripefake.Price{
	{ID: "price_fake_pro_monthly", Product: "prod_fake_pro", UnitAmount: 2900, LookupKey: "groundwork_pro_monthly"},
	{ID: "price_fake_pro_yearly", Product: "prod_fake_pro", UnitAmount: 29000, Interval: "year", LookupKey: "groundwork_pro_yearly"},
	{ID: "price_fake_business_monthly", Product: "prod_fake_business", UnitAmount: 9900, LookupKey: "groundwork_business_monthly"},
	{ID: "price_fake_business_yearly", Product: "prod_fake_business", UnitAmount: 99000, Interval: "year", LookupKey: "groundwork_business_yearly"},
}

// fakeStripeTick is how often the fake's events are delivered to the app.
const fakeStripeTick = time.Second

// startFakeStripe runs the built-in fake Stripe for GROUNDWORK_STRIPE=fake
// (development only; config refuses it in production): it serves the fake
// API and its hosted Checkout and portal pages on a loopback port, points
// cfg's STRIPE_API_BASE at it, and delivers its events to webhookURL, the
// app's own POST /webhooks/stripe, signed with config.FakeWebhookSecret,
// every second (an event the app refuses stays pending and is sent again,
// as Stripe retries). The fake's clock follows the wall clock. stop ends
// the deliveries and the fake.
func startFakeStripe(ctx context.Context, cfg *config.Config, webhookURL string, logger *slog.Logger) (stop func()) {
	fake := stripefake.New(stripefake.Options{Now: time.Now(), Prices: fakeStripePrices}).Serve()
	cfg.Billing.APIBase = fake.URL()
	logger.Warn("billing runs against the built-in fake Stripe (GROUNDWORK_STRIPE=fake): no real payment is taken",
		slog.String("stripe_api_base", fake.URL()), slog.String("webhook_url", webhookURL))
	ctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(fakeStripeTick)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			if d := time.Until(fake.Now()); d < 0 {
				fake.Advance(-d) // follow the wall clock
			}
			attempts, err := fake.Deliver(ctx, webhookURL, config.FakeWebhookSecret, stripefake.DeliverOptions{})
			if err != nil && ctx.Err() == nil {
				logger.Warn("fake Stripe: deliver events", slog.String("error", err.Error()))
			}
			for _, a := range attempts {
				if !a.Delivered() && ctx.Err() == nil {
					logger.Debug("fake Stripe: event not delivered yet", slog.String("event_id", a.EventID),
						slog.String("type", a.Type), slog.Int("status", a.Status))
				}
			}
		}
	}()
	return func() {
		cancel()
		wg.Wait()
		fake.Close()
	}
}
