package org

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/groundwork-dev/groundwork/internal/postgres"
)

// Entitlements enforces an organisation's plan for this module. Each check
// reads the plan inside the caller's transaction tx, scoped to orgID (as
// postgres.InOrgTx does), so that a check and the change it allows commit
// together. billing.Enforcer is one; nil (no billing) limits nothing.
type Entitlements interface {
	// CheckSeatsTx returns nil when orgID may have one seat more than
	// used, and EFORBIDDEN (its message pointing to the billing page)
	// when its plan is full or it is read-only.
	CheckSeatsTx(ctx context.Context, tx pgx.Tx, orgID string, used int) error
	// CheckDeleteTx returns nil when orgID may be deleted, and ECONFLICT
	// while a subscription would keep charging it.
	CheckDeleteTx(ctx context.Context, tx pgx.Tx, orgID string) error
	// SeatsChangedTx is told, in tx, that orgID's members changed: a plan
	// billed per seat updates its quantity (through a job enqueued in tx).
	SeatsChangedTx(ctx context.Context, tx pgx.Tx, orgID string) error
}

// seatsChanged tells the entitlements that orgID's members changed, in tx
// (scoped to orgID); nothing without billing.
func (s *Service) seatsChanged(ctx context.Context, tx pgx.Tx, orgID string) error {
	if s.cfg.Entitlements == nil {
		return nil
	}
	if err := s.cfg.Entitlements.SeatsChangedTx(ctx, tx, orgID); err != nil {
		return fmt.Errorf("seats changed: %w", err)
	}
	return nil
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
	used, err := seatsUsed(ctx, tx, orgID, pending, email, s.now())
	if err != nil {
		return fmt.Errorf("count seats: %w", err)
	}
	return s.cfg.Entitlements.CheckSeatsTx(ctx, tx, orgID, used)
}
