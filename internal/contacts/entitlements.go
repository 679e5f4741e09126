package contacts

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/groundwork-dev/groundwork/internal/postgres"
)

// Entitlements enforces an organisation's plan for contacts. Each check
// reads the plan inside the caller's transaction tx, scoped to orgID (as
// postgres.InOrgTx does), so that a check and the change it allows commit
// together. billing.Enforcer is one; nil (no billing) limits nothing.
type Entitlements interface {
	// CheckContactsTx returns nil when orgID, holding used contacts, may
	// add n more, and EFORBIDDEN (its message pointing to the billing
	// page) beyond its plan's limit or while it is read-only.
	CheckContactsTx(ctx context.Context, tx pgx.Tx, orgID string, used, n int) error
	// CheckWriteTx returns nil when orgID may change its data, and
	// EFORBIDDEN while it is read-only.
	CheckWriteTx(ctx context.Context, tx pgx.Tx, orgID string) error
}

// contactLockSpace is the first key of the advisory locks that serialise
// contact-limit checks per organisation ("cont"); the second is hashtext of
// its ID. Two organisations whose hashes collide merely queue behind each
// other.
const contactLockSpace int32 = 0x636f6e74

// checkAdd refuses adding n contacts to orgID beyond its plan's limit or
// while it is read-only; it does nothing without an entitlement source. It
// holds a per-organisation lock until tx ends, taken in a statement of its
// own before counting: at READ COMMITTED the count then sees every contact
// committed by a check that went before, so concurrent creates cannot
// overshoot the limit.
func (s *Service) checkAdd(ctx context.Context, tx pgx.Tx, orgID string, n int) error {
	if s.entitlements == nil {
		return nil
	}
	if err := postgres.LockTx(ctx, tx, contactLockSpace, orgID); err != nil {
		return fmt.Errorf("lock contact count: %w", err)
	}
	used, err := countContacts(ctx, tx, orgID)
	if err != nil {
		return fmt.Errorf("count contacts: %w", err)
	}
	return s.entitlements.CheckContactsTx(ctx, tx, orgID, used, n)
}

// checkWrite refuses a change to orgID's contacts while it is read-only; it
// does nothing without an entitlement source.
func (s *Service) checkWrite(ctx context.Context, tx pgx.Tx, orgID string) error {
	if s.entitlements == nil {
		return nil
	}
	return s.entitlements.CheckWriteTx(ctx, tx, orgID)
}
