package org

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/groundwork-dev/groundwork/internal/audit"
	"github.com/groundwork-dev/groundwork/internal/gw"
	"github.com/groundwork-dev/groundwork/internal/gwtest"
)

// auditLog lists orgID's audit events, newest first.
func (b *bundle) auditLog(t *testing.T, orgID string) []audit.Entry {
	t.Helper()
	svc := audit.NewService(b.db.Runtime)
	p, err := svc.List(context.Background(), gw.Scope{OrgID: orgID, Role: gw.RoleOwner}, audit.ListParams{Limit: 200})
	require.NoError(t, err)
	return p.Entries
}

// with2FA marks scope's user as having two-factor authentication.
func (b *bundle) with2FA(t *testing.T, userID string) {
	t.Helper()
	_, err := b.db.Owner.Exec(context.Background(), `UPDATE users SET totp_enabled_at = now() WHERE id = $1`, userID)
	require.NoError(t, err)
}

func TestOrgActionsWriteOneAuditEventEach(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	owner, o := b.org(t, "Acme")
	created := b.auditLog(t, o.ID)
	require.Len(t, created, 1)
	require.Equal(t, audit.ActionOrgCreated, created[0].Action)
	require.Equal(t, owner.UserID, created[0].Actor.UserID)
	require.JSONEq(t, `{"name":"Acme","slug":"acme"}`, string(created[0].After))
	b.with2FA(t, owner.UserID)

	member := b.member(t, o.ID, gw.RoleMember)
	leaver := b.member(t, o.ID, gw.RoleViewer)
	removed := b.member(t, o.ID, gw.RoleViewer)
	heir := b.member(t, o.ID, gw.RoleAdmin)
	var inv Invitation
	var key APIKey
	invitee := b.user(t, "invitee@example.com")

	steps := []struct {
		name       string
		do         func() error
		action     string
		actor      string // user ID; "" for none
		target     string
		before     string // JSON, "" for none
		after      string
		afterMatch string // a substring of After, when After is not fixed
	}{
		{"rename", func() error { return b.svc.Rename(ctx, owner, "Acme Ltd") },
			audit.ActionOrgRenamed, owner.UserID, o.ID, `{"name":"Acme"}`, `{"name":"Acme Ltd"}`, ""},
		{"require 2FA", func() error { return b.svc.SetRequire2FA(ctx, owner, true) },
			audit.ActionOrgRequire2FAChanged, owner.UserID, o.ID, `{"require_2fa":false}`, `{"require_2fa":true}`, ""},
		{"change role", func() error { return b.svc.ChangeRole(ctx, owner, member.UserID, gw.RoleAdmin) },
			audit.ActionMemberRoleChanged, owner.UserID, member.UserID, `{"role":"member"}`, `{"role":"admin"}`, ""},
		{"remove member", func() error { return b.svc.RemoveMember(ctx, owner, removed.UserID) },
			audit.ActionMemberRemoved, owner.UserID, removed.UserID, `{"role":"viewer"}`, "", ""},
		{"leave", func() error { return b.svc.Leave(ctx, leaver) },
			audit.ActionMemberLeft, leaver.UserID, leaver.UserID, `{"role":"viewer"}`, "", ""},
		{"invite", func() (err error) {
			inv, err = b.svc.Invite(ctx, owner, "invitee@example.com", gw.RoleMember)
			return err
		},
			audit.ActionInvitationCreated, owner.UserID, "", "", "", `"email": "invitee@example.com"`},
		{"accept invitation", func() error {
			link := b.mail.last(t, "invitee@example.com").Text
			token := strings.Fields(link[strings.Index(link, "/invitations/")+len("/invitations/"):])[0]
			_, err := b.svc.AcceptInvitation(ctx, invitee, "invitee@example.com", token)
			return err
		}, audit.ActionInvitationAccepted, invitee, "", `{"email":"invitee@example.com"}`, `{"user_id":"` + invitee + `","role":"member"}`, ""},
		{"create API key", func() (err error) { key, _, err = b.svc.CreateAPIKey(ctx, owner, "CI", gw.RoleMember); return err },
			audit.ActionAPIKeyCreated, owner.UserID, "", "", "", `"name": "CI"`},
		{"revoke API key", func() error { return b.svc.RevokeAPIKey(ctx, owner, key.ID) },
			audit.ActionAPIKeyRevoked, owner.UserID, "", "", "", ""},
		{"transfer ownership", func() error { return b.svc.TransferOwnership(ctx, owner, heir.UserID) },
			audit.ActionOwnershipTransferred, owner.UserID, heir.UserID,
			`{"roles":{"` + owner.UserID + `":"owner","` + heir.UserID + `":"admin"}}`,
			`{"roles":{"` + owner.UserID + `":"admin","` + heir.UserID + `":"owner"}}`, ""},
	}
	for _, st := range steps {
		n := len(b.auditLog(t, o.ID))
		require.NoError(t, st.do(), st.name)
		log := b.auditLog(t, o.ID)
		require.Len(t, log, n+1, "%s writes exactly one event", st.name)
		e := log[0]
		require.Equal(t, st.action, e.Action, st.name)
		require.Equal(t, st.actor, e.Actor.UserID, st.name)
		if st.target != "" {
			require.Equal(t, st.target, e.TargetID, st.name)
		}
		if st.before != "" {
			require.JSONEq(t, st.before, string(e.Before), st.name)
		}
		if st.after != "" {
			require.JSONEq(t, st.after, string(e.After), st.name)
		}
		if st.afterMatch != "" {
			require.Contains(t, string(e.After), st.afterMatch, st.name)
		}
	}
	log := b.auditLog(t, o.ID)
	require.Equal(t, inv.ID, log[4].TargetID, "the invitation event names the invitation")
	require.Equal(t, key.ID, log[1].TargetID)
	require.JSONEq(t, `{"name":"CI","role":"member","prefix":"`+key.Prefix+`"}`, string(log[1].Before))

	// Doing nothing records nothing: same name, same setting, revoked key.
	n := len(log)
	require.NoError(t, b.svc.Rename(ctx, owner, "Acme Ltd"))
	require.NoError(t, b.svc.RevokeAPIKey(ctx, owner, key.ID))
	require.NoError(t, b.svc.ChangeRole(ctx, owner, member.UserID, gw.RoleAdmin))
	require.Len(t, b.auditLog(t, o.ID), n)

	// Deleting the organisation is its chain's last event; the chain stays.
	heirScope := b.scope(t, heir.UserID, o.ID)
	require.NoError(t, b.svc.Delete(ctx, heirScope))
	log = b.auditLog(t, o.ID)
	require.Len(t, log, n+1)
	require.Equal(t, audit.ActionOrgDeleted, log[0].Action)
	require.Equal(t, heir.UserID, log[0].Actor.UserID)
	require.JSONEq(t, `{"name":"Acme Ltd","slug":"acme"}`, string(log[0].Before))

	_, err := audit.NewSealer(b.db.Runtime).SealAll(ctx)
	require.NoError(t, err)
	rep, err := audit.NewService(b.db.Runtime).Verify(ctx, audit.VerifyOptions{})
	require.NoError(t, err)
	require.True(t, rep.OK(), "%v", rep.Breaks)
	require.EqualValues(t, n+1, rep.Events)
}

func TestFailedOrgActionsWriteNoAuditEvent(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	owner, o := b.org(t, "Acme")
	viewer := b.member(t, o.ID, gw.RoleViewer)
	n := len(b.auditLog(t, o.ID))

	gwtest.RequireCode(t, gw.ECONFLICT, b.svc.ChangeRole(ctx, owner, owner.UserID, gw.RoleAdmin), "last owner")
	gwtest.RequireCode(t, gw.ENOTFOUND, b.svc.RemoveMember(ctx, owner, gw.NewID()))
	gwtest.RequireCode(t, gw.EFORBIDDEN, b.svc.Delete(ctx, viewer))
	gwtest.RequireCode(t, gw.EFORBIDDEN, b.svc.SetRequire2FA(ctx, viewer, true))
	gwtest.RequireCode(t, gw.ECONFLICT, b.svc.SetRequire2FA(ctx, owner, true), "the owner has no two-factor")
	gwtest.RequireCode(t, gw.ECONFLICT, b.svc.Leave(ctx, owner), "last owner")
	require.Len(t, b.auditLog(t, o.ID), n)
}

func TestAdminCreatedAPIKeyIsRecordedAsTheSystem(t *testing.T) {
	t.Parallel()
	b := setup(t)
	_, o := b.org(t, "Acme")
	k, _, err := b.svc.CreateAPIKeyAsAdmin(context.Background(), o.ID, "deploy", gw.RoleAdmin)
	require.NoError(t, err)
	e := b.auditLog(t, o.ID)[0]
	require.Equal(t, audit.ActionAPIKeyCreated, e.Action)
	require.True(t, e.Actor.Anonymous(), "no actor: the admin command line")
	require.Equal(t, k.ID, e.TargetID)
	var after map[string]string
	require.NoError(t, json.Unmarshal(e.After, &after))
	require.Equal(t, map[string]string{"name": "deploy", "role": "admin", "prefix": k.Prefix}, after)
}
