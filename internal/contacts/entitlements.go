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
	// ContactLimitTx returns how many contacts orgID's plan includes, and
	// EFORBIDDEN (pointing to the billing page) while it is read-only.
	ContactLimitTx(ctx context.Context, tx pgx.Tx, orgID string) (int, error)
	// CheckContactsTx returns nil when orgID, holding used contacts, may
	// add n more, and EFORBIDDEN (its message pointing to the billing
	// page) beyond its plan's limit or while it is read-only.
	CheckContactsTx(ctx context.Context, tx pgx.Tx, orgID string, used, n int) error
	// CheckWriteTx returns nil when orgID may change its data, and
	// EFORBIDDEN while it is read-only.
	CheckWriteTx(ctx context.Context, tx pgx.Tx, orgID string) error
}

// contactLockSpace is the first key of the advisory locks that order
// contact-limit checks per organisation ("cont"); the second is hashtext of
// its ID. Two organisations whose hashes collide merely queue behind each
// other.
const contactLockSpace int32 = 0x636f6e74

// contactHeadroom is how far below its plan's contact limit an
// organisation must stay for its creates to run side by side (see
// checkAdd).
const contactHeadroom = 1000

// checkAdd refuses adding n contacts to orgID beyond its plan's limit or
// while it is read-only; it does nothing without an entitlement source.
func (s *Service) checkAdd(ctx context.Context, tx pgx.Tx, orgID string, n int) error {
	if s.entitlements == nil {
		return nil
	}
	used, _, err := s.countForAdd(ctx, tx, orgID, n)
	if err != nil {
		return err
	}
	return s.entitlements.CheckContactsTx(ctx, tx, orgID, used, n)
}

// countForAdd takes orgID's contact-count lock for adding n contacts in tx
// and returns the contacts it counted and the plan's limit; EFORBIDDEN
// while orgID is read-only. s.entitlements must be set.
//
// Far from the limit (the contacts counted, plus n, plus contactHeadroom,
// within it), creates of one organisation do not wait for each other: each
// holds the organisation's lock in shared mode. Near the limit, a create
// holds it exclusively and counts again under it: it waits for every
// create in flight to end, its count then sees them all, and creates after
// it wait for it, so the last contact is taken once. The limit can be
// overshot only if more than contactHeadroom contacts are added at once by
// creates that each checked while far from it; the connection pools bound
// that far below it. Counting stops at limit+1 rows, so it costs at most
// the plan's limit in index entries.
func (s *Service) countForAdd(ctx context.Context, tx pgx.Tx, orgID string, n int) (used, limit int, err error) {
	if limit, err = s.entitlements.ContactLimitTx(ctx, tx, orgID); err != nil {
		return 0, 0, err
	}
	if used, err = countContactsUpTo(ctx, tx, orgID, limit+1); err != nil {
		return 0, 0, fmt.Errorf("count contacts: %w", err)
	}
	if used+n+contactHeadroom <= limit {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock_shared($1, hashtext($2))`, contactLockSpace, orgID); err != nil {
			return 0, 0, fmt.Errorf("lock contact count: %w", err)
		}
		return used, limit, nil
	}
	// The lock in a statement of its own, before counting again: at READ
	// COMMITTED the count then sees every create that held it before.
	if err := postgres.LockTx(ctx, tx, contactLockSpace, orgID); err != nil {
		return 0, 0, fmt.Errorf("lock contact count: %w", err)
	}
	if used, err = countContactsUpTo(ctx, tx, orgID, limit+1); err != nil {
		return 0, 0, fmt.Errorf("count contacts: %w", err)
	}
	return used, limit, nil
}

// checkWrite refuses a change to orgID's contacts while it is read-only; it
// does nothing without an entitlement source.
func (s *Service) checkWrite(ctx context.Context, tx pgx.Tx, orgID string) error {
	if s.entitlements == nil {
		return nil
	}
	return s.entitlements.CheckWriteTx(ctx, tx, orgID)
}
