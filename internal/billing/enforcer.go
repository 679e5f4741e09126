package billing

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/groundwork-dev/groundwork/internal/gw"
)

// Enforcer turns an organisation's stored billing account into its
// entitlements and enforces them: the catalog, the grace and dispute
// policies and the clock. The product modules (organisations, contacts)
// are given one, through small interfaces of their own, to enforce the
// plan's limits inside their own transactions; it reads only the database,
// never Stripe.
type Enforcer struct {
	// Catalog maps prices to plans.
	Catalog *Catalog
	// Grace is the dunning grace policy.
	Grace GracePolicy
	// DisputeAllowWhileOpen keeps access while a dispute with funds
	// withdrawn is open; false (the default) makes the organisation
	// read-only until it is closed.
	DisputeAllowWhileOpen bool
	// DisputeOnLost is what a lost dispute does; "" is LostDisputeRestrict.
	DisputeOnLost LostDisputePolicy
	// Clock tells the time; nil is the system clock.
	Clock gw.Clock
	// Jobs enqueues the seat sync of per-seat plans (SeatsChangedTx); nil:
	// none.
	Jobs JobInserter
}

// Of returns the entitlements of a stored account now.
func (p *Enforcer) Of(a Account) Entitlements {
	clock := p.Clock
	if clock == nil {
		clock = gw.SystemClock{}
	}
	d := a.Dispute
	d.AllowWhileOpen, d.OnLost = p.DisputeAllowWhileOpen, p.DisputeOnLost
	now := clock.Now()
	e := p.Catalog.Compute(a.Snapshot, p.Grace, d, now)
	e = p.Catalog.withGrant(e, a.Grant, now)
	e.OrgID = a.OrgID
	return e
}

// EntitlementsTx returns the organisation's entitlements, reading its
// billing account in tx, a transaction scoped to orgID (postgres.InOrgTx):
// a check and the change it allows commit together. An organisation without
// a billing account is on the free plan.
func (p *Enforcer) EntitlementsTx(ctx context.Context, tx pgx.Tx, orgID string) (Entitlements, error) {
	a, err := loadAccount(ctx, tx, orgID, false)
	if err != nil {
		return Entitlements{}, err
	}
	return p.Of(a), nil
}

// CheckWriteTx returns EFORBIDDEN, pointing to the billing page, when
// orgID is read-only (see Entitlements.CheckWrite); tx is scoped to orgID.
func (p *Enforcer) CheckWriteTx(ctx context.Context, tx pgx.Tx, orgID string) error {
	e, err := p.EntitlementsTx(ctx, tx, orgID)
	if err != nil {
		return err
	}
	return e.CheckWrite()
}

// CheckSeatsTx returns EFORBIDDEN, pointing to the billing page, when orgID
// may not add a seat to the used ones (see Entitlements.CheckSeats); tx is
// scoped to orgID.
func (p *Enforcer) CheckSeatsTx(ctx context.Context, tx pgx.Tx, orgID string, used int) error {
	e, err := p.EntitlementsTx(ctx, tx, orgID)
	if err != nil {
		return err
	}
	return e.CheckSeats(used)
}

// ContactLimitTx returns how many contacts orgID's plan includes, and
// EFORBIDDEN, pointing to the billing page, while orgID is read-only; tx
// is scoped to orgID.
func (p *Enforcer) ContactLimitTx(ctx context.Context, tx pgx.Tx, orgID string) (int, error) {
	e, err := p.EntitlementsTx(ctx, tx, orgID)
	if err != nil {
		return 0, err
	}
	if err := e.CheckWrite(); err != nil {
		return 0, err
	}
	return e.Limits.Contacts, nil
}

// CheckContactsTx returns EFORBIDDEN, pointing to the billing page, when
// orgID may not add n contacts to the used ones (see
// Entitlements.CheckContacts); tx is scoped to orgID.
func (p *Enforcer) CheckContactsTx(ctx context.Context, tx pgx.Tx, orgID string, used, n int) error {
	e, err := p.EntitlementsTx(ctx, tx, orgID)
	if err != nil {
		return err
	}
	return e.CheckContacts(used, n)
}

// CheckDeleteTx returns ECONFLICT while orgID has a subscription that is
// live and not set to end: Stripe would keep charging an organisation that
// no longer exists. tx is scoped to orgID.
func (p *Enforcer) CheckDeleteTx(ctx context.Context, tx pgx.Tx, orgID string) error {
	e, err := p.EntitlementsTx(ctx, tx, orgID)
	if err != nil {
		return err
	}
	if e.Subscribed {
		return gw.Errorf(gw.ECONFLICT, "This organisation has a subscription that Stripe keeps charging: cancel it on the billing page (%s) first.",
			BillingPage(orgID))
	}
	return nil
}
