package billing

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/stripe/stripe-go/v85"

	"github.com/groundwork-dev/groundwork/internal/gw"
)

// PlanPrice is a price a plan is sold at, as Stripe has it.
type PlanPrice struct {
	// ID is the Stripe price ID.
	ID       string
	Plan     PlanID
	Interval Interval
	// UnitAmount is the amount per unit (per seat for a per-seat plan) in
	// the currency's minor unit.
	UnitAmount int64
	Currency   string
}

// Label is the price as the plan cards show it, e.g. "30.00 EUR / month".
func (p PlanPrice) Label() string {
	return FormatAmount(p.UnitAmount, p.Currency) + " / " + string(p.Interval)
}

// DefaultPriceCacheTTL is how long the prices fetched from Stripe are used
// before they are fetched again.
const DefaultPriceCacheTTL = time.Hour

// priceRetry is how long a failed price fetch waits before the next try;
// meanwhile the last prices fetched are used.
const priceRetry = time.Minute

type planInterval struct {
	plan PlanID
	iv   Interval
}

// priceBook is the Stripe prices the catalogue's plans are sold at: by the
// price ID the catalogue (or STRIPE_PRICE_*) names, else by lookup key
// (GET /v1/prices?lookup_keys[]=..., at most 10 per request:
// https://docs.stripe.com/api/prices/list). They are fetched together and
// cached for ttl; when Stripe cannot be reached the last prices fetched
// are used, and without any the caller falls back (the plan cards show no
// amount; Checkout of a plan sold by lookup key is refused as unavailable).
type priceBook struct {
	stripe *stripe.Client
	cat    *Catalog
	clock  gw.Clock
	ttl    time.Duration

	mu        sync.Mutex
	prices    map[planInterval]PlanPrice
	fetchedAt time.Time // of prices
	retryAt   time.Time // after a failure
	lastErr   error
}

// all returns every plan's prices. A fetch that fails returns the last
// prices fetched (nil if none) with the error.
func (b *priceBook) all(ctx context.Context) (map[planInterval]PlanPrice, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.clock.Now()
	if b.prices != nil && now.Sub(b.fetchedAt) < b.ttl {
		return b.prices, nil
	}
	if now.Before(b.retryAt) {
		return b.prices, b.lastErr
	}
	prices, err := b.fetch(ctx)
	if err != nil {
		b.retryAt, b.lastErr = now.Add(priceRetry), err
		return b.prices, err
	}
	b.prices, b.fetchedAt, b.lastErr = prices, now, nil
	return prices, nil
}

func (b *priceBook) fetch(ctx context.Context) (map[planInterval]PlanPrice, error) {
	out := map[planInterval]PlanPrice{}
	byKey := map[string]planInterval{}
	var keys []string
	for _, p := range b.cat.Plans() {
		for _, iv := range p.Intervals() {
			if id := p.Prices[iv]; id != "" {
				price, err := b.stripe.V1Prices.Retrieve(ctx, id, nil)
				if err != nil {
					return nil, fmt.Errorf("billing: fetch price %s of plan %s: %w", id, p.ID, err)
				}
				out[planInterval{p.ID, iv}] = planPriceOf(price, p.ID, iv)
				continue
			}
			byKey[p.LookupKeys[iv]] = planInterval{p.ID, iv}
			keys = append(keys, p.LookupKeys[iv])
		}
	}
	for len(keys) > 0 {
		n := min(len(keys), 10)
		lp := &stripe.PriceListParams{Active: stripe.Bool(true), LookupKeys: stripe.StringSlice(keys[:n])}
		lp.Limit = stripe.Int64(100)
		for price, err := range b.stripe.V1Prices.List(ctx, lp).All(ctx) {
			if err != nil {
				return nil, fmt.Errorf("billing: list prices by lookup key: %w", err)
			}
			if pi, ok := byKey[price.LookupKey]; ok {
				out[pi] = planPriceOf(price, pi.plan, pi.iv)
			}
		}
		keys = keys[n:]
	}
	return out, nil
}

func planPriceOf(p *stripe.Price, plan PlanID, iv Interval) PlanPrice {
	return PlanPrice{ID: p.ID, Plan: plan, Interval: iv, UnitAmount: p.UnitAmount, Currency: string(p.Currency)}
}

// sellingPrice returns the Stripe price ID plan is sold at in interval iv:
// the catalogue's, else the active price with the plan's lookup key.
// EUNAVAILABLE when Stripe cannot be reached to resolve the lookup key;
// an error naming the lookup key when no active price has it.
func (s *Service) sellingPrice(ctx context.Context, plan Plan, iv Interval) (string, error) {
	if id, ok := s.Catalog().Price(plan.ID, iv); ok {
		return id, nil
	}
	key := plan.LookupKeys[iv]
	if key == "" {
		return "", &gw.Error{Code: gw.EINVALID, Message: fmt.Sprintf("The %s plan is not sold %sly.", plan.Name, iv),
			Fields: map[string]string{"interval": "Unknown interval."}}
	}
	prices, err := s.prices.all(ctx)
	if p, ok := prices[planInterval{plan.ID, iv}]; ok {
		return p.ID, nil
	}
	if err != nil {
		return "", stripeError("fetch prices", err)
	}
	return "", fmt.Errorf("billing: no active Stripe price has lookup key %q (plan %s, %s): create it or set prices.%s in plans.json", key, plan.ID, iv, iv)
}

// Prices returns the prices the plans are sold at, for the plan cards
// (cached; see priceBook). When Stripe cannot be reached and nothing was
// fetched before, it returns what it has (possibly nothing) and false: the
// cards then show no amounts and say so.
func (s *Service) Prices(ctx context.Context) (map[PlanID]map[Interval]PlanPrice, bool) {
	prices, err := s.prices.all(ctx)
	out := map[PlanID]map[Interval]PlanPrice{}
	for k, p := range prices {
		if out[k.plan] == nil {
			out[k.plan] = map[Interval]PlanPrice{}
		}
		out[k.plan][k.iv] = p
	}
	return out, err == nil || len(prices) > 0
}
