// Package billing is subscription billing on Stripe (docs/billing.md). Stripe is
// the source of truth; the application keeps a snapshot of each
// organisation's subscription (billing_accounts) and derives what the
// organisation may do from it with a pure function (Catalog.Compute).
// Webhook events are verified, recorded in a ledger and processed by a River
// job on the billing queue (Ledger.Receive).
package billing

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"

	"github.com/stripe/stripe-go/v85"
)

// PlanID names a plan. It is stable: it is stored and shown in URLs.
type PlanID string

// The plans of the catalogue shipped in plans.json. A catalogue may name
// others; these are the ones the code and its tests refer to.
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

// PlanMetadata is the Stripe price metadata key naming a plan: a price with
// metadata[groundwork_plan]=pro is a Pro price whatever its ID, lookup key
// or product.
const PlanMetadata = "groundwork_plan"

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
	// Prices are the Stripe price IDs Checkout and plan changes sell, by
	// interval (plans.json "prices", overridden by STRIPE_PRICE_*); an
	// interval without one is sold by its lookup key (LookupKeys), which
	// the Service resolves through Stripe. Empty for the free plan.
	Prices map[Interval]string
	// LookupKeys are the Stripe lookup keys of the prices sold, by interval.
	LookupKeys map[Interval]string
	// TrialDays, when positive, is the trial the billing page offers an
	// organisation that never had a subscription.
	TrialDays int64
	// PerSeat says the subscription's quantity is the organisation's member
	// count, kept in sync as members join and leave.
	PerSeat bool
	// Limits are the plan's entitlements.
	Limits Limits

	free bool
}

// Free reports whether the plan is the free plan (the catalogue's first),
// which needs no Stripe customer or subscription.
func (p Plan) Free() bool { return p.free }

// Intervals are the billing intervals the plan is sold in, monthly first.
func (p Plan) Intervals() []Interval {
	var out []Interval
	for _, iv := range []Interval{IntervalMonth, IntervalYear} {
		if p.Prices[iv] != "" || p.LookupKeys[iv] != "" {
			out = append(out, iv)
		}
	}
	return out
}

// PriceIDs override the catalogue's Stripe price IDs of the Pro and
// Business plans (STRIPE_PRICE_PRO_MONTHLY, ...): price IDs differ between
// Stripe accounts (test, live). Empty fields override nothing.
type PriceIDs struct {
	ProMonth, ProYear           string
	BusinessMonth, BusinessYear string
}

// Catalog is the set of plans with their Stripe prices, loaded from a plan
// catalogue (plans.json). It is immutable once built, so its methods are
// safe for concurrent use.
//
// A Stripe price belongs to a plan when, in this order: its ID is one of
// the plan's prices or other_prices; its lookup key is one of the plan's
// lookup_keys; its metadata[groundwork_plan] names the plan; or its product
// is one of the plan's products. So a new price of a plan (a price
// increase, a grandfathered or per-currency price) keeps mapping to it.
type Catalog struct {
	plans       []Plan // free first, then by increasing entitlements
	byPrice     map[string]priceRef
	byLookupKey map[string]priceRef
	byProduct   map[string]int
}

type priceRef struct {
	plan     int
	interval Interval // "" for other_prices: the price's own interval applies
}

//go:embed plans.json
var plansJSON []byte

// DefaultPlans is the plan catalogue shipped with the application
// (internal/billing/plans.json; docs/billing.md describes its fields).
func DefaultPlans() []byte { return bytes.Clone(plansJSON) }

// catalogueFile is plans.json.
type catalogueFile struct {
	Plans []planEntry `json:"plans"`
}

// planEntry is one plan of plans.json.
type planEntry struct {
	ID          string              `json:"id"`
	Name        string              `json:"name"`
	Seats       int                 `json:"seats"`
	Contacts    int                 `json:"contacts"`
	Features    []string            `json:"features"`
	TrialDays   int64               `json:"trial_days"`
	PerSeat     bool                `json:"per_seat"`
	Prices      map[Interval]string `json:"prices"`
	LookupKeys  map[Interval]string `json:"lookup_keys"`
	OtherPrices []string            `json:"other_prices"`
	Products    []string            `json:"products"`
}

var planIDPattern = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,31}$`)

// NewCatalog returns the shipped catalogue (DefaultPlans) with the price
// IDs of ids overriding its own.
func NewCatalog(ids PriceIDs) (*Catalog, error) {
	return LoadCatalog(plansJSON, ids)
}

// LoadCatalog returns the catalogue of plans.json data with the price IDs
// of overrides. Its errors are one line, naming the plan and the field.
func LoadCatalog(data []byte, overrides PriceIDs) (*Catalog, error) {
	c, err := loadCatalog(data, overrides)
	if err != nil {
		return nil, fmt.Errorf("billing: plan catalogue: %s", strings.ReplaceAll(err.Error(), "\n", " "))
	}
	return c, nil
}

func loadCatalog(data []byte, overrides PriceIDs) (*Catalog, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var f catalogueFile
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("invalid JSON: %w", err)
	}
	if dec.More() {
		return nil, errors.New("invalid JSON: data after the catalogue")
	}
	if len(f.Plans) < 2 {
		return nil, errors.New("needs the free plan first and at least one paid plan")
	}
	for _, o := range []struct {
		plan PlanID
		iv   Interval
		id   string
	}{{PlanPro, IntervalMonth, overrides.ProMonth}, {PlanPro, IntervalYear, overrides.ProYear},
		{PlanBusiness, IntervalMonth, overrides.BusinessMonth}, {PlanBusiness, IntervalYear, overrides.BusinessYear}} {
		if o.id == "" {
			continue
		}
		i := slices.IndexFunc(f.Plans, func(p planEntry) bool { return PlanID(p.ID) == o.plan })
		if i <= 0 {
			return nil, fmt.Errorf("STRIPE_PRICE_%s_%s is set but the catalogue has no paid plan %q",
				strings.ToUpper(string(o.plan)), map[Interval]string{IntervalMonth: "MONTHLY", IntervalYear: "YEARLY"}[o.iv], o.plan)
		}
		if f.Plans[i].Prices == nil {
			f.Plans[i].Prices = map[Interval]string{}
		}
		f.Plans[i].Prices[o.iv] = o.id
	}
	c := &Catalog{byPrice: map[string]priceRef{}, byLookupKey: map[string]priceRef{}, byProduct: map[string]int{}}
	owner := map[string]PlanID{} // every price ID, lookup key and product: one plan
	claim := func(kind, v string, id PlanID) error {
		if v == "" {
			return fmt.Errorf("plan %q: empty %s", id, kind)
		}
		if prev, dup := owner[kind+" "+v]; dup {
			return fmt.Errorf("%s %q is used by both plan %q and plan %q", kind, v, prev, id)
		}
		owner[kind+" "+v] = id
		return nil
	}
	for i, e := range f.Plans {
		id := PlanID(e.ID)
		switch {
		case !planIDPattern.MatchString(e.ID):
			return nil, fmt.Errorf("plan %d: id %q must be lower-case letters, digits, _ or - (at most 32)", i+1, e.ID)
		case slices.ContainsFunc(c.plans, func(p Plan) bool { return p.ID == id }):
			return nil, fmt.Errorf("plan %q is defined twice", id)
		case e.Name == "":
			return nil, fmt.Errorf("plan %q: name is required", id)
		case e.Seats < 1 || e.Contacts < 1:
			return nil, fmt.Errorf("plan %q: seats and contacts must be at least 1", id)
		case e.TrialDays < 0 || e.TrialDays > 730:
			return nil, fmt.Errorf("plan %q: trial_days must be between 0 and 730 (Stripe's limit)", id)
		}
		p := Plan{ID: id, Name: e.Name, TrialDays: e.TrialDays, PerSeat: e.PerSeat, free: i == 0,
			Prices: map[Interval]string{}, LookupKeys: map[Interval]string{},
			Limits: Limits{Seats: e.Seats, Contacts: e.Contacts, Features: slices.Sorted(slices.Values(e.Features))}}
		if p.free {
			if len(e.Prices)+len(e.LookupKeys)+len(e.OtherPrices)+len(e.Products) > 0 || e.TrialDays > 0 || e.PerSeat {
				return nil, fmt.Errorf("plan %q is the free plan (the first): it takes no prices, lookup keys, products, trial or per_seat", id)
			}
			c.plans = append(c.plans, p)
			continue
		}
		for iv, v := range e.Prices {
			if iv != IntervalMonth && iv != IntervalYear {
				return nil, fmt.Errorf("plan %q: prices: interval %q is not month or year", id, iv)
			}
			if err := claim("price", v, id); err != nil {
				return nil, err
			}
			p.Prices[iv] = v
			c.byPrice[v] = priceRef{plan: i, interval: iv}
		}
		for iv, v := range e.LookupKeys {
			if iv != IntervalMonth && iv != IntervalYear {
				return nil, fmt.Errorf("plan %q: lookup_keys: interval %q is not month or year", id, iv)
			}
			if err := claim("lookup key", v, id); err != nil {
				return nil, err
			}
			p.LookupKeys[iv] = v
			c.byLookupKey[v] = priceRef{plan: i, interval: iv}
		}
		for _, v := range e.OtherPrices {
			if err := claim("price", v, id); err != nil {
				return nil, err
			}
			c.byPrice[v] = priceRef{plan: i}
		}
		for _, v := range e.Products {
			if err := claim("product", v, id); err != nil {
				return nil, err
			}
			c.byProduct[v] = i
		}
		if len(p.Intervals()) == 0 {
			return nil, fmt.Errorf("plan %q: no Stripe price to sell: set prices or lookup_keys for month and/or year", id)
		}
		c.plans = append(c.plans, p)
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

// ByPrice returns the plan and interval a Stripe price ID belongs to, from
// the IDs the catalogue names; the interval is "" for an other_prices ID
// (its price object says it). Resolve also maps by lookup key, metadata
// and product.
func (c *Catalog) ByPrice(priceID string) (Plan, Interval, bool) {
	ref, ok := c.byPrice[priceID]
	if !ok {
		return Plan{}, "", false
	}
	return c.plans[ref.plan].copy(), ref.interval, true
}

// Resolve returns the plan and interval of a Stripe price (see Catalog for
// the order of the rules); false when the price is no plan's (an add-on,
// or a price the catalogue does not know).
func (c *Catalog) Resolve(p *stripe.Price) (Plan, Interval, bool) {
	if p == nil || p.ID == "" {
		return Plan{}, "", false
	}
	var iv Interval
	if p.Recurring != nil {
		iv = Interval(p.Recurring.Interval)
	}
	pick := func(i int, ref Interval) (Plan, Interval, bool) {
		if iv == "" {
			iv = ref
		}
		return c.plans[i].copy(), iv, true
	}
	if ref, ok := c.byPrice[p.ID]; ok {
		return pick(ref.plan, ref.interval)
	}
	if ref, ok := c.byLookupKey[p.LookupKey]; ok && p.LookupKey != "" {
		return pick(ref.plan, ref.interval)
	}
	if id := p.Metadata[PlanMetadata]; id != "" {
		if i := c.rank(PlanID(id)); i > 0 {
			return pick(i, "")
		}
	}
	if p.Product != nil {
		if i, ok := c.byProduct[p.Product.ID]; ok {
			return pick(i, "")
		}
	}
	return Plan{}, "", false
}

// planPrice returns, of the prices of a subscription's items (or of a
// schedule phase's, or a pending update's), the index of the one that
// carries the plan, with that plan and interval: the price that resolves
// to the highest plan, so an add-on item, listed first or not, is passed
// over. ok is false when no price is a plan's.
func (c *Catalog) planPrice(prices []*stripe.Price) (i int, p Plan, iv Interval, ok bool) {
	best := -1
	for x, price := range prices {
		xp, xiv, found := c.Resolve(price)
		if found && c.rank(xp.ID) > best {
			i, p, iv, ok, best = x, xp, xiv, true, c.rank(xp.ID)
		}
	}
	return i, p, iv, ok
}

// Price returns the Stripe price ID a paid plan is sold at in an interval;
// false when the catalogue names none (then the plan's lookup key is
// resolved through Stripe) or the plan is free or unknown.
func (c *Catalog) Price(id PlanID, iv Interval) (string, bool) {
	p, ok := c.Plan(id)
	if !ok || p.Free() {
		return "", false
	}
	price, ok := p.Prices[iv]
	return price, ok && price != ""
}

func (p Plan) copy() Plan {
	p.Prices = maps.Clone(p.Prices)
	p.LookupKeys = maps.Clone(p.LookupKeys)
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
