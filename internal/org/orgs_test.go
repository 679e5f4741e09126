package org

import (
	"context"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/groundwork-dev/groundwork/internal/gw"
	"github.com/groundwork-dev/groundwork/internal/gwtest"
	"github.com/groundwork-dev/groundwork/internal/postgres"
)

func TestCreateMakesCreatorOwner(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	alice := b.user(t, "alice@example.com")

	o, err := b.svc.Create(ctx, alice, "  Acme Corp  ")
	require.NoError(t, err)
	require.Equal(t, "Acme Corp", o.Name)
	require.Equal(t, "acme-corp", o.Slug)
	require.True(t, gw.ValidID(o.ID))
	require.False(t, o.Require2FA)

	scope, got, err := b.svc.MemberScope(ctx, alice, "acme-corp")
	require.NoError(t, err)
	require.Equal(t, gw.Scope{Actor: gw.Actor{UserID: alice}, OrgID: o.ID, Role: gw.RoleOwner}, scope)
	require.Equal(t, o.ID, got.ID)
	require.Equal(t, o.Slug, got.Slug)

	members, err := b.svc.Members(ctx, scope)
	require.NoError(t, err)
	require.Len(t, members, 1)
	require.Equal(t, Member{UserID: alice, Email: "alice@example.com", Role: gw.RoleOwner, JoinedAt: members[0].JoinedAt}, members[0])

	for _, bad := range []string{"", "  ", strings.Repeat("x", 101), "a\x00b"} {
		_, err := b.svc.Create(ctx, alice, bad)
		gwtest.RequireCode(t, gw.EINVALID, err)
	}
	_, err = b.svc.Create(ctx, gw.NewID(), "Nobody's") // unknown user
	gwtest.RequireCode(t, gw.EINVALID, err)
}

func TestCreateMakesSlugsUnique(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	alice := b.user(t, "alice@example.com")

	seen := map[string]bool{}
	for i := range 8 {
		o, err := b.svc.Create(ctx, alice, "Acme")
		require.NoError(t, err)
		require.False(t, seen[o.Slug], "slug %q reused", o.Slug)
		seen[o.Slug] = true
		switch {
		case i == 0:
			require.Equal(t, "acme", o.Slug)
		case i < 5:
			require.Equal(t, "acme-"+string(rune('1'+i)), o.Slug)
		default:
			require.Regexp(t, `^acme-[a-z2-7]{6}$`, o.Slug)
		}
	}
	list, err := b.svc.ForUser(ctx, alice)
	require.NoError(t, err)
	require.Len(t, list, 8)
}

func TestSlugify(t *testing.T) {
	t.Parallel()
	tests := map[string]string{
		"Acme":                        "acme",
		"Bob's  Plumbing & Heating!":  "bobs-plumbing-heating",
		"Café Müller Straße":          "cafe-muller-strasse",
		"--Ünïcödé--":                 "unicode",
		"東京":                          "org",
		"":                            "org",
		strings.Repeat("abcde ", 20):  "abcde-abcde-abcde-abcde-abcde-abcde-abcd",
		"0193a0c4-7b2e-7c3d-8e4f-000": "0193a0c4-7b2e-7c3d-8e4f-000",
	}
	for in, want := range tests {
		got := slugify(in)
		require.Equal(t, want, got, "slugify(%q)", in)
		require.Regexp(t, `^[a-z0-9]+(-[a-z0-9]+)*$`, got)
		require.LessOrEqual(t, len(got), maxSlugBase)
	}
}

func TestCreateNeverMakesAUUIDSlug(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	alice := b.user(t, "alice@example.com")
	id := gw.NewID()
	o, err := b.svc.Create(ctx, alice, id)
	require.NoError(t, err)
	require.False(t, gw.ValidID(o.Slug))
	require.True(t, strings.HasPrefix(o.Slug, id+"-"))
	got, err := b.svc.ResolveOrg(ctx, o.Slug)
	require.NoError(t, err)
	require.Equal(t, o.ID, got.ID)
}

func TestForUserListsOwnOrgsOnly(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	alice := b.user(t, "alice@example.com")
	for _, name := range []string{"Zeta", "alpha", "Mid"} {
		_, err := b.svc.Create(ctx, alice, name)
		require.NoError(t, err)
	}
	_, other := b.org(t, "Someone else's")
	bob := b.member(t, other.ID, gw.RoleViewer)
	_, err := b.svc.Create(ctx, bob.UserID, "Bob's own")
	require.NoError(t, err)

	list, err := b.svc.ForUser(ctx, alice)
	require.NoError(t, err)
	var names []string
	for _, m := range list {
		names = append(names, m.Org.Name)
		require.Equal(t, gw.RoleOwner, m.Role)
	}
	require.Equal(t, []string{"alpha", "Mid", "Zeta"}, names)

	list, err = b.svc.ForUser(ctx, bob.UserID)
	require.NoError(t, err)
	require.Len(t, list, 2)
	require.Equal(t, "Bob's own", list[0].Org.Name)
	require.Equal(t, gw.RoleOwner, list[0].Role)
	require.Equal(t, other.ID, list[1].Org.ID)
	require.Equal(t, gw.RoleViewer, list[1].Role)

	list, err = b.svc.ForUser(ctx, b.user(t, "nobody@example.com"))
	require.NoError(t, err)
	require.Empty(t, list)
}

func TestMemberScope(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	owner, o := b.org(t, "Acme")
	viewer := b.member(t, o.ID, gw.RoleViewer)
	stranger := b.user(t, "stranger@example.com")

	// By slug and by ID.
	for _, ref := range []string{o.Slug, o.ID} {
		s, got, err := b.svc.MemberScope(ctx, viewer.UserID, ref)
		require.NoError(t, err)
		require.Equal(t, gw.RoleViewer, s.Role)
		require.Equal(t, o.ID, s.OrgID)
		require.Equal(t, "Acme", got.Name)
	}
	// A non-member, a missing organisation and junk all look the same.
	for _, c := range []struct{ user, ref string }{
		{stranger, o.Slug}, {stranger, o.ID}, {owner.UserID, "no-such-org"}, {owner.UserID, gw.NewID()},
		{owner.UserID, ""}, {"not-a-uuid", o.Slug}, {owner.UserID, "'; DROP TABLE orgs; --"},
	} {
		_, _, err := b.svc.MemberScope(ctx, c.user, c.ref)
		gwtest.RequireCode(t, gw.ENOTFOUND, err)
	}
}

func TestRenameAndRequire2FA(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	owner, o := b.org(t, "Acme")
	admin := b.member(t, o.ID, gw.RoleAdmin)
	member := b.member(t, o.ID, gw.RoleMember)

	require.NoError(t, b.svc.Rename(ctx, admin, "Acme Industries"))
	gwtest.RequireCode(t, gw.EFORBIDDEN, b.svc.Rename(ctx, member, "Hijacked"))
	gwtest.RequireCode(t, gw.EINVALID, b.svc.Rename(ctx, admin, " "))
	got, err := b.svc.ResolveOrg(ctx, o.ID)
	require.NoError(t, err)
	require.Equal(t, "Acme Industries", got.Name)
	require.Equal(t, "acme", got.Slug, "the slug does not follow renames")

	// Turning the rule on without two-factor yourself would lock you out.
	gwtest.RequireCode(t, gw.ECONFLICT, b.svc.SetRequire2FA(ctx, owner, true))
	_, err = b.db.Owner.Exec(ctx, `UPDATE users SET totp_enabled_at = now() WHERE id = $1`, owner.UserID)
	require.NoError(t, err)
	require.NoError(t, b.svc.SetRequire2FA(ctx, owner, true))
	gwtest.RequireCode(t, gw.EFORBIDDEN, b.svc.SetRequire2FA(ctx, member, false))
	_, got, err = b.svc.MemberScope(ctx, member.UserID, o.Slug)
	require.NoError(t, err)
	require.True(t, got.Require2FA)
	require.NoError(t, b.svc.SetRequire2FA(ctx, admin, false))

	members, err := b.svc.Members(ctx, member)
	require.NoError(t, err)
	for _, m := range members {
		require.Equal(t, m.UserID == owner.UserID, m.TwoFactor)
	}
}

func TestDeleteAndSolelyOwnedOrgs(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	alice, solo := b.org(t, "Solo")
	shared, err := b.svc.Create(ctx, alice.UserID, "Shared")
	require.NoError(t, err)
	coOwner := b.member(t, shared.ID, gw.RoleOwner)
	_, other := b.org(t, "Other")
	b.member(t, other.ID, gw.RoleMember) // unrelated
	_, err = b.svc.Create(ctx, coOwner.UserID, "Admin only")
	require.NoError(t, err)

	names, err := b.svc.SolelyOwnedOrgs(ctx, alice.UserID)
	require.NoError(t, err)
	require.Equal(t, []string{"Solo"}, names)
	names, err = b.svc.SolelyOwnedOrgs(ctx, coOwner.UserID)
	require.NoError(t, err)
	require.Equal(t, []string{"Admin only"}, names)

	admin := b.member(t, solo.ID, gw.RoleAdmin)
	gwtest.RequireCode(t, gw.EFORBIDDEN, b.svc.Delete(ctx, admin))
	_, key, err := b.svc.CreateAPIKey(ctx, alice, "CI", gw.RoleMember)
	require.NoError(t, err)
	_, err = b.svc.AuthenticateAPIKey(ctx, key)
	require.NoError(t, err)
	_, err = b.svc.Invite(ctx, alice, "x@example.com", gw.RoleMember)
	require.NoError(t, err)

	require.NoError(t, b.svc.Delete(ctx, alice))
	_, err = b.svc.ResolveOrg(ctx, solo.ID)
	gwtest.RequireCode(t, gw.ENOTFOUND, err)
	_, _, err = b.svc.MemberScope(ctx, alice.UserID, solo.Slug)
	gwtest.RequireCode(t, gw.ENOTFOUND, err)
	_, err = b.svc.AuthenticateAPIKey(ctx, key)
	gwtest.RequireCode(t, gw.EUNAUTHORIZED, err)
	gwtest.RequireCode(t, gw.ENOTFOUND, b.svc.Delete(ctx, alice))
	// The tenant rows went with it.
	for _, table := range []string{"memberships", "invitations", "api_keys"} {
		var n int
		err := postgres.InOrgTx(ctx, b.db.Owner, solo.ID, func(tx pgx.Tx) error {
			return tx.QueryRow(ctx, `SELECT count(*) FROM `+table+` WHERE org_id = $1`, solo.ID).Scan(&n)
		})
		require.NoError(t, err)
		require.Zero(t, n, table)
	}
	list, err := b.svc.ForUser(ctx, alice.UserID)
	require.NoError(t, err)
	require.Len(t, list, 1)
	require.Equal(t, "Shared", list[0].Org.Name)
	names, err = b.svc.SolelyOwnedOrgs(ctx, alice.UserID)
	require.NoError(t, err)
	require.Empty(t, names)
}

func TestResolveOrg(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	_, o := b.org(t, "Acme")
	for _, ref := range []string{o.ID, o.Slug} {
		got, err := b.svc.ResolveOrg(ctx, ref)
		require.NoError(t, err)
		require.Equal(t, o.ID, got.ID)
	}
	for _, ref := range []string{"", "nope", gw.NewID()} {
		_, err := b.svc.ResolveOrg(ctx, ref)
		gwtest.RequireCode(t, gw.ENOTFOUND, err)
	}
}
