package org

import (
	"context"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/groundwork-dev/groundwork/internal/gw"
	"github.com/groundwork-dev/groundwork/internal/gwtest"
)

// roleOf returns userID's role in the scope's organisation, "" if none.
func (b *bundle) roleOf(t *testing.T, scope gw.Scope, userID string) gw.Role {
	t.Helper()
	members, err := b.svc.Members(context.Background(), gw.Scope{OrgID: scope.OrgID, Role: gw.RoleViewer})
	require.NoError(t, err)
	for _, m := range members {
		if m.UserID == userID {
			return m.Role
		}
	}
	return ""
}

func TestChangeRole(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	owner, o := b.org(t, "Acme")
	admin := b.member(t, o.ID, gw.RoleAdmin)
	member := b.member(t, o.ID, gw.RoleMember)
	viewer := b.member(t, o.ID, gw.RoleViewer)

	// Admins manage non-owners.
	require.NoError(t, b.svc.ChangeRole(ctx, admin, viewer.UserID, gw.RoleMember))
	require.Equal(t, gw.RoleMember, b.roleOf(t, owner, viewer.UserID))
	require.NoError(t, b.svc.ChangeRole(ctx, admin, viewer.UserID, gw.RoleMember), "no change is fine")

	// ...but cannot grant, or touch, ownership.
	gwtest.RequireCode(t, gw.EFORBIDDEN, b.svc.ChangeRole(ctx, admin, member.UserID, gw.RoleOwner))
	gwtest.RequireCode(t, gw.EFORBIDDEN, b.svc.ChangeRole(ctx, admin, owner.UserID, gw.RoleViewer))
	require.Equal(t, gw.RoleOwner, b.roleOf(t, owner, owner.UserID))

	// Members and viewers manage nobody.
	gwtest.RequireCode(t, gw.EFORBIDDEN, b.svc.ChangeRole(ctx, member, viewer.UserID, gw.RoleAdmin))
	gwtest.RequireCode(t, gw.EFORBIDDEN, b.svc.ChangeRole(ctx, viewer, viewer.UserID, gw.RoleAdmin))

	gwtest.RequireCode(t, gw.EINVALID, b.svc.ChangeRole(ctx, owner, member.UserID, gw.Role("god")))
	gwtest.RequireCode(t, gw.ENOTFOUND, b.svc.ChangeRole(ctx, owner, gw.NewID(), gw.RoleAdmin))
	gwtest.RequireCode(t, gw.ENOTFOUND, b.svc.ChangeRole(ctx, owner, "junk", gw.RoleAdmin))

	// The last owner cannot be demoted; with a second owner, they can.
	gwtest.RequireCode(t, gw.ECONFLICT, b.svc.ChangeRole(ctx, owner, owner.UserID, gw.RoleAdmin))
	require.NoError(t, b.svc.ChangeRole(ctx, owner, member.UserID, gw.RoleOwner))
	require.NoError(t, b.svc.ChangeRole(ctx, owner, owner.UserID, gw.RoleAdmin))
	require.Equal(t, gw.RoleAdmin, b.roleOf(t, owner, owner.UserID))
	newOwner := b.scope(t, member.UserID, o.ID)
	gwtest.RequireCode(t, gw.ECONFLICT, b.svc.ChangeRole(ctx, newOwner, member.UserID, gw.RoleViewer))
}

func TestChangeRoleInAnotherOrgIsNotFound(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	ownerA, _ := b.org(t, "A")
	_, orgB := b.org(t, "B")
	memberB := b.member(t, orgB.ID, gw.RoleMember)

	gwtest.RequireCode(t, gw.ENOTFOUND, b.svc.ChangeRole(ctx, ownerA, memberB.UserID, gw.RoleAdmin))
	gwtest.RequireCode(t, gw.ENOTFOUND, b.svc.RemoveMember(ctx, ownerA, memberB.UserID))
	gwtest.RequireCode(t, gw.ENOTFOUND, b.svc.TransferOwnership(ctx, ownerA, memberB.UserID))
	require.Equal(t, gw.RoleMember, b.roleOf(t, memberB, memberB.UserID))
	// Nor can A's owner get a scope in B.
	_, _, err := b.svc.MemberScope(ctx, ownerA.UserID, orgB.ID)
	gwtest.RequireCode(t, gw.ENOTFOUND, err)
	// An empty scope is nobody.
	_, err = b.svc.Members(ctx, gw.Scope{Actor: gw.Actor{UserID: ownerA.UserID}, Role: gw.RoleOwner})
	gwtest.RequireCode(t, gw.ENOTFOUND, err)
}

func TestRemoveMember(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	owner, o := b.org(t, "Acme")
	admin := b.member(t, o.ID, gw.RoleAdmin)
	member := b.member(t, o.ID, gw.RoleMember)
	viewer := b.member(t, o.ID, gw.RoleViewer)

	gwtest.RequireCode(t, gw.EFORBIDDEN, b.svc.RemoveMember(ctx, member, viewer.UserID))
	gwtest.RequireCode(t, gw.EFORBIDDEN, b.svc.RemoveMember(ctx, admin, owner.UserID), "admins cannot remove owners")
	gwtest.RequireCode(t, gw.ECONFLICT, b.svc.RemoveMember(ctx, owner, owner.UserID), "the last owner stays")

	require.NoError(t, b.svc.RemoveMember(ctx, admin, viewer.UserID))
	require.Empty(t, b.roleOf(t, owner, viewer.UserID))
	_, _, err := b.svc.MemberScope(ctx, viewer.UserID, o.ID)
	gwtest.RequireCode(t, gw.ENOTFOUND, err)
	gwtest.RequireCode(t, gw.ENOTFOUND, b.svc.RemoveMember(ctx, admin, viewer.UserID))

	// With two owners, an owner may remove the other.
	require.NoError(t, b.svc.ChangeRole(ctx, owner, member.UserID, gw.RoleOwner))
	require.NoError(t, b.svc.RemoveMember(ctx, owner, member.UserID))
	require.Empty(t, b.roleOf(t, owner, member.UserID))
}

func TestLeave(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	owner, o := b.org(t, "Acme")
	member := b.member(t, o.ID, gw.RoleMember)

	err := b.svc.Leave(ctx, owner)
	gwtest.RequireCode(t, gw.ECONFLICT, err)
	require.Contains(t, gw.ErrorMessage(err), "only owner of Acme")

	require.NoError(t, b.svc.Leave(ctx, member))
	_, _, err = b.svc.MemberScope(ctx, member.UserID, o.ID)
	gwtest.RequireCode(t, gw.ENOTFOUND, err)
	gwtest.RequireCode(t, gw.ENOTFOUND, b.svc.Leave(ctx, member), "stale scope after leaving")

	// An API key is no one who could leave.
	gwtest.RequireCode(t, gw.EFORBIDDEN, b.svc.Leave(ctx, gw.Scope{Actor: gw.Actor{APIKeyID: gw.NewID()}, OrgID: o.ID, Role: gw.RoleAdmin}))

	// With a second owner, an owner may leave.
	second := b.member(t, o.ID, gw.RoleOwner)
	require.NoError(t, b.svc.Leave(ctx, owner))
	gwtest.RequireCode(t, gw.ECONFLICT, b.svc.Leave(ctx, second))
}

func TestTransferOwnership(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	owner, o := b.org(t, "Acme")
	admin := b.member(t, o.ID, gw.RoleAdmin)
	viewer := b.member(t, o.ID, gw.RoleViewer)
	outsider := b.user(t, "outsider@example.com")

	gwtest.RequireCode(t, gw.EFORBIDDEN, b.svc.TransferOwnership(ctx, admin, admin.UserID))
	gwtest.RequireCode(t, gw.ENOTFOUND, b.svc.TransferOwnership(ctx, owner, outsider))
	gwtest.RequireCode(t, gw.EINVALID, b.svc.TransferOwnership(ctx, owner, owner.UserID))

	require.NoError(t, b.svc.TransferOwnership(ctx, owner, viewer.UserID))
	require.Equal(t, gw.RoleOwner, b.roleOf(t, owner, viewer.UserID))
	require.Equal(t, gw.RoleAdmin, b.roleOf(t, owner, owner.UserID))

	// The old scope is stale: its holder is no longer an owner.
	gwtest.RequireCode(t, gw.EFORBIDDEN, b.svc.TransferOwnership(ctx, owner, admin.UserID))
	require.Equal(t, gw.RoleAdmin, b.roleOf(t, owner, admin.UserID))
	names, err := b.svc.SolelyOwnedOrgs(ctx, viewer.UserID)
	require.NoError(t, err)
	require.Equal(t, []string{"Acme"}, names)
}

func TestOwnersDemotingEachOtherAtOnceLeaveOneOwner(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	for range 5 {
		x, o := b.org(t, "Acme")
		y := b.member(t, o.ID, gw.RoleOwner)
		var wg sync.WaitGroup
		errs := make([]error, 2)
		wg.Go(func() { errs[0] = b.svc.ChangeRole(ctx, x, y.UserID, gw.RoleAdmin) })
		wg.Go(func() { errs[1] = b.svc.ChangeRole(ctx, y, x.UserID, gw.RoleAdmin) })
		wg.Wait()
		require.True(t, (errs[0] == nil) != (errs[1] == nil), "exactly one wins: %v", errs)
		names, err := b.svc.SolelyOwnedOrgs(ctx, map[bool]string{true: x.UserID, false: y.UserID}[errs[0] == nil])
		require.NoError(t, err)
		require.Equal(t, []string{"Acme"}, names)
	}
}
