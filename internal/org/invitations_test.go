package org

import (
	"context"
	"errors"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/groundwork-dev/groundwork/internal/gw"
	"github.com/groundwork-dev/groundwork/internal/gwtest"
)

var inviteLink = regexp.MustCompile(`https://app\.example\.com/invitations/([A-Za-z0-9_-]{43})\n`)

// token returns the invitation token in the last email sent to to.
func (b *bundle) token(t *testing.T, to string) string {
	t.Helper()
	msg := b.mail.last(t, to)
	m := inviteLink.FindStringSubmatch(msg.Text)
	require.NotNil(t, m, "no invitation link in %q", msg.Text)
	return m[1]
}

func TestInvitationLifecycle(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	owner, o := b.org(t, "Acme")
	_, err := b.db.Owner.Exec(ctx, `UPDATE users SET email = 'boss@example.com' WHERE id = $1`, owner.UserID)
	require.NoError(t, err)

	inv, err := b.svc.Invite(ctx, owner, " Carol@Example.com ", gw.RoleAdmin)
	require.NoError(t, err)
	require.Equal(t, "Carol@Example.com", inv.Email)
	require.Equal(t, gw.RoleAdmin, inv.Role)
	require.Equal(t, o.ID, inv.OrgID)
	require.Equal(t, "Acme", inv.OrgName)
	require.Equal(t, b.clock.Now().Add(7*24*time.Hour), inv.ExpiresAt)

	msg := b.mail.last(t, "Carol@Example.com")
	require.Equal(t, "Invitation to join Acme", msg.Subject)
	require.Contains(t, msg.Text, "boss@example.com has invited you to join Acme as an admin.")
	token := b.token(t, "Carol@Example.com")

	// The pending list shows it.
	list, err := b.svc.Invitations(ctx, owner)
	require.NoError(t, err)
	require.Len(t, list, 1)
	require.Equal(t, inv.ID, list[0].ID)

	// The accept page finds it by token, without any scope.
	got, err := b.svc.InvitationByToken(ctx, token)
	require.NoError(t, err)
	require.Equal(t, inv.ID, got.ID)
	require.Equal(t, "Acme", got.OrgName)
	// Another first character: "A" unless the token starts with one (1 run
	// in 64 did, and then "A" + token[1:] was the token itself).
	other := "A"
	if token[0] == 'A' {
		other = "B"
	}
	for _, bad := range []string{"", "garbage", token[:42], token + "A", other + token[1:]} {
		_, err := b.svc.InvitationByToken(ctx, bad)
		gwtest.RequireCode(t, gw.EINVALID, err)
	}

	// Someone else cannot use it.
	mallory := b.user(t, "mallory@example.com")
	_, err = b.svc.AcceptInvitation(ctx, mallory, "mallory@example.com", token)
	gwtest.RequireCode(t, gw.EFORBIDDEN, err)
	require.Equal(t, "This invitation was sent to another address.", gw.ErrorMessage(err))

	// Carol can, once.
	carol := b.user(t, "carol@example.com")
	joined, err := b.svc.AcceptInvitation(ctx, carol, "CAROL@example.com", token)
	require.NoError(t, err)
	require.Equal(t, o.ID, joined.ID)
	scope, _, err := b.svc.MemberScope(ctx, carol, o.Slug)
	require.NoError(t, err)
	require.Equal(t, gw.RoleAdmin, scope.Role)

	_, err = b.svc.AcceptInvitation(ctx, carol, "carol@example.com", token)
	gwtest.RequireCode(t, gw.EINVALID, err)
	require.Equal(t, "This invitation is invalid or has expired.", gw.ErrorMessage(err))
	_, err = b.svc.InvitationByToken(ctx, token)
	gwtest.RequireCode(t, gw.EINVALID, err)
	list, err = b.svc.Invitations(ctx, owner)
	require.NoError(t, err)
	require.Empty(t, list)
	gwtest.RequireCode(t, gw.ECONFLICT, b.svc.RevokeInvitation(ctx, owner, inv.ID))

	// She is a member now: inviting her again conflicts.
	_, err = b.svc.Invite(ctx, owner, "carol@EXAMPLE.com", gw.RoleViewer)
	gwtest.RequireCode(t, gw.ECONFLICT, err)
}

func TestInvitationExpires(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	owner, _ := b.org(t, "Acme")
	_, err := b.svc.Invite(ctx, owner, "dave@example.com", gw.RoleMember)
	require.NoError(t, err)
	token := b.token(t, "dave@example.com")
	dave := b.user(t, "dave@example.com")

	b.clock.Advance(7*24*time.Hour - time.Second)
	_, err = b.svc.InvitationByToken(ctx, token)
	require.NoError(t, err)

	b.clock.Advance(time.Second)
	_, err = b.svc.InvitationByToken(ctx, token)
	gwtest.RequireCode(t, gw.EINVALID, err)
	_, err = b.svc.AcceptInvitation(ctx, dave, "dave@example.com", token)
	gwtest.RequireCode(t, gw.EINVALID, err)
	list, err := b.svc.Invitations(ctx, owner)
	require.NoError(t, err)
	require.Empty(t, list, "expired invitations are not pending")
}

func TestRevokeAndReplaceInvitation(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	owner, _ := b.org(t, "Acme")
	erin := b.user(t, "erin@example.com")

	first, err := b.svc.Invite(ctx, owner, "erin@example.com", gw.RoleViewer)
	require.NoError(t, err)
	firstToken := b.token(t, "erin@example.com")

	// Inviting again replaces the pending invitation.
	second, err := b.svc.Invite(ctx, owner, "ERIN@example.com", gw.RoleMember)
	require.NoError(t, err)
	secondToken := b.token(t, "ERIN@example.com")
	list, err := b.svc.Invitations(ctx, owner)
	require.NoError(t, err)
	require.Len(t, list, 1)
	require.Equal(t, second.ID, list[0].ID)
	_, err = b.svc.InvitationByToken(ctx, firstToken)
	gwtest.RequireCode(t, gw.EINVALID, err)
	gwtest.RequireCode(t, gw.ENOTFOUND, b.svc.RevokeInvitation(ctx, owner, gw.NewID()))
	require.NoError(t, b.svc.RevokeInvitation(ctx, owner, first.ID), "already revoked is fine")

	require.NoError(t, b.svc.RevokeInvitation(ctx, owner, second.ID))
	_, err = b.svc.AcceptInvitation(ctx, erin, "erin@example.com", secondToken)
	gwtest.RequireCode(t, gw.EINVALID, err)
	list, err = b.svc.Invitations(ctx, owner)
	require.NoError(t, err)
	require.Empty(t, list)
}

func TestInvitePolicy(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	owner, o := b.org(t, "Acme")
	admin := b.member(t, o.ID, gw.RoleAdmin)
	member := b.member(t, o.ID, gw.RoleMember)
	viewer := b.member(t, o.ID, gw.RoleViewer)

	_, err := b.svc.Invite(ctx, viewer, "x@example.com", gw.RoleViewer)
	gwtest.RequireCode(t, gw.EFORBIDDEN, err)
	_, err = b.svc.Invite(ctx, member, "x@example.com", gw.RoleViewer)
	gwtest.RequireCode(t, gw.EFORBIDDEN, err)
	_, err = b.svc.Invitations(ctx, member)
	gwtest.RequireCode(t, gw.EFORBIDDEN, err)
	_, err = b.svc.Invite(ctx, admin, "x@example.com", gw.RoleOwner)
	gwtest.RequireCode(t, gw.EINVALID, err, "ownership is not granted by invitation")
	_, err = b.svc.Invite(ctx, owner, "x@example.com", gw.RoleOwner)
	gwtest.RequireCode(t, gw.EINVALID, err)
	for _, bad := range []string{"", "not-an-email", "Name <x@example.com>", "x@example.com\nBcc: y@example.com"} {
		_, err = b.svc.Invite(ctx, admin, bad, gw.RoleMember)
		gwtest.RequireCode(t, gw.EINVALID, err)
	}
	inv, err := b.svc.Invite(ctx, admin, "x@example.com", gw.RoleAdmin)
	require.NoError(t, err)
	gwtest.RequireCode(t, gw.EFORBIDDEN, b.svc.RevokeInvitation(ctx, member, inv.ID))

	// An API key with an admin role may invite; the email names no inviter.
	key := gw.Scope{Actor: gw.Actor{APIKeyID: gw.NewID()}, OrgID: o.ID, Role: gw.RoleAdmin}
	_, err = b.svc.Invite(ctx, key, "y@example.com", gw.RoleMember)
	require.NoError(t, err)
	require.Contains(t, b.mail.last(t, "y@example.com").Text, "You have been invited to join Acme as a member.")
}

func TestInvitationEmailIsRetriedWhileTheRelayFails(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	owner, _ := b.org(t, "Acme")
	b.mail.setErr(errors.New("smtp: connection refused"))
	inv, err := b.svc.Invite(ctx, owner, "x@example.com", gw.RoleMember)
	require.NoError(t, err, "the invitation does not depend on the relay")
	list, err := b.svc.Invitations(ctx, owner)
	require.NoError(t, err)
	require.Len(t, list, 1)
	require.Equal(t, inv.ID, list[0].ID)
	require.Empty(t, b.mail.messages(t), "the first attempt failed")

	// The relay is back: the retry delivers the invitation.
	b.mail.setErr(nil)
	b.mail.jobs.RetryNow(t)
	msg := b.mail.last(t, "x@example.com")
	require.Equal(t, "Invitation to join Acme", msg.Subject)
	require.Len(t, b.mail.messages(t), 1, "sent once")
}

func TestInvitationsAcrossOrgs(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	ownerA, _ := b.org(t, "A")
	ownerB, _ := b.org(t, "B")
	invB, err := b.svc.Invite(ctx, ownerB, "z@example.com", gw.RoleMember)
	require.NoError(t, err)

	gwtest.RequireCode(t, gw.ENOTFOUND, b.svc.RevokeInvitation(ctx, ownerA, invB.ID))
	listA, err := b.svc.Invitations(ctx, ownerA)
	require.NoError(t, err)
	require.Empty(t, listA)
	listB, err := b.svc.Invitations(ctx, ownerB)
	require.NoError(t, err)
	require.Len(t, listB, 1, "B's invitation survived A's attempt")

	// The same address may be invited by both organisations.
	_, err = b.svc.Invite(ctx, ownerA, "z@example.com", gw.RoleMember)
	require.NoError(t, err)
	listB, err = b.svc.Invitations(ctx, ownerB)
	require.NoError(t, err)
	require.Len(t, listB, 1, "A's invitation did not replace B's")
}

func TestAcceptInvitationWhenAlreadyMember(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	owner, o := b.org(t, "Acme")
	_, err := b.svc.Invite(ctx, owner, "frank@example.com", gw.RoleViewer)
	require.NoError(t, err)
	token := b.token(t, "frank@example.com")
	// Frank joins some other way before accepting.
	frank := b.member(t, o.ID, gw.RoleAdmin)
	_, err = b.db.Owner.Exec(ctx, `UPDATE users SET email = 'frank@example.com' WHERE id = $1`, frank.UserID)
	require.NoError(t, err)

	_, err = b.svc.AcceptInvitation(ctx, frank.UserID, "frank@example.com", token)
	require.NoError(t, err)
	require.Equal(t, gw.RoleAdmin, b.roleOf(t, owner, frank.UserID), "accepting does not demote")
}
