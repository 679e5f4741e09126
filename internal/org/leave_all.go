package org

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/groundwork-dev/groundwork/internal/audit"
	"github.com/groundwork-dev/groundwork/internal/gw"
)

// LeaveAllTx takes userID, whose account is being deleted, out of every
// organisation they belong to, inside tx: the account's own transaction,
// which deletes the user after it, so that the check that no organisation
// is left without an owner and the deletion commit together. The caller
// must hold userID's row locked FOR UPDATE (no membership, API key or
// invitation of theirs can then be added until tx ends), and take no
// organisation's lock before calling it: the order is users, then
// organisations, everywhere.
//
// It locks the user's organisations (as Leave, RemoveMember and ChangeRole
// lock theirs, in the order of their IDs), refuses with ECONFLICT "Transfer
// or delete these organisations first: A, B." while the user is the only
// owner of any, and otherwise deletes their memberships, revokes their live
// API keys and pending invitations, and records it all in each
// organisation's audit chain. On success, call done once tx has committed:
// it drops the revoked keys from this process's cache. It leaves tx's
// row-level-security settings cleared.
func (s *Service) LeaveAllTx(ctx context.Context, tx pgx.Tx, userID string) (done func(), err error) {
	if !gw.ValidID(userID) {
		return nil, gw.Errorf(gw.ENOTFOUND, "User not found.")
	}
	if err := setUser(ctx, tx, userID); err != nil {
		return nil, err
	}
	ms, err := userMemberships(ctx, tx, userID)
	if err != nil {
		return nil, fmt.Errorf("list memberships: %w", err)
	}
	ids := make([]string, len(ms))
	for i, m := range ms {
		ids[i] = m.Org.ID
	}
	if _, err := lockOrgs(ctx, tx, ids); err != nil {
		return nil, fmt.Errorf("lock organisations: %w", err)
	}
	// Read again under the locks: a membership may have been changed or
	// removed meanwhile (none added: the caller holds the user's row).
	if ms, err = userMemberships(ctx, tx, userID); err != nil {
		return nil, fmt.Errorf("list memberships: %w", err)
	}
	for _, m := range ms {
		if !slices.Contains(ids, m.Org.ID) {
			return nil, fmt.Errorf("leave organisations: membership of %s appeared while the user was locked", m.Org.ID)
		}
	}
	if err := refuseSoleOwnership(ctx, tx, ms); err != nil {
		return nil, err
	}

	// Every write first, then the audit records: the user's account event
	// takes the user's audit chain lock, and a transaction holding it must
	// not wait for a row lock (audit.Record). The
	// user's keys and invitations are locked too, whatever their state,
	// because deleting the user updates them (ON DELETE SET NULL).
	now := s.now()
	revs := make([]revoked, len(ms))
	for i, m := range ms {
		if err := setOrg(ctx, tx, m.Org.ID); err != nil {
			return nil, err
		}
		if err := lockDelegations(ctx, tx, m.Org.ID, userID); err != nil {
			return nil, fmt.Errorf("lock API keys and invitations: %w", err)
		}
		if err := deleteMembership(ctx, tx, m.Org.ID, userID); err != nil {
			return nil, err
		}
		if err := s.seatsChanged(ctx, tx, m.Org.ID); err != nil {
			return nil, err
		}
		if revs[i], err = revokeDelegations(ctx, tx, m.Org.ID, userID, "", now); err != nil {
			return nil, err
		}
	}
	for i, m := range ms {
		if err := setOrg(ctx, tx, m.Org.ID); err != nil {
			return nil, err
		}
		scope := gw.Scope{Actor: gw.Actor{UserID: userID}, OrgID: m.Org.ID}
		if err := record(ctx, tx, scope, audit.ActionMemberLeft, audit.TargetMember, userID,
			roleValues(m.Role), map[string]any{"reason": ReasonAccountDeleted}); err != nil {
			return nil, err
		}
		if err := revs[i].recordIn(ctx, tx, scope, ReasonAccountDeleted); err != nil {
			return nil, err
		}
	}
	if _, err := tx.Exec(ctx, `SELECT set_config('app.org_id', '', true), set_config('app.user_id', '', true)`); err != nil {
		return nil, err
	}
	return func() { s.forgetKeys(revs...) }, nil
}

// refuseSoleOwnership returns ECONFLICT naming the organisations of ms that
// the user is the only owner of; nil when there are none. The caller holds
// their locks.
func refuseSoleOwnership(ctx context.Context, tx pgx.Tx, ms []Membership) error {
	names, err := soleOwned(ctx, tx, ms)
	if err != nil || len(names) == 0 {
		return err
	}
	return gw.Errorf(gw.ECONFLICT, "Transfer or delete these organisations first: %s.", strings.Join(names, ", "))
}

// soleOwned returns the names of the organisations of ms that the user is
// the only owner of, by name. It leaves app.org_id set to the last one.
func soleOwned(ctx context.Context, tx pgx.Tx, ms []Membership) ([]string, error) {
	var sole []Org
	for _, m := range ms {
		if m.Role != gw.RoleOwner {
			continue
		}
		// Counting the other owners needs that organisation's rows.
		if err := setOrg(ctx, tx, m.Org.ID); err != nil {
			return nil, err
		}
		n, err := ownerCount(ctx, tx, m.Org.ID)
		if err != nil {
			return nil, fmt.Errorf("count owners: %w", err)
		}
		if n <= 1 {
			sole = append(sole, m.Org)
		}
	}
	if len(sole) == 0 {
		return nil, nil
	}
	slices.SortFunc(sole, func(a, b Org) int {
		if c := strings.Compare(a.Name, b.Name); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	names := make([]string, len(sole))
	for i, o := range sole {
		names[i] = o.Name
	}
	return names, nil
}
