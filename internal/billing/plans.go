// Package billing is subscription billing on Stripe (docs/billing.md). Stripe is
// the source of truth; the application keeps a snapshot of each
// organisation's subscription (billing_accounts) and derives what the
// organisation may do from it with a pure function (Catalog.Compute).
// Webhook events are verified, recorded in a ledger and processed by a River
// job on the billing queue (Ledger.Receive).
package billing

import (
	"fmt"
	"maps"
	"slices"
)

// PlanID names a plan. It is stable: it is stored and shown in URLs.
type PlanID string

// The plans, defined once here.
const (
	PlanFree     PlanID = "free"
	PlanPro      PlanID = "pro"
	PlanBusiness PlanID = "business"
)

// Interval is a billing interval of a paid plan, as Stripe names it.
type Interval string

// Billing intervals.
const (
	IntervalMonth Interval = "month"
	IntervalYear  Interval = "year"
)

// Features a plan may include.
const (
	FeatureAPIAccess  = "api_access"
	FeatureAuditLog   = "audit_log"
	FeatureExports    = "exports"
	FeatureSSO        = "sso"
	FeatureCustomRole = "custom_roles"
)

// Limits are what a plan entitles an organisation to.
type Limits struct {
	// Seats is the most members an organisation may have.
	Seats int
	// Contacts is the most contacts an organisation may hold.
	Contacts int
	// Features are the features the plan includes, sorted.
	Features []string
}

// Has reports whether the limits include feature.
func (l Limits) Has(feature string) bool {
	_, found := slices.BinarySearch(l.Features, feature)
	return found
}

// clone returns l with its own copy of Features, so that a caller cannot
// change a Catalog's plans through the Limits it was given.
func (l Limits) clone() Limits {
	l.Features = slices.Clone(l.Features)
	return l
}

// Plan is one plan: its name, its Stripe prices and its entitlements.
type Plan struct {
	ID   PlanID
	Name string
	// Prices are the Stripe price IDs by interval; empty for the free plan.
	Prices map[Interval]string
	// Limits are the plan's entitlements.
	Limits Limits
}

// Free reports whether the plan is the free plan, which needs no Stripe
// customer or subscription.
func (p Plan) Free() bool { return p.ID == PlanFree }

// PriceIDs are the Stripe price IDs of the paid plans, one per plan and
// interval. They differ between Stripe accounts (test, live), so they come
// from configuration.
type PriceIDs struct {
	ProMonth, ProYear           string
	BusinessMonth, BusinessYear string
}

// Catalog is the set of plans with their Stripe prices. It is immutable once
// built, so its methods are safe for concurrent use.
type Catalog struct {
	plans   []Plan // free first, then by increasing entitlements
	byPrice map[string]priceRef
}

type priceRef struct {
	plan     int
	interval Interval
}

// NewCatalog returns the catalog of the plans with the given Stripe price
// IDs. Every price ID is required and must be distinct: a price maps back to
// exactly one plan and interval.
func NewCatalog(ids PriceIDs) (*Catalog, error) {
	plans := []Plan{
		{
			ID:     PlanFree,
			Name:   "Free",
			Limits: Limits{Seats: 3, Contacts: 500},
		},
		{
			ID:     PlanPro,
			Name:   "Pro",
			Prices: map[Interval]string{IntervalMonth: ids.ProMonth, IntervalYear: ids.ProYear},
			Limits: Limits{Seats: 20, Contacts: 25_000,
				Features: []string{FeatureAPIAccess, FeatureExports}},
		},
		{
			ID:     PlanBusiness,
			Name:   "Business",
			Prices: map[Interval]string{IntervalMonth: ids.BusinessMonth, IntervalYear: ids.BusinessYear},
			Limits: Limits{Seats: 200, Contacts: 500_000,
				Features: []string{FeatureAPIAccess, FeatureAuditLog, FeatureExports, FeatureSSO, FeatureCustomRole}},
		},
	}
	c := &Catalog{plans: plans, byPrice: make(map[string]priceRef)}
	for i := range plans {
		slices.Sort(plans[i].Limits.Features)
		for _, iv := range []Interval{IntervalMonth, IntervalYear} {
			if plans[i].Free() {
				continue
			}
			price := plans[i].Prices[iv]
			if price == "" {
				return nil, fmt.Errorf("billing: no Stripe price ID for plan %s, interval %s", plans[i].ID, iv)
			}
			if prev, dup := c.byPrice[price]; dup {
				return nil, fmt.Errorf("billing: Stripe price ID %s is used by both %s/%s and %s/%s",
					price, plans[prev.plan].ID, prev.interval, plans[i].ID, iv)
			}
			c.byPrice[price] = priceRef{plan: i, interval: iv}
		}
	}
	return c, nil
}

// Plans returns every plan, the free plan first, in increasing order of
// entitlements.
func (c *Catalog) Plans() []Plan {
	out := make([]Plan, len(c.plans))
	for i, p := range c.plans {
		out[i] = p.copy()
	}
	return out
}

// Plan returns the plan with the given ID.
func (c *Catalog) Plan(id PlanID) (Plan, bool) {
	for _, p := range c.plans {
		if p.ID == id {
			return p.copy(), true
		}
	}
	return Plan{}, false
}

// Free returns the free plan.
func (c *Catalog) Free() Plan { return c.plans[0].copy() }

// ByPrice returns the plan and interval a Stripe price ID belongs to.
func (c *Catalog) ByPrice(priceID string) (Plan, Interval, bool) {
	ref, ok := c.byPrice[priceID]
	if !ok {
		return Plan{}, "", false
	}
	return c.plans[ref.plan].copy(), ref.interval, true
}

// Price returns the Stripe price ID of a paid plan and interval.
func (c *Catalog) Price(id PlanID, iv Interval) (string, bool) {
	p, ok := c.Plan(id)
	if !ok || p.Free() {
		return "", false
	}
	price, ok := p.Prices[iv]
	return price, ok
}

func (p Plan) copy() Plan {
	p.Prices = maps.Clone(p.Prices)
	p.Limits = p.Limits.clone()
	return p
}

// rank orders plans by entitlements: the free plan is 0; -1 for an unknown plan.
func (c *Catalog) rank(id PlanID) int {
	for i, p := range c.plans {
		if p.ID == id {
			return i
		}
	}
	return -1
}
