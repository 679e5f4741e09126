package org

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/groundwork-dev/groundwork/internal/audit"
	"github.com/groundwork-dev/groundwork/internal/gw"
	"github.com/groundwork-dev/groundwork/internal/gwtest"
)

// setEmail gives userID the address email, so that listings can be checked
// against it.
func (b *bundle) setEmail(t *testing.T, userID, email string) {
	t.Helper()
	_, err := b.db.Owner.Exec(context.Background(), `UPDATE users SET email = $2 WHERE id = $1`, userID, email)
	require.NoError(t, err)
}

// keyByID finds id in the scope's organisation's API key list.
func (b *bundle) keyByID(t *testing.T, scope gw.Scope, id string) APIKey {
	t.Helper()
	keys, err := b.svc.APIKeys(context.Background(), scope)
	require.NoError(t, err)
	for _, k := range keys {
		if k.ID == id {
			return k
		}
	}
	require.FailNow(t, "API key not listed", id)
	return APIKey{}
}

// pendingIDs lists the IDs of the scope's organisation's pending invitations.
func (b *bundle) pendingIDs(t *testing.T, scope gw.Scope) []string {
	t.Helper()
	list, err := b.svc.Invitations(context.Background(), scope)
	require.NoError(t, err)
	ids := make([]string, len(list))
	for i, inv := range list {
		ids[i] = inv.ID
	}
	return ids
}

// requireKeyWorks checks that key authenticates with role.
func (b *bundle) requireKeyWorks(t *testing.T, key string, role gw.Role, what string) {
	t.Helper()
	s, err := b.svc.AuthenticateAPIKey(context.Background(), key)
	require.NoError(t, err, what)
	require.Equal(t, role, s.Role, what)
}

// requireKeyDead checks that key no longer authenticates.
func (b *bundle) requireKeyDead(t *testing.T, key, what string) {
	t.Helper()
	_, err := b.svc.AuthenticateAPIKey(context.Background(), key)
	gwtest.RequireCode(t, gw.EUNAUTHORIZED, err, what)
	require.Equal(t, "Invalid API key.", gw.ErrorMessage(err), what)
}

// revocationEvent is what the audit log should say about one delegation
// revoked for a member.
type revocationEvent struct {
	action, target, reason string
}

// requireRevocationEvents checks that events (the entries written by one
// membership change) hold, besides the change's own event of action
// change, exactly the revocations want, each by actor with its reason.
func requireRevocationEvents(t *testing.T, events []audit.Entry, change, actor string, want []revocationEvent) {
	t.Helper()
	require.Len(t, events, 1+len(want), "one event for the change and one per revocation")
	var got []revocationEvent
	changes := 0
	for _, e := range events {
		require.Equal(t, actor, e.Actor.UserID, "%s on %s", e.Action, e.TargetID)
		if e.Action == change {
			changes++
			continue
		}
		var after struct {
			Reason string `json:"reason"`
		}
		require.NoError(t, json.Unmarshal(e.After, &after), e.Action)
		got = append(got, revocationEvent{e.Action, e.TargetID, after.Reason})
	}
	require.Equal(t, 1, changes, "one %s event", change)
	require.ElementsMatch(t, want, got)
}

// TestDelegationsFollowTheirCreatorsRole proves item 7 of the security
// review: an admin's API keys and invitations record their creator (and
// list them with their email address); demoting the admin to member revokes
// at once the admin key (even while it is cached) and the admin invitation
// (it can no longer be accepted), and keeps the member key, the viewer and
// member invitations and every key of other creators working; removing the
// member then revokes all that is left of theirs. Each revocation is in
// the audit log with its reason, done by the owner who changed the member.
func TestDelegationsFollowTheirCreatorsRole(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	owner, o := b.org(t, "Acme")
	admin := b.member(t, o.ID, gw.RoleAdmin)
	b.setEmail(t, admin.UserID, "alice@example.com")

	adminKey, adminSecret, err := b.svc.CreateAPIKey(ctx, admin, "admin key", gw.RoleAdmin)
	require.NoError(t, err)
	memberKey, memberSecret, err := b.svc.CreateAPIKey(ctx, admin, "member key", gw.RoleMember)
	require.NoError(t, err)
	require.Equal(t, admin.UserID, adminKey.CreatedBy, "the key returned names its creator")
	ownerKey, ownerSecret, err := b.svc.CreateAPIKey(ctx, owner, "owner's key", gw.RoleAdmin)
	require.NoError(t, err)
	cliKey, cliSecret, err := b.svc.CreateAPIKeyAsAdmin(ctx, o.ID, "deploy", gw.RoleAdmin)
	require.NoError(t, err)
	require.Empty(t, cliKey.CreatedBy)

	adminInv, err := b.svc.Invite(ctx, admin, "ann@example.com", gw.RoleAdmin)
	require.NoError(t, err)
	viewerInv, err := b.svc.Invite(ctx, admin, "vic@example.com", gw.RoleViewer)
	require.NoError(t, err)
	memberInv, err := b.svc.Invite(ctx, admin, "wendy@example.com", gw.RoleMember)
	require.NoError(t, err)
	ownersInv, err := b.svc.Invite(ctx, owner, "olga@example.com", gw.RoleAdmin)
	require.NoError(t, err)
	require.Equal(t, admin.UserID, adminInv.InvitedBy, "the invitation returned names its sender")
	require.Equal(t, "alice@example.com", adminInv.InvitedByEmail)
	annToken, vicToken, wendyToken := b.token(t, "ann@example.com"), b.token(t, "vic@example.com"), b.token(t, "wendy@example.com")

	// The listings name the creator.
	for _, k := range []APIKey{adminKey, memberKey} {
		got := b.keyByID(t, owner, k.ID)
		require.Equal(t, admin.UserID, got.CreatedBy, k.Name)
		require.Equal(t, "alice@example.com", got.CreatedByEmail, k.Name)
	}
	require.Equal(t, owner.UserID, b.keyByID(t, owner, ownerKey.ID).CreatedBy)
	got := b.keyByID(t, owner, cliKey.ID)
	require.Empty(t, got.CreatedBy, "a key of the admin command line has no creator")
	require.Empty(t, got.CreatedByEmail)
	invs, err := b.svc.Invitations(ctx, owner)
	require.NoError(t, err)
	require.Len(t, invs, 4)
	for _, inv := range invs {
		if inv.ID == ownersInv.ID {
			require.Equal(t, owner.UserID, inv.InvitedBy)
			continue
		}
		require.Equal(t, admin.UserID, inv.InvitedBy, inv.Email)
		require.Equal(t, "alice@example.com", inv.InvitedByEmail, inv.Email)
	}

	// Both keys work, and are now in the cache.
	b.requireKeyWorks(t, adminSecret, gw.RoleAdmin, "admin key before")
	b.requireKeyWorks(t, memberSecret, gw.RoleMember, "member key before")

	// The members page would ask first: this is what it counts.
	d, err := b.svc.DelegationsAbove(ctx, owner, admin.UserID, gw.RoleMember)
	require.NoError(t, err)
	require.Equal(t, Delegations{APIKeys: 1, Invitations: 1}, d)
	d, err = b.svc.DelegationsAbove(ctx, owner, admin.UserID, "")
	require.NoError(t, err)
	require.Equal(t, Delegations{APIKeys: 2, Invitations: 3}, d)

	// Demote the admin to member.
	n := len(b.auditLog(t, o.ID))
	require.NoError(t, b.svc.ChangeRole(ctx, owner, admin.UserID, gw.RoleMember))

	b.requireKeyDead(t, adminSecret, "admin key after demotion")
	b.requireKeyWorks(t, memberSecret, gw.RoleMember, "member key after demotion")
	b.requireKeyWorks(t, ownerSecret, gw.RoleAdmin, "the owner's key")
	b.requireKeyWorks(t, cliSecret, gw.RoleAdmin, "the command line's key")
	require.NotNil(t, b.keyByID(t, owner, adminKey.ID).RevokedAt, "listed as revoked")
	require.Nil(t, b.keyByID(t, owner, memberKey.ID).RevokedAt)

	ann := b.user(t, "ann@example.com")
	_, err = b.svc.AcceptInvitation(ctx, ann, "ann@example.com", annToken)
	gwtest.RequireCode(t, gw.EINVALID, err, "the admin invitation is revoked")
	_, _, err = b.svc.MemberScope(ctx, ann, o.ID)
	require.Error(t, err, "ann did not join")
	require.ElementsMatch(t, []string{viewerInv.ID, memberInv.ID, ownersInv.ID}, b.pendingIDs(t, owner))

	vic := b.user(t, "vic@example.com")
	joined, err := b.svc.AcceptInvitation(ctx, vic, "vic@example.com", vicToken)
	require.NoError(t, err, "the viewer invitation is still good")
	require.Equal(t, o.ID, joined.ID)
	require.Equal(t, gw.RoleViewer, b.scope(t, vic, o.ID).Role)

	log := b.auditLog(t, o.ID)
	// Newest first: vic's acceptance, then what the demotion wrote.
	require.Equal(t, audit.ActionInvitationAccepted, log[0].Action)
	demotion := log[1 : len(log)-n]
	requireRevocationEvents(t, demotion, audit.ActionMemberRoleChanged, owner.UserID, []revocationEvent{
		{audit.ActionAPIKeyRevoked, adminKey.ID, ReasonRoleChanged},
		{audit.ActionInvitationRevoked, adminInv.ID, ReasonRoleChanged},
	})

	d, err = b.svc.DelegationsAbove(ctx, owner, admin.UserID, "")
	require.NoError(t, err)
	require.Equal(t, Delegations{APIKeys: 1, Invitations: 1}, d, "what is left of theirs")

	// Remove the member: everything left of theirs goes.
	n = len(b.auditLog(t, o.ID))
	require.NoError(t, b.svc.RemoveMember(ctx, owner, admin.UserID))

	b.requireKeyDead(t, memberSecret, "member key after removal")
	b.requireKeyWorks(t, ownerSecret, gw.RoleAdmin, "the owner's key after removal")
	b.requireKeyWorks(t, cliSecret, gw.RoleAdmin, "the command line's key after removal")
	require.NotNil(t, b.keyByID(t, owner, memberKey.ID).RevokedAt)
	require.Equal(t, admin.UserID, b.keyByID(t, owner, memberKey.ID).CreatedBy, "a revoked key keeps its creator")
	require.Equal(t, []string{ownersInv.ID}, b.pendingIDs(t, owner))
	wendy := b.user(t, "wendy@example.com")
	_, err = b.svc.AcceptInvitation(ctx, wendy, "wendy@example.com", wendyToken)
	gwtest.RequireCode(t, gw.EINVALID, err, "the member invitation is revoked")

	log = b.auditLog(t, o.ID)
	requireRevocationEvents(t, log[:len(log)-n], audit.ActionMemberRemoved, owner.UserID, []revocationEvent{
		{audit.ActionAPIKeyRevoked, memberKey.ID, ReasonMemberRemoved},
		{audit.ActionInvitationRevoked, memberInv.ID, ReasonMemberRemoved},
	})
	_, err = b.svc.DelegationsAbove(ctx, owner, admin.UserID, "")
	gwtest.RequireCode(t, gw.ENOTFOUND, err, "no longer a member")

	_, err = audit.NewSealer(b.db.Runtime).SealAll(ctx)
	require.NoError(t, err)
	rep, err := audit.NewService(b.db.Runtime).Verify(ctx, audit.VerifyOptions{})
	require.NoError(t, err)
	require.True(t, rep.OK(), "%v", rep.Breaks)
}

// TestLeavingRevokesOwnDelegations proves that a member who leaves takes
// their API keys and pending invitations with them, whatever their role,
// recorded in the audit log as done by the leaver with reason member_left,
// while another admin's key and invitation stay.
func TestLeavingRevokesOwnDelegations(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	_, o := b.org(t, "Acme")
	leaver := b.member(t, o.ID, gw.RoleAdmin)
	other := b.member(t, o.ID, gw.RoleAdmin)

	key, secret, err := b.svc.CreateAPIKey(ctx, leaver, "CI", gw.RoleViewer)
	require.NoError(t, err)
	inv, err := b.svc.Invite(ctx, leaver, "ann@example.com", gw.RoleViewer)
	require.NoError(t, err)
	annToken := b.token(t, "ann@example.com")
	_, otherSecret, err := b.svc.CreateAPIKey(ctx, other, "other", gw.RoleAdmin)
	require.NoError(t, err)
	otherInv, err := b.svc.Invite(ctx, other, "bob@example.com", gw.RoleAdmin)
	require.NoError(t, err)
	b.requireKeyWorks(t, secret, gw.RoleViewer, "before leaving")

	d, err := b.svc.DelegationsAbove(ctx, leaver, leaver.UserID, "")
	require.NoError(t, err, "a member may count their own")
	require.Equal(t, Delegations{APIKeys: 1, Invitations: 1}, d)

	n := len(b.auditLog(t, o.ID))
	require.NoError(t, b.svc.Leave(ctx, leaver))

	b.requireKeyDead(t, secret, "after leaving")
	b.requireKeyWorks(t, otherSecret, gw.RoleAdmin, "another admin's key")
	require.Equal(t, []string{otherInv.ID}, b.pendingIDs(t, other))
	ann := b.user(t, "ann@example.com")
	_, err = b.svc.AcceptInvitation(ctx, ann, "ann@example.com", annToken)
	gwtest.RequireCode(t, gw.EINVALID, err)

	log := b.auditLog(t, o.ID)
	requireRevocationEvents(t, log[:len(log)-n], audit.ActionMemberLeft, leaver.UserID, []revocationEvent{
		{audit.ActionAPIKeyRevoked, key.ID, ReasonMemberLeft},
		{audit.ActionInvitationRevoked, inv.ID, ReasonMemberLeft},
	})
}

// TestDemotedMemberCannotDelegateWithAStaleScope proves that a scope read
// before its user was demoted (a request in flight) cannot create an API key
// or an invitation above the new role, which the demotion could not have
// revoked: the creator's role is checked again in the creating transaction.
func TestDemotedMemberCannotDelegateWithAStaleScope(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	owner, o := b.org(t, "Acme")
	stale := b.member(t, o.ID, gw.RoleAdmin)
	require.NoError(t, b.svc.ChangeRole(ctx, owner, stale.UserID, gw.RoleViewer))
	require.Equal(t, gw.RoleAdmin, stale.Role, "the scope still says admin")

	_, _, err := b.svc.CreateAPIKey(ctx, stale, "late", gw.RoleAdmin)
	gwtest.RequireCode(t, gw.EFORBIDDEN, err)
	_, err = b.svc.Invite(ctx, stale, "late@example.com", gw.RoleAdmin)
	gwtest.RequireCode(t, gw.EFORBIDDEN, err)

	require.NoError(t, b.svc.RemoveMember(ctx, owner, stale.UserID))
	_, _, err = b.svc.CreateAPIKey(ctx, stale, "later", gw.RoleViewer)
	require.Error(t, err, "a removed member's stale scope creates nothing")
	keys, err := b.svc.APIKeys(ctx, owner)
	require.NoError(t, err)
	require.Empty(t, keys)
	require.Empty(t, b.pendingIDs(t, owner))
}
