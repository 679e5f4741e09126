package org

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/groundwork-dev/groundwork/internal/audit"
	"github.com/groundwork-dev/groundwork/internal/authz"
	"github.com/groundwork-dev/groundwork/internal/gw"
	"github.com/groundwork-dev/groundwork/internal/postgres"
)

// A member's delegations are what they handed on: the API keys they
// created and the invitations they sent. Each carries a role of its own,
// which the member was allowed to grant when they created it, and records
// its creator (api_keys.created_by, invitations.invited_by). They must not
// outlive the rights they came from: removing a member, the member leaving
// or deleting their account revokes all of them, and demoting a member
// revokes those whose role is now above the member's, in the transaction of
// the change, with an audit event each. OWASP ASVS 5.0 asks that changes
// to what authorization decisions rest on apply at once (V8.3) and that a
// removed user's sessions end (V7.4); on GitHub, a member's tokens lose
// access to an organisation the moment they are removed from it. Revoking
// at the change, rather than checking the creator on every use, keeps API
// key authentication at one round trip and shows the revocation in the
// key list and the audit log. Keys of the admin command line have no
// creator and stay.

// Delegations counts a member's live API keys and pending invitations.
type Delegations struct {
	APIKeys     int
	Invitations int
}

// None reports whether there is nothing to count.
func (d Delegations) None() bool { return d.APIKeys == 0 && d.Invitations == 0 }

// Reasons recorded (as "reason" in the audit event's after values) when a
// member's API keys and invitations are revoked for them.
const (
	ReasonMemberRemoved  = "member_removed"
	ReasonMemberLeft     = "member_left"
	ReasonRoleChanged    = "role_changed"
	ReasonAccountDeleted = "account_deleted"
)

// DelegationsAbove counts the live API keys and pending invitations that
// member userID created in the scope's organisation with a role above role:
// what ChangeRole to role would revoke; with role "", all of them, what
// RemoveMember (or Leave, for the caller) would revoke. Pages ask for
// confirmation with it. It returns ENOTFOUND (no such member), EFORBIDDEN
// (authz.MembersManage, or authz.OrgRead for the caller's own) and EINVALID
// (unknown role).
func (s *Service) DelegationsAbove(ctx context.Context, scope gw.Scope, userID string, role gw.Role) (Delegations, error) {
	p := authz.MembersManage
	if scope.UserID != "" && userID == scope.UserID {
		p = authz.OrgRead
	}
	if err := authz.Require(scope, p); err != nil {
		return Delegations{}, err
	}
	if role != "" && !role.Valid() {
		return Delegations{}, errUnknownRole()
	}
	if !gw.ValidID(userID) {
		return Delegations{}, notFound("Member")
	}
	var d Delegations
	err := postgres.InOrgTx(ctx, s.pool, scope.OrgID, func(tx pgx.Tx) error {
		if _, err := memberRole(ctx, tx, scope.OrgID, userID); err != nil {
			return err
		}
		var err error
		d, err = countDelegations(ctx, tx, scope.OrgID, userID, rolesAbove(role), s.now())
		return err
	})
	if err != nil {
		return Delegations{}, fmt.Errorf("count delegations: %w", err)
	}
	return d, nil
}

// rolesAbove lists the roles that rank above role: all of them for "".
func rolesAbove(role gw.Role) []string {
	var above []string
	for _, r := range []gw.Role{gw.RoleOwner, gw.RoleAdmin, gw.RoleMember, gw.RoleViewer} {
		if rank(r) > rank(role) {
			above = append(above, string(r))
		}
	}
	return above
}

// revoked is what revokeDelegations revoked in one organisation.
type revoked struct {
	keys        []APIKey
	invitations []Invitation
}

// revokeDelegations revokes, in orgID, userID's live API keys and pending
// invitations whose role is above role (all of them for ""). The caller
// holds the organisation's lock, and records the revocations (recordIn)
// once its other writes are done.
func revokeDelegations(ctx context.Context, tx pgx.Tx, orgID, userID string, role gw.Role, now time.Time) (revoked, error) {
	roles := rolesAbove(role)
	keys, err := revokeAPIKeysCreatedBy(ctx, tx, orgID, userID, roles, now)
	if err != nil {
		return revoked{}, fmt.Errorf("revoke API keys: %w", err)
	}
	invitations, err := revokeInvitationsBy(ctx, tx, orgID, userID, roles, now)
	if err != nil {
		return revoked{}, fmt.Errorf("revoke invitations: %w", err)
	}
	return revoked{keys: keys, invitations: invitations}, nil
}

// recordIn records r's revocations in the chain of the scope's
// organisation, done by the scope's actor for reason.
func (r revoked) recordIn(ctx context.Context, tx pgx.Tx, scope gw.Scope, reason string) error {
	why := map[string]any{"reason": reason}
	for _, k := range r.keys {
		if err := record(ctx, tx, scope, audit.ActionAPIKeyRevoked, audit.TargetAPIKey, k.ID,
			map[string]any{"name": k.Name, "role": k.Role, "prefix": k.Prefix}, why); err != nil {
			return err
		}
	}
	for _, i := range r.invitations {
		if err := record(ctx, tx, scope, audit.ActionInvitationRevoked, audit.TargetInvitation, i.ID,
			map[string]any{"email": i.Email, "role": i.Role}, why); err != nil {
			return err
		}
	}
	return nil
}

// forgetKeys drops the API keys of rs from this process's cache. Call it
// once their revocation has committed: a lookup that read them before
// then could otherwise cache them again.
func (s *Service) forgetKeys(rs ...revoked) {
	ids := map[string]bool{}
	for _, r := range rs {
		for _, k := range r.keys {
			ids[k.ID] = true
		}
	}
	if len(ids) > 0 {
		s.keys.forget(func(k gw.Scope) bool { return ids[k.APIKeyID] })
	}
}

// requireGranter checks, in tx and under the organisation's lock, that the
// signed-in caller of scope still holds permission p and a role that may
// grant role: the scope was read as the request started, and a member
// removed or demoted meanwhile must not create a key or invitation that
// the change has not seen. It locks the caller's user row and then the
// organisation (lockGranter). An API key's scope is checked as it is.
func requireGranter(ctx context.Context, tx pgx.Tx, scope gw.Scope, p authz.Permission, role gw.Role) error {
	if scope.UserID == "" {
		return nil
	}
	if err := lockGranter(ctx, tx, scope.OrgID, scope.UserID); err != nil {
		return err
	}
	now, err := memberRole(ctx, tx, scope.OrgID, scope.UserID)
	if err != nil {
		return noRowsCode(err, notFound("Organisation"))
	}
	if err := authz.Require(gw.Scope{Actor: scope.Actor, OrgID: scope.OrgID, Role: now}, p); err != nil {
		return err
	}
	return checkGrantable(now, role)
}

// errUnknownRole is ChangeRole's EINVALID for a role that does not exist.
func errUnknownRole() error {
	msg := "Choose owner, admin, member or viewer."
	return &gw.Error{Code: gw.EINVALID, Message: msg, Fields: map[string]string{"role": msg}}
}
