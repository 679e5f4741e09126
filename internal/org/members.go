package org

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/groundwork-dev/groundwork/internal/audit"
	"github.com/groundwork-dev/groundwork/internal/authz"
	"github.com/groundwork-dev/groundwork/internal/gw"
	"github.com/groundwork-dev/groundwork/internal/postgres"
)

// Members lists the members of the scope's organisation by email. It returns
// ENOTFOUND and EFORBIDDEN (authz.OrgRead).
func (s *Service) Members(ctx context.Context, scope gw.Scope) ([]Member, error) {
	if err := authz.Require(scope, authz.OrgRead); err != nil {
		return nil, err
	}
	var list []Member
	err := postgres.InOrgTx(ctx, s.pool, scope.OrgID, func(tx pgx.Tx) error {
		var err error
		list, err = listMembers(ctx, tx, scope.OrgID)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("list members: %w", err)
	}
	return list, nil
}

// ChangeRole gives member userID the role role. Making someone an owner, or
// changing an owner's role, needs authz.OwnershipGrant; the last owner cannot
// be demoted. The API keys and pending invitations the member created with a
// role above the new one are revoked with it (see DelegationsAbove). It
// returns ENOTFOUND (no such member), EFORBIDDEN (authz.MembersManage,
// authz.OwnershipGrant), EINVALID (unknown role) and ECONFLICT (last owner).
func (s *Service) ChangeRole(ctx context.Context, scope gw.Scope, userID string, role gw.Role) error {
	if err := authz.Require(scope, authz.MembersManage); err != nil {
		return err
	}
	if !role.Valid() {
		return errUnknownRole()
	}
	if role == gw.RoleOwner {
		if err := authz.Require(scope, authz.OwnershipGrant); err != nil {
			return err
		}
	}
	if !gw.ValidID(userID) {
		return notFound("Member")
	}
	var rev revoked
	err := postgres.InOrgTx(ctx, s.pool, scope.OrgID, func(tx pgx.Tx) error {
		if _, err := lockOrg(ctx, tx, scope.OrgID); err != nil {
			return err
		}
		current, err := memberRole(ctx, tx, scope.OrgID, userID)
		if err != nil {
			return err
		}
		if current == role {
			return nil
		}
		if current == gw.RoleOwner || role == gw.RoleOwner {
			if err := requireNow(ctx, tx, scope, authz.OwnershipGrant); err != nil {
				return err
			}
		}
		if current == gw.RoleOwner {
			if err := s.checkNotLastOwner(ctx, tx, scope.OrgID,
				"The last owner cannot be demoted: make someone else an owner first."); err != nil {
				return err
			}
		}
		if err := setRole(ctx, tx, scope.OrgID, userID, role); err != nil {
			return err
		}
		if rev, err = revokeDelegations(ctx, tx, scope.OrgID, userID, role, s.now()); err != nil {
			return err
		}
		if err := record(ctx, tx, scope, audit.ActionMemberRoleChanged, audit.TargetMember, userID,
			roleValues(current), roleValues(role)); err != nil {
			return err
		}
		return rev.recordIn(ctx, tx, scope, ReasonRoleChanged)
	})
	if err != nil {
		return err
	}
	s.forgetKeys(rev)
	return nil
}

// RemoveMember removes userID from the scope's organisation, revoking the
// API keys and pending invitations they created. Only owners may remove
// owners, and the last owner cannot be removed. It returns ENOTFOUND (no
// such member), EFORBIDDEN (authz.MembersManage, authz.OwnershipGrant) and
// ECONFLICT (last owner).
func (s *Service) RemoveMember(ctx context.Context, scope gw.Scope, userID string) error {
	if err := authz.Require(scope, authz.MembersManage); err != nil {
		return err
	}
	if !gw.ValidID(userID) {
		return notFound("Member")
	}
	var rev revoked
	err := postgres.InOrgTx(ctx, s.pool, scope.OrgID, func(tx pgx.Tx) error {
		if _, err := lockOrg(ctx, tx, scope.OrgID); err != nil {
			return err
		}
		current, err := memberRole(ctx, tx, scope.OrgID, userID)
		if err != nil {
			return err
		}
		if current == gw.RoleOwner {
			if err := requireNow(ctx, tx, scope, authz.OwnershipGrant); err != nil {
				return err
			}
			if err := s.checkNotLastOwner(ctx, tx, scope.OrgID,
				"The last owner cannot be removed: make someone else an owner first."); err != nil {
				return err
			}
		}
		if err := deleteMembership(ctx, tx, scope.OrgID, userID); err != nil {
			return err
		}
		if err := s.seatsChanged(ctx, tx, scope.OrgID); err != nil {
			return err
		}
		if rev, err = revokeDelegations(ctx, tx, scope.OrgID, userID, "", s.now()); err != nil {
			return err
		}
		if err := record(ctx, tx, scope, audit.ActionMemberRemoved, audit.TargetMember, userID,
			roleValues(current), nil); err != nil {
			return err
		}
		return rev.recordIn(ctx, tx, scope, ReasonMemberRemoved)
	})
	if err != nil {
		return err
	}
	s.forgetKeys(rev)
	return nil
}

// Leave removes the signed-in user of scope from its organisation,
// revoking the API keys and pending invitations they created there. It
// returns ENOTFOUND, EFORBIDDEN (not a signed-in user) and ECONFLICT when
// the user is the organisation's last owner.
func (s *Service) Leave(ctx context.Context, scope gw.Scope) error {
	if err := authz.Require(scope, authz.OrgRead); err != nil {
		return err
	}
	if scope.UserID == "" {
		return gw.Errorf(gw.EFORBIDDEN, "Only a signed-in user can leave an organisation.")
	}
	var rev revoked
	err := postgres.InOrgTx(ctx, s.pool, scope.OrgID, func(tx pgx.Tx) error {
		o, err := lockOrg(ctx, tx, scope.OrgID)
		if err != nil {
			return err
		}
		current, err := memberRole(ctx, tx, scope.OrgID, scope.UserID)
		if err != nil {
			return noRowsCode(err, notFound("Organisation"))
		}
		if current == gw.RoleOwner {
			if err := s.checkNotLastOwner(ctx, tx, scope.OrgID, fmt.Sprintf(
				"You are the only owner of %s: transfer ownership or delete the organisation before leaving.",
				o.Name)); err != nil {
				return err
			}
		}
		if err := deleteMembership(ctx, tx, scope.OrgID, scope.UserID); err != nil {
			return err
		}
		if err := s.seatsChanged(ctx, tx, scope.OrgID); err != nil {
			return err
		}
		if rev, err = revokeDelegations(ctx, tx, scope.OrgID, scope.UserID, "", s.now()); err != nil {
			return err
		}
		if err := record(ctx, tx, scope, audit.ActionMemberLeft, audit.TargetMember, scope.UserID,
			roleValues(current), nil); err != nil {
			return err
		}
		return rev.recordIn(ctx, tx, scope, ReasonMemberLeft)
	})
	if err != nil {
		return err
	}
	s.forgetKeys(rev)
	return nil
}

// TransferOwnership makes member toUserID an owner and the calling owner an
// admin. It returns ENOTFOUND (toUserID is not a member), EFORBIDDEN (the
// caller is not a signed-in owner) and EINVALID (toUserID is the caller).
func (s *Service) TransferOwnership(ctx context.Context, scope gw.Scope, toUserID string) error {
	if err := authz.Require(scope, authz.OwnershipGrant); err != nil {
		return err
	}
	if scope.UserID == "" || scope.Role != gw.RoleOwner {
		return gw.Errorf(gw.EFORBIDDEN, "Only an owner can transfer ownership.")
	}
	if toUserID == scope.UserID {
		return gw.Errorf(gw.EINVALID, "You already own this organisation.")
	}
	if !gw.ValidID(toUserID) {
		return notFound("Member")
	}
	return postgres.InOrgTx(ctx, s.pool, scope.OrgID, func(tx pgx.Tx) error {
		if _, err := lockOrg(ctx, tx, scope.OrgID); err != nil {
			return err
		}
		if err := requireNow(ctx, tx, scope, authz.OwnershipGrant); err != nil {
			return err
		}
		prev, err := memberRole(ctx, tx, scope.OrgID, toUserID)
		if err != nil {
			return err
		}
		if err := setRole(ctx, tx, scope.OrgID, toUserID, gw.RoleOwner); err != nil {
			return err
		}
		if err := setRole(ctx, tx, scope.OrgID, scope.UserID, gw.RoleAdmin); err != nil {
			return err
		}
		return record(ctx, tx, scope, audit.ActionOwnershipTransferred, audit.TargetMember, toUserID,
			map[string]any{"roles": map[string]gw.Role{scope.UserID: gw.RoleOwner, toUserID: prev}},
			map[string]any{"roles": map[string]gw.Role{scope.UserID: gw.RoleAdmin, toUserID: gw.RoleOwner}})
	})
}

// requireNow is Require against the role a signed-in caller holds now,
// under the organisation's lock: a scope is read as a request starts, and
// changes of ownership must not race with another one. API keys keep the
// role of their scope.
func requireNow(ctx context.Context, tx pgx.Tx, scope gw.Scope, p authz.Permission) error {
	if scope.UserID == "" {
		return authz.Require(scope, p)
	}
	role, err := memberRole(ctx, tx, scope.OrgID, scope.UserID)
	if err != nil {
		return noRowsCode(err, notFound("Organisation"))
	}
	return authz.Require(gw.Scope{Actor: scope.Actor, OrgID: scope.OrgID, Role: role}, p)
}

// checkNotLastOwner returns ECONFLICT with msg when orgID has at most one
// owner. The caller holds the organisation's lock.
func (s *Service) checkNotLastOwner(ctx context.Context, tx pgx.Tx, orgID, msg string) error {
	n, err := ownerCount(ctx, tx, orgID)
	if err != nil {
		return fmt.Errorf("count owners: %w", err)
	}
	if n <= 1 {
		return gw.Errorf(gw.ECONFLICT, "%s", msg)
	}
	return nil
}

// noRowsCode replaces an ENOTFOUND error with replacement.
func noRowsCode(err, replacement error) error {
	if gw.ErrorCode(err) == gw.ENOTFOUND {
		return replacement
	}
	return err
}
