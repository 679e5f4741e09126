package billing

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
)

// Policy turns an organisation's stored billing account into its
// entitlements: the catalog, the grace and dispute policies and the clock.
// The product modules (organisations, contacts) hold one to enforce the
// limits inside their own transactions; it reads only the database, never
// Stripe.
type Policy struct {
	// Catalog maps prices to plans.
	Catalog *Catalog
	// Grace is the dunning grace policy.
	Grace GracePolicy
	// DisputeAllowWhileOpen and DisputeOnLost are the dispute policy.
	DisputeAllowWhileOpen bool
	DisputeOnLost         LostDisputePolicy
	// Now is the clock; nil is time.Now.
	Now func() time.Time
}

// Of returns the entitlements of a stored account now.
func (p *Policy) Of(a Account) Entitlements {
	now := time.Now
	if p.Now != nil {
		now = p.Now
	}
	d := a.Dispute
	d.AllowWhileOpen, d.OnLost = p.DisputeAllowWhileOpen, p.DisputeOnLost
	e := p.Catalog.Compute(a.Snapshot, p.Grace, d, now())
	e.OrgID = a.OrgID
	return e
}

// EntitlementsTx returns the organisation's entitlements, reading its
// billing account in tx, a transaction scoped to orgID (postgres.InOrgTx):
// a check and the change it allows commit together. An organisation without
// a billing account is on the free plan.
func (p *Policy) EntitlementsTx(ctx context.Context, tx pgx.Tx, orgID string) (Entitlements, error) {
	a, err := loadAccount(ctx, tx, orgID, false)
	if err != nil {
		return Entitlements{}, err
	}
	return p.Of(a), nil
}
