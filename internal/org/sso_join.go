package org

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/groundwork-dev/groundwork/internal/audit"
	"github.com/groundwork-dev/groundwork/internal/gw"
	"github.com/groundwork-dev/groundwork/internal/postgres"
)

// JoinBySSO makes userID a member of orgID with role, on a just-in-time
// sign-in through the organisation's own identity provider (internal/orgsso
// decides that the organisation allows it; there is no caller scope: the
// identity provider vouched). A member keeps their role (joined false).
// With Config.Entitlements set, a new member needs a free seat and the
// organisation must not be read-only, as for an invitation. Recorded as
// member.joined_by_sso. Errors: EINVALID (role owner or unknown),
// EFORBIDDEN (no seat left, read-only organisation).
func (s *Service) JoinBySSO(ctx context.Context, orgID, userID string, role gw.Role) (joined bool, err error) {
	if !role.Valid() || role == gw.RoleOwner {
		return false, errUnknownRole()
	}
	if !gw.ValidID(userID) || !gw.ValidID(orgID) {
		return false, notFound("Organisation")
	}
	now := s.now()
	err = postgres.InOrgTx(ctx, s.pool, orgID, func(tx pgx.Tx) error {
		if _, err := lockOrg(ctx, tx, orgID); err != nil {
			return err
		}
		switch _, err := memberRole(ctx, tx, orgID, userID); {
		case err == nil:
			return nil
		case gw.ErrorCode(err) != gw.ENOTFOUND:
			return fmt.Errorf("check membership: %w", err)
		}
		if err := s.checkSeat(ctx, tx, orgID, false, ""); err != nil {
			return err
		}
		if err := insertMembership(ctx, tx, orgID, userID, role, now); err != nil {
			return fmt.Errorf("insert membership: %w", err)
		}
		if err := s.seatsChanged(ctx, tx, orgID); err != nil {
			return err
		}
		joined = true
		return record(ctx, tx, gw.Scope{Actor: gw.Actor{UserID: userID}, OrgID: orgID},
			audit.ActionMemberJoinedBySSO, audit.TargetMember, userID, nil, roleValues(role))
	})
	if err != nil {
		return false, err
	}
	return joined, nil
}
