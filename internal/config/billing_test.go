package config

import (
	"bytes"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func stripeEnv(extra map[string]string) map[string]string {
	m := map[string]string{
		"STRIPE_SECRET_KEY": "sk_test_123", "STRIPE_WEBHOOK_SECRET": "whsec_old, whsec_new",
		"STRIPE_PRICE_PRO_MONTHLY": "price_pm", "STRIPE_PRICE_PRO_YEARLY": "price_py",
		"STRIPE_PRICE_BUSINESS_MONTHLY": "price_bm", "STRIPE_PRICE_BUSINESS_YEARLY": "price_by",
	}
	for k, v := range extra {
		m[k] = v
	}
	return m
}

func TestBillingOffByDefault(t *testing.T) {
	t.Parallel()
	c, err := Load(env(nil))
	require.NoError(t, err)
	require.False(t, c.Billing.Enabled())
	require.Equal(t, 7, c.Billing.GraceDays)
	require.Equal(t, 3, c.Billing.FinalizationDays)
	require.Equal(t, "restrict", c.Billing.LostDispute)
	require.Equal(t, 15*time.Minute, c.Billing.ReconcileInterval)
	require.Equal(t, 24*time.Hour, c.Billing.SweepInterval)
	require.Equal(t, "https://api.stripe.com", c.Billing.APIBase)
}

func TestBillingSettings(t *testing.T) {
	t.Parallel()
	c, err := Load(env(stripeEnv(map[string]string{"GROUNDWORK_BILLING_GRACE_DAYS": "10", "GROUNDWORK_BILLING_FINALIZATION_DAYS": "5",
		"STRIPE_API_BASE": "http://127.0.0.1:12111", "GROUNDWORK_BILLING_LOST_DISPUTE": "free"})))
	require.NoError(t, err)
	require.True(t, c.Billing.Enabled())
	require.Equal(t, []string{"whsec_old", "whsec_new"}, c.Billing.WebhookSecrets)
	require.Equal(t, 10, c.Billing.GraceDays)
	require.Equal(t, 5, c.Billing.FinalizationDays)
	require.Equal(t, "free", c.Billing.LostDispute)
	require.Equal(t, "http://127.0.0.1:12111", c.Billing.APIBase)

	var out bytes.Buffer
	c.Print(&out)
	require.NotContains(t, out.String(), "sk_test_123")
	require.NotContains(t, out.String(), "whsec_")
	require.Contains(t, out.String(), "STRIPE_WEBHOOK_SECRET=xxxxx,xxxxx\n")
}

func TestBillingRejectsIncompleteSettings(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		env  map[string]string
		want string
	}{
		{"no webhook secret", stripeEnv(map[string]string{"STRIPE_WEBHOOK_SECRET": " , "}), "STRIPE_WEBHOOK_SECRET: required"},
		{"not a price", stripeEnv(map[string]string{"STRIPE_PRICE_BUSINESS_YEARLY": "prod_business"}), "STRIPE_PRICE_BUSINESS_YEARLY: \"prod_business\" is not a Stripe price ID"},
		{"publishable key", stripeEnv(map[string]string{"STRIPE_SECRET_KEY": "pk_test_1"}), "STRIPE_SECRET_KEY: not a Stripe secret key"},
		{"grace days", stripeEnv(map[string]string{"GROUNDWORK_BILLING_GRACE_DAYS": "0"}), "GROUNDWORK_BILLING_GRACE_DAYS"},
		{"dispute policy", stripeEnv(map[string]string{"GROUNDWORK_BILLING_LOST_DISPUTE": "refund"}), "GROUNDWORK_BILLING_LOST_DISPUTE"},
		{"api base", map[string]string{"STRIPE_API_BASE": "ftp://x"}, "STRIPE_API_BASE"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load(env(tc.env))
			require.ErrorContains(t, err, tc.want)
		})
	}
}

// TestBillingPricesAreOptional: the STRIPE_PRICE_* variables only override
// the plan catalogue (internal/billing/plans.json), which sells its plans
// by lookup key without them.
func TestBillingPricesAreOptional(t *testing.T) {
	t.Parallel()
	c, err := Load(env(stripeEnv(map[string]string{"STRIPE_PRICE_PRO_MONTHLY": "", "STRIPE_PRICE_PRO_YEARLY": "",
		"STRIPE_PRICE_BUSINESS_MONTHLY": "", "STRIPE_PRICE_BUSINESS_YEARLY": ""})))
	require.NoError(t, err)
	require.True(t, c.Billing.Enabled())
	require.Empty(t, c.Billing.PriceProMonthly)
}

// TestBillingPromotionCodes: promotion codes are offered in Checkout
// unless GROUNDWORK_BILLING_PROMOTION_CODES=false.
func TestBillingPromotionCodes(t *testing.T) {
	t.Parallel()
	c, err := Load(env(stripeEnv(nil)))
	require.NoError(t, err)
	require.True(t, c.Billing.PromotionCodes)
	c, err = Load(env(stripeEnv(map[string]string{"GROUNDWORK_BILLING_PROMOTION_CODES": "false"})))
	require.NoError(t, err)
	require.False(t, c.Billing.PromotionCodes)
	_, err = Load(env(stripeEnv(map[string]string{"GROUNDWORK_BILLING_PROMOTION_CODES": "sometimes"})))
	require.ErrorContains(t, err, "GROUNDWORK_BILLING_PROMOTION_CODES")
}

// TestBillingFakeStripe: GROUNDWORK_STRIPE=fake turns billing on against
// the built-in fake, with its key and webhook secret, in development only;
// production refuses it, naming the variable.
func TestBillingFakeStripe(t *testing.T) {
	t.Parallel()
	c, err := Load(env(map[string]string{"GROUNDWORK_STRIPE": "fake"}))
	require.NoError(t, err)
	require.True(t, c.Billing.Fake)
	require.True(t, c.Billing.Enabled())
	require.Equal(t, FakeSecretKey, c.Billing.SecretKey)
	require.Equal(t, []string{FakeWebhookSecret}, c.Billing.WebhookSecrets)

	c, err = Load(env(nil))
	require.NoError(t, err)
	require.False(t, c.Billing.Fake, "off by default")
	require.False(t, c.Billing.Enabled())

	for _, tc := range []struct {
		name string
		env  map[string]string
		want string
	}{
		{"production", map[string]string{"GROUNDWORK_STRIPE": "fake", "GROUNDWORK_ENV": "production", "SMTP_URL": "smtp://mail.example:25"},
			"GROUNDWORK_STRIPE: fake runs a fake Stripe for development; it is refused with GROUNDWORK_ENV=production"},
		{"with a real key", stripeEnv(map[string]string{"GROUNDWORK_STRIPE": "fake"}), "GROUNDWORK_STRIPE: fake and STRIPE_SECRET_KEY are both set"},
		{"unknown mode", map[string]string{"GROUNDWORK_STRIPE": "mock"}, `GROUNDWORK_STRIPE: "mock" is not a mode`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load(env(tc.env))
			require.ErrorContains(t, err, tc.want)
		})
	}
}
