// Package billingtest helps the tests of modules that enforce billing
// entitlements (organisations, contacts, web) put an organisation on a plan
// without going through Stripe.
package billingtest

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/groundwork-dev/groundwork/internal/billing"
	"github.com/groundwork-dev/groundwork/internal/gw"
	"github.com/groundwork-dev/groundwork/internal/postgres"
)

// Price IDs of the catalog Enforcer builds.
const (
	PriceProMonth      = "price_pm"
	PriceProYear       = "price_py"
	PriceBusinessMonth = "price_bm"
	PriceBusinessYear  = "price_by"
)

// Enforcer returns a billing.Enforcer over the real plans with the price
// IDs above, telling the time with clock (nil: the system clock).
func Enforcer(t testing.TB, clock gw.Clock) *billing.Enforcer {
	t.Helper()
	cat, err := billing.NewCatalog(billing.PriceIDs{ProMonth: PriceProMonth, ProYear: PriceProYear,
		BusinessMonth: PriceBusinessMonth, BusinessYear: PriceBusinessYear})
	require.NoError(t, err)
	return &billing.Enforcer{Catalog: cat, Clock: clock}
}

// SetPlan stores orgID's subscription snapshot through pool (the runtime
// role's; billing_accounts is under row-level security): Stripe's status
// and price, e.g. "active" and PriceProMonth for Pro, or "unpaid" for a
// read-only organisation.
func SetPlan(t testing.TB, pool *pgxpool.Pool, orgID, status, priceID string) {
	t.Helper()
	ctx := context.Background()
	err := postgres.InOrgTx(ctx, pool, orgID, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO billing_accounts
			(org_id, stripe_customer_id, subscription_id, status, price_id) VALUES ($1, $4, 'sub_x', $2, $3)
			ON CONFLICT (org_id) DO UPDATE SET status = EXCLUDED.status, price_id = EXCLUDED.price_id`,
			orgID, status, priceID, "cus_"+orgID)
		return err
	})
	require.NoError(t, err)
}
