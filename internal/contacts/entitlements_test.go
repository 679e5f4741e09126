package contacts

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/jackc/pgerrcode"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/require"

	"github.com/groundwork-dev/groundwork/internal/billing/billingtest"
	"github.com/groundwork-dev/groundwork/internal/gw"
	"github.com/groundwork-dev/groundwork/internal/gwtest"
	"github.com/groundwork-dev/groundwork/internal/pgtest"
	"github.com/groundwork-dev/groundwork/internal/postgres"
)

// setupBilled is setup with a real billing.Enforcer enforcing the plans:
// free (500 contacts) unless setPlan says otherwise.
func setupBilled(t testing.TB) *testBundle {
	t.Helper()
	b := setup(t)
	enforcer := billingtest.Enforcer(t, b.clock)
	require.Equal(t, 500, enforcer.Catalog.Free().Limits.Contacts)
	b.svc = NewService(b.db.Runtime, b.keys, b.clock, enforcer)
	return b
}

// setPlan stores orgID's subscription: status and price, e.g. "active" and
// "price_pm" for Pro, or "unpaid" for a read-only organisation.
func (b *testBundle) setPlan(t testing.TB, orgID, status, priceID string) {
	t.Helper()
	billingtest.SetPlan(t, b.db.Runtime, orgID, status, priceID)
}

// seed inserts n contacts with only a name into orgID, straight into the
// table.
func (b *testBundle) seed(t testing.TB, orgID string, n int) {
	t.Helper()
	err := postgres.InOrgTx(context.Background(), b.db.Runtime, orgID, func(tx pgx.Tx) error {
		_, err := tx.Exec(context.Background(), `INSERT INTO contacts (org_id, id, name)
			SELECT $1, gen_random_uuid(), 'Seed ' || g FROM generate_series(1, $2) g`, orgID, n)
		return err
	})
	require.NoError(t, err)
}

// count returns how many contacts orgID has.
func (b *testBundle) count(t testing.TB, orgID string) int {
	t.Helper()
	var n int
	err := postgres.InOrgTx(context.Background(), b.db.Runtime, orgID, func(tx pgx.Tx) error {
		var err error
		n, err = countContacts(context.Background(), tx, orgID)
		return err
	})
	require.NoError(t, err)
	return n
}

// requireRefused asserts that err is the plan's refusal, pointing to
// orgID's billing page.
func requireRefused(t testing.TB, orgID string, err error) {
	t.Helper()
	gwtest.RequireCode(t, gw.EFORBIDDEN, err)
	require.Contains(t, gw.ErrorMessage(err), "/o/"+orgID+"/billing")
}

func TestCreateRefusedBeyondContactLimit(t *testing.T) {
	t.Parallel()
	b := setupBilled(t)
	ctx := context.Background()
	b.seed(t, b.member.OrgID, 499)
	b.create(t, b.member, "Five hundredth")

	_, err := b.svc.Create(ctx, b.member, Input{Name: ptr("One too many")})
	requireRefused(t, b.member.OrgID, err)
	require.Contains(t, gw.ErrorMessage(err), "500 contacts")
	require.Equal(t, 500, b.count(t, b.member.OrgID))

	// Another organisation's contacts do not count.
	other := pgtest.MemberScope(t, b.db, gw.RoleMember)
	b.create(t, other, "Elsewhere")

	// Pro has room.
	b.setPlan(t, b.member.OrgID, "active", "price_pm")
	b.create(t, b.member, "Five hundred and first")
	require.Equal(t, 501, b.count(t, b.member.OrgID))
}

func TestReadOnlyOrgCanOnlyDeleteContacts(t *testing.T) {
	t.Parallel()
	b := setupBilled(t)
	ctx := context.Background()
	c := b.create(t, b.member, "Ada")
	b.setPlan(t, b.member.OrgID, "unpaid", "price_pm")

	_, err := b.svc.Create(ctx, b.member, Input{Name: ptr("Grace")})
	requireRefused(t, b.member.OrgID, err)
	require.Contains(t, gw.ErrorMessage(err), "read-only")

	_, err = b.svc.Update(ctx, b.member, c.ID, Input{Name: ptr("Ada Lovelace")})
	requireRefused(t, b.member.OrgID, err)
	got, err := b.svc.Get(ctx, b.member, c.ID)
	require.NoError(t, err)
	require.Equal(t, "Ada", got.Name)

	// Deleting gets an organisation back under its limits.
	require.NoError(t, b.svc.Delete(ctx, b.member, c.ID))
	_, err = b.svc.Get(ctx, b.member, c.ID)
	gwtest.RequireCode(t, gw.ENOTFOUND, err)
}

func TestConcurrentCreatesStopAtContactLimit(t *testing.T) {
	t.Parallel()
	b := setupBilled(t)
	ctx := context.Background()
	b.seed(t, b.member.OrgID, 499)

	const n = 5
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			_, errs[i] = b.svc.Create(ctx, b.member, Input{Name: ptr(fmt.Sprintf("Racer %d", i))})
		})
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		if err == nil {
			ok++
			continue
		}
		requireRefused(t, b.member.OrgID, err)
	}
	require.Equal(t, 1, ok)
	require.Equal(t, 500, b.count(t, b.member.OrgID))
}

func TestNoEntitlementSourceMeansNoContactLimit(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	b.seed(t, b.member.OrgID, 500)
	b.setPlan(t, b.member.OrgID, "unpaid", "price_pm") // ignored without a source
	c := b.create(t, b.member, "Five hundred and first")
	_, err := b.svc.Update(ctx, b.member, c.ID, Input{Name: ptr("Renamed")})
	require.NoError(t, err)
	require.Equal(t, 501, b.count(t, b.member.OrgID))
}

// TestCreatesFarFromTheLimitDoNotWaitForEachOther: while an organisation
// is far below its plan's contact limit, a create does not wait for
// another create of the same organisation still in flight (before, every
// create took the organisation's lock exclusively until its commit).
func TestCreatesFarFromTheLimitDoNotWaitForEachOther(t *testing.T) {
	t.Parallel()
	b := setupBilled(t)
	ctx := context.Background()
	b.setPlan(t, b.member.OrgID, "active", "price_pm") // Pro: 25,000 contacts

	first, err := b.db.Runtime.Begin(ctx)
	require.NoError(t, err)
	defer first.Rollback(ctx)
	_, err = first.Exec(ctx, `SELECT set_config('app.org_id', $1, true)`, b.member.OrgID)
	require.NoError(t, err)
	require.NoError(t, b.svc.checkAdd(ctx, first, b.member.OrgID, 1))

	// A wait behind the first's lock would end in 55P03, whatever the
	// machine's speed.
	err = postgres.InOrgTx(ctx, b.db.Runtime, b.member.OrgID, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SET LOCAL lock_timeout = '200ms'`); err != nil {
			return err
		}
		return b.svc.checkAdd(ctx, tx, b.member.OrgID, 1)
	})
	require.NoError(t, err)

	// Near the limit, a create waits for those in flight.
	b.seed(t, b.member.OrgID, 25_000-contactHeadroom)
	err = postgres.InOrgTx(ctx, b.db.Runtime, b.member.OrgID, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SET LOCAL lock_timeout = '200ms'`); err != nil {
			return err
		}
		return b.svc.checkAdd(ctx, tx, b.member.OrgID, 1)
	})
	pgErr, ok := errors.AsType[*pgconn.PgError](err)
	require.True(t, ok, "%v", err)
	require.Equal(t, pgerrcode.LockNotAvailable, pgErr.Code)
	require.NoError(t, first.Rollback(ctx))
	b.create(t, b.member, "After the first")
}
