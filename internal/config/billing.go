package config

import (
	"errors"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Billing is the Stripe billing configuration. Billing is on when
// STRIPE_SECRET_KEY is set; without it every organisation is on the free
// plan's terms with no limits enforced, and the billing pages say billing is
// not configured.
type Billing struct {
	// SecretKey is the Stripe API key (STRIPE_SECRET_KEY, sk_test_… or sk_live_…).
	SecretKey string
	// WebhookSecrets verify webhook signatures (STRIPE_WEBHOOK_SECRET,
	// comma-separated while a secret is rolled).
	WebhookSecrets []string
	// APIBase is the Stripe API's URL (STRIPE_API_BASE, default
	// https://api.stripe.com), for a fake or stripe-mock in tests and
	// development.
	APIBase string
	// Price IDs overriding the plan catalogue's (internal/billing/plans.json)
	// for Pro and Business (STRIPE_PRICE_PRO_MONTHLY, STRIPE_PRICE_PRO_YEARLY,
	// STRIPE_PRICE_BUSINESS_MONTHLY, STRIPE_PRICE_BUSINESS_YEARLY; default
	// empty: the catalogue's price, else its lookup key, resolved in Stripe).
	PriceProMonthly, PriceProYearly, PriceBusinessMonthly, PriceBusinessYearly string
	// PortalConfiguration is a Customer Portal configuration ID
	// (STRIPE_PORTAL_CONFIGURATION); empty creates one on first use.
	PortalConfiguration string
	// GraceDays is how long an organisation keeps access after a failed
	// payment, counted from the first failure (GROUNDWORK_BILLING_GRACE_DAYS,
	// default 7).
	GraceDays int
	// FinalizationDays is how long the latest invoice may fail to be
	// finalised (Stripe Tax needs the customer's location) before the grace
	// period starts (GROUNDWORK_BILLING_FINALIZATION_DAYS, default 3).
	FinalizationDays int
	// LostDispute is what a lost dispute does (GROUNDWORK_BILLING_LOST_DISPUTE:
	// restrict (default, read-only), keep, or free).
	LostDispute string
	// AllowWhileDisputed keeps access while a dispute with funds withdrawn
	// is open (GROUNDWORK_BILLING_ALLOW_WHILE_DISPUTED, default false).
	AllowWhileDisputed bool
	// ReconcileInterval is how often the reconciler runs
	// (GROUNDWORK_BILLING_RECONCILE_INTERVAL, default 15m).
	ReconcileInterval time.Duration
	// SweepInterval is how often every organisation with a Stripe customer
	// is re-synced, slowly (GROUNDWORK_BILLING_SWEEP_INTERVAL, default 24h).
	SweepInterval time.Duration
	// PromotionCodes lets customers enter promotion codes in Checkout
	// (GROUNDWORK_BILLING_PROMOTION_CODES, default true).
	PromotionCodes bool
	// Workers is the concurrency of the billing job queue
	// (GROUNDWORK_QUEUE_BILLING_WORKERS, default 10).
	Workers int
	// Fake runs the built-in fake Stripe (internal/stripefake) inside
	// "groundwork serve" (GROUNDWORK_STRIPE=fake; default empty: the
	// Stripe API of STRIPE_SECRET_KEY, if any). Development only: with it
	// billing can be clicked through with no Stripe account, the fake's
	// events are delivered to the app's own webhook endpoint signed with
	// FakeWebhookSecret, and serve sets APIBase to the fake's address.
	Fake bool
}

// FakeSecretKey and FakeWebhookSecret are the API key and webhook signing
// secret of GROUNDWORK_STRIPE=fake: the fake accepts any key, and signs the
// events it delivers with this secret, which the app verifies as Stripe's.
const (
	FakeSecretKey     = "sk_test_groundwork_fake"
	FakeWebhookSecret = "whsec_groundwork_fake"
)

// Enabled reports whether Stripe billing is configured.
func (b Billing) Enabled() bool { return b.SecretKey != "" }

func (p *parser) billing(production bool) Billing {
	b := Billing{
		SecretKey:            strings.TrimSpace(p.getenv("STRIPE_SECRET_KEY")),
		APIBase:              p.str("STRIPE_API_BASE", "https://api.stripe.com"),
		PriceProMonthly:      p.str("STRIPE_PRICE_PRO_MONTHLY", ""),
		PriceProYearly:       p.str("STRIPE_PRICE_PRO_YEARLY", ""),
		PriceBusinessMonthly: p.str("STRIPE_PRICE_BUSINESS_MONTHLY", ""),
		PriceBusinessYearly:  p.str("STRIPE_PRICE_BUSINESS_YEARLY", ""),
		PortalConfiguration:  p.str("STRIPE_PORTAL_CONFIGURATION", ""),
		GraceDays:            p.int("GROUNDWORK_BILLING_GRACE_DAYS", 7, 1, 365),
		FinalizationDays:     p.int("GROUNDWORK_BILLING_FINALIZATION_DAYS", 3, 1, 365),
		LostDispute:          p.oneOf("GROUNDWORK_BILLING_LOST_DISPUTE", "restrict", "restrict", "keep", "free"),
		ReconcileInterval:    p.duration("GROUNDWORK_BILLING_RECONCILE_INTERVAL", 15*time.Minute),
		SweepInterval:        p.duration("GROUNDWORK_BILLING_SWEEP_INTERVAL", 24*time.Hour),
		Workers:              p.int("GROUNDWORK_QUEUE_BILLING_WORKERS", 10, 1, 10000),
	}
	b.AllowWhileDisputed = p.oneOf("GROUNDWORK_BILLING_ALLOW_WHILE_DISPUTED", "false", "true", "false") == "true"
	b.PromotionCodes = p.oneOf("GROUNDWORK_BILLING_PROMOTION_CODES", "true", "true", "false") == "true"
	for _, s := range strings.Split(p.getenv("STRIPE_WEBHOOK_SECRET"), ",") {
		if s = strings.TrimSpace(s); s != "" {
			b.WebhookSecrets = append(b.WebhookSecrets, s)
		}
	}
	switch mode := p.str("GROUNDWORK_STRIPE", ""); mode {
	case "":
	case "fake":
		switch {
		case production:
			p.fail("GROUNDWORK_STRIPE", "fake runs a fake Stripe for development; it is refused with GROUNDWORK_ENV=production (unset it and set STRIPE_SECRET_KEY)")
		case b.SecretKey != "":
			p.fail("GROUNDWORK_STRIPE", "fake and STRIPE_SECRET_KEY are both set; unset one (the fake needs no key)")
		default:
			b.Fake, b.SecretKey, b.WebhookSecrets = true, FakeSecretKey, []string{FakeWebhookSecret}
		}
	default:
		p.fail("GROUNDWORK_STRIPE", "%q is not a mode; the only one is fake (the built-in fake Stripe, development only)", mode)
	}
	if u, err := url.Parse(b.APIBase); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		p.fail("STRIPE_API_BASE", "%q is not an http(s) URL", b.APIBase)
	}
	if !b.Enabled() {
		return b
	}
	if len(b.WebhookSecrets) == 0 {
		p.fail("STRIPE_WEBHOOK_SECRET", "required when STRIPE_SECRET_KEY is set (the endpoint's signing secret, whsec_…)")
	}
	for name, v := range map[string]string{
		"STRIPE_PRICE_PRO_MONTHLY": b.PriceProMonthly, "STRIPE_PRICE_PRO_YEARLY": b.PriceProYearly,
		"STRIPE_PRICE_BUSINESS_MONTHLY": b.PriceBusinessMonthly, "STRIPE_PRICE_BUSINESS_YEARLY": b.PriceBusinessYearly,
	} {
		if v != "" && !strings.HasPrefix(v, "price_") && !strings.HasPrefix(v, "plan_") {
			p.fail(name, "%q is not a Stripe price ID (price_…); leave it empty to sell the plan by its lookup key in plans.json", v)
		}
	}
	if p.err == nil && !strings.HasPrefix(b.SecretKey, "sk_") && !strings.HasPrefix(b.SecretKey, "rk_") {
		p.err = errors.New("STRIPE_SECRET_KEY: not a Stripe secret key (sk_… or rk_…)")
	}
	return b
}

// rows are Billing's lines of Print.
func (b Billing) rows() [][2]string {
	secrets := make([]string, len(b.WebhookSecrets))
	for i := range secrets {
		secrets[i] = "xxxxx"
	}
	return [][2]string{
		{"GROUNDWORK_STRIPE", map[bool]string{true: "fake"}[b.Fake]},
		{"STRIPE_SECRET_KEY", redactSecret(b.SecretKey)},
		{"STRIPE_WEBHOOK_SECRET", strings.Join(secrets, ",")},
		{"STRIPE_API_BASE", b.APIBase},
		{"STRIPE_PRICE_PRO_MONTHLY", b.PriceProMonthly},
		{"STRIPE_PRICE_PRO_YEARLY", b.PriceProYearly},
		{"STRIPE_PRICE_BUSINESS_MONTHLY", b.PriceBusinessMonthly},
		{"STRIPE_PRICE_BUSINESS_YEARLY", b.PriceBusinessYearly},
		{"STRIPE_PORTAL_CONFIGURATION", b.PortalConfiguration},
		{"GROUNDWORK_BILLING_GRACE_DAYS", strconv.Itoa(b.GraceDays)},
		{"GROUNDWORK_BILLING_FINALIZATION_DAYS", strconv.Itoa(b.FinalizationDays)},
		{"GROUNDWORK_BILLING_LOST_DISPUTE", b.LostDispute},
		{"GROUNDWORK_BILLING_ALLOW_WHILE_DISPUTED", strconv.FormatBool(b.AllowWhileDisputed)},
		{"GROUNDWORK_BILLING_PROMOTION_CODES", strconv.FormatBool(b.PromotionCodes)},
		{"GROUNDWORK_BILLING_RECONCILE_INTERVAL", b.ReconcileInterval.String()},
		{"GROUNDWORK_BILLING_SWEEP_INTERVAL", b.SweepInterval.String()},
		{"GROUNDWORK_QUEUE_BILLING_WORKERS", strconv.Itoa(b.Workers)},
	}
}
