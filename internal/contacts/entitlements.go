package contacts

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/groundwork-dev/groundwork/internal/org"
	"github.com/groundwork-dev/groundwork/internal/postgres"
)

// WithEntitlements makes s enforce each organisation's plan, read from src
// inside each change's transaction, and returns s. Create then refuses a
// contact beyond the plan's limit, and Create and Update refuse any change
// while the organisation is read-only (both EFORBIDDEN, with a message
// pointing to the billing page); Delete is always allowed, so an
// organisation can get back under its limit. Call it before s is used; a
// nil src (the default) enforces nothing, for when billing is not
// configured.
func (s *Service) WithEntitlements(src org.EntitlementSource) *Service {
	s.entitlements = src
	return s
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
	ent, err := s.entitlements.EntitlementsTx(ctx, tx, orgID)
	if err != nil {
		return fmt.Errorf("read entitlements: %w", err)
	}
	used, err := countContacts(ctx, tx, orgID)
	if err != nil {
		return fmt.Errorf("count contacts: %w", err)
	}
	return ent.CheckContacts(used, n)
}

// checkWrite refuses a change to orgID's contacts while it is read-only; it
// does nothing without an entitlement source.
func (s *Service) checkWrite(ctx context.Context, tx pgx.Tx, orgID string) error {
	if s.entitlements == nil {
		return nil
	}
	ent, err := s.entitlements.EntitlementsTx(ctx, tx, orgID)
	if err != nil {
		return fmt.Errorf("read entitlements: %w", err)
	}
	return ent.CheckWrite()
}
