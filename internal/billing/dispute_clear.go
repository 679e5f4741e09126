package billing

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/groundwork-dev/groundwork/internal/gw"
	"github.com/groundwork-dev/groundwork/internal/postgres"
)

// ClearLostDispute ends the effect of organisation orgID's lost dispute
// disputeID (GROUNDWORK_BILLING_LOST_DISPUTE restrict or free) on an
// operator's decision, for instance once the customer repaid the amount
// outside Stripe: the dispute is recorded cleared by "operator:<operator>",
// the organisation's entitlements are recomputed, and the change is written
// to its audit log (billing.dispute_changed, with cleared_by), all in one
// transaction. A later paid invoice clears a lost dispute by itself.
//
// It returns EINVALID without an operator, ENOTFOUND for a dispute the
// organisation does not have, and ECONFLICT for one that is not lost or is
// cleared already.
func (s *Syncer) ClearLostDispute(ctx context.Context, orgID, disputeID, operator string) (Entitlements, error) {
	if operator == "" {
		return Entitlements{}, gw.Errorf(gw.EINVALID, "Say who clears the dispute.")
	}
	var ent Entitlements
	err := postgres.InOrgTx(ctx, s.cfg.Pool, orgID, func(tx pgx.Tx) error {
		prev, err := loadAccount(ctx, tx, orgID, true)
		if err != nil {
			return err
		}
		rows, err := loadDisputes(ctx, tx, orgID)
		if err != nil {
			return err
		}
		i := -1
		for j, r := range rows {
			if r.ID == disputeID {
				i = j
			}
		}
		switch {
		case i < 0:
			return gw.Errorf(gw.ENOTFOUND, "The organisation has no dispute %s.", disputeID)
		case !rows[i].lostUncleared():
			return gw.Errorf(gw.ECONFLICT, "Dispute %s is not a lost dispute still in effect.", disputeID)
		}
		old := rows[i]
		rows[i].before, rows[i].changed = &old, true
		rows[i].ClearedAt, rows[i].ClearedBy = s.cfg.Clock.Now().UTC(), "operator:"+operator
		cur := withDisputes(prev, rows)
		if err := storeAccount(ctx, tx, cur); err != nil {
			return err
		}
		if err := storeDisputes(ctx, tx, cur); err != nil {
			return err
		}
		ent = s.compute(cur)
		return nil
	})
	return ent, err
}
