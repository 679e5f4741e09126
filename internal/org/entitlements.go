package org

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/groundwork-dev/groundwork/internal/billing"
	"github.com/groundwork-dev/groundwork/internal/postgres"
)

// EntitlementSource tells what an organisation's plan allows, reading its
// billing state inside the caller's transaction so that a check and the
// change it allows commit together. *billing.Policy is one.
type EntitlementSource interface {
	// EntitlementsTx returns orgID's entitlements; tx is a transaction scoped
	// to orgID (app.org_id set, as postgres.InOrgTx does).
	EntitlementsTx(ctx context.Context, tx pgx.Tx, orgID string) (billing.Entitlements, error)
}

// seatLockSpace is the first key of the advisory locks that serialise seat
// checks per organisation ("seat"); the second is hashtext of its ID. Two
// organisations whose hashes collide merely queue behind each other.
const seatLockSpace int32 = 0x73656174

// checkSeat refuses adding one more seat to orgID when its plan is full or
// the organisation is read-only (EFORBIDDEN, pointing to the billing page);
// it does nothing when billing is not configured. Seats in use are the
// members plus, with pending, the pending invitations (not accepted,
// revoked or expired) other than any of email's, which the caller replaces.
// It holds a per-organisation lock until tx ends, taken in a statement of
// its own before counting: at READ COMMITTED the count then sees every seat
// committed by a check that went before, so two concurrent invitations or
// acceptances cannot both take the last seat. Callers lock invitation rows
// before calling it, never after, so the lock order is the same everywhere.
func (s *Service) checkSeat(ctx context.Context, tx pgx.Tx, orgID string, pending bool, email string) error {
	if s.cfg.Entitlements == nil {
		return nil
	}
	if err := postgres.LockTx(ctx, tx, seatLockSpace, orgID); err != nil {
		return fmt.Errorf("lock seats: %w", err)
	}
	ent, err := s.cfg.Entitlements.EntitlementsTx(ctx, tx, orgID)
	if err != nil {
		return fmt.Errorf("read entitlements: %w", err)
	}
	used, err := seatsUsed(ctx, tx, orgID, pending, email, s.now())
	if err != nil {
		return fmt.Errorf("count seats: %w", err)
	}
	return ent.CheckSeats(used)
}
