package org

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/groundwork-dev/groundwork/internal/authz"
	"github.com/groundwork-dev/groundwork/internal/gw"
	"github.com/groundwork-dev/groundwork/internal/gwtest"
	"github.com/groundwork-dev/groundwork/internal/postgres"
)

func TestAPIKeyLifecycle(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	owner, o := b.org(t, "Acme")

	k, key, err := b.svc.CreateAPIKey(ctx, owner, " CI deploys ", gw.RoleMember)
	require.NoError(t, err)
	require.Equal(t, "CI deploys", k.Name)
	require.Equal(t, gw.RoleMember, k.Role)
	require.Regexp(t, `^gw_[a-z2-7]{8}_[A-Za-z0-9_-]{43}$`, key)
	require.Equal(t, "gw_"+k.Prefix+"_", key[:12])

	scope, err := b.svc.AuthenticateAPIKey(ctx, key)
	require.NoError(t, err)
	require.Equal(t, gw.Scope{Actor: gw.Actor{APIKeyID: k.ID}, OrgID: o.ID, Role: gw.RoleMember}, scope)
	require.NoError(t, authz.Require(scope, authz.ContactsWrite))
	gwtest.RequireCode(t, gw.EFORBIDDEN, authz.Require(scope, authz.MembersManage))

	keys, err := b.svc.APIKeys(ctx, owner)
	require.NoError(t, err)
	require.Len(t, keys, 1)
	require.Equal(t, k.ID, keys[0].ID)
	require.Equal(t, k.Prefix, keys[0].Prefix)
	require.NotNil(t, keys[0].LastUsedAt)
	require.Nil(t, keys[0].RevokedAt)

	require.NoError(t, b.svc.RevokeAPIKey(ctx, owner, k.ID))
	_, err = b.svc.AuthenticateAPIKey(ctx, key)
	gwtest.RequireCode(t, gw.EUNAUTHORIZED, err)
	require.Equal(t, "Invalid API key.", gw.ErrorMessage(err))
	require.NoError(t, b.svc.RevokeAPIKey(ctx, owner, k.ID), "revoking twice is fine")
	keys, err = b.svc.APIKeys(ctx, owner)
	require.NoError(t, err)
	require.NotNil(t, keys[0].RevokedAt)
}

func TestAuthenticateAPIKeyRejectsBadKeys(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	owner, _ := b.org(t, "Acme")
	_, key, err := b.svc.CreateAPIKey(ctx, owner, "CI", gw.RoleViewer)
	require.NoError(t, err)

	otherSecret := key[:len(key)-1] + map[bool]string{true: "B", false: "A"}[strings.HasSuffix(key, "A")]
	for _, bad := range []string{
		"", "gw_", "gw__", "Bearer " + key, key + "x", strings.ToUpper(key[:11]) + key[11:],
		"gw_abcdefgh_short", "xx" + key[2:], otherSecret, " " + key,
		"gw_abcdefgh_" + strings.Repeat("A", 43), // well-formed, unknown
	} {
		_, err := b.svc.AuthenticateAPIKey(ctx, bad)
		gwtest.RequireCode(t, gw.EUNAUTHORIZED, err)
	}
}

func TestCreateAPIKeyPolicy(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	owner, o := b.org(t, "Acme")
	admin := b.member(t, o.ID, gw.RoleAdmin)
	member := b.member(t, o.ID, gw.RoleMember)

	_, _, err := b.svc.CreateAPIKey(ctx, owner, "Owner key", gw.RoleOwner)
	gwtest.RequireCode(t, gw.EINVALID, err)
	_, _, err = b.svc.CreateAPIKey(ctx, member, "Mine", gw.RoleViewer)
	gwtest.RequireCode(t, gw.EFORBIDDEN, err)
	_, err = b.svc.APIKeys(ctx, member)
	gwtest.RequireCode(t, gw.EFORBIDDEN, err)
	_, _, err = b.svc.CreateAPIKey(ctx, admin, "", gw.RoleViewer)
	gwtest.RequireCode(t, gw.EINVALID, err)
	_, _, err = b.svc.CreateAPIKey(ctx, admin, "Ops", gw.RoleAdmin)
	require.NoError(t, err)

	// An admin key may manage keys too.
	_, key, err := b.svc.CreateAPIKey(ctx, admin, "Automation", gw.RoleAdmin)
	require.NoError(t, err)
	keyScope, err := b.svc.AuthenticateAPIKey(ctx, key)
	require.NoError(t, err)
	_, _, err = b.svc.CreateAPIKey(ctx, keyScope, "Child", gw.RoleMember)
	require.NoError(t, err)

	// No role is granted above the granter's own (should the policy ever
	// let weaker roles manage keys).
	gwtest.RequireCode(t, gw.EFORBIDDEN, checkGrantable(gw.RoleMember, gw.RoleAdmin))
	gwtest.RequireCode(t, gw.EFORBIDDEN, checkGrantable(gw.RoleViewer, gw.RoleMember))
	require.NoError(t, checkGrantable(gw.RoleMember, gw.RoleMember))
}

func TestCreateAPIKeyAsAdmin(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	_, o := b.org(t, "Acme")

	k, key, err := b.svc.CreateAPIKeyAsAdmin(ctx, o.ID, "Bootstrap", gw.RoleAdmin)
	require.NoError(t, err)
	scope, err := b.svc.AuthenticateAPIKey(ctx, key)
	require.NoError(t, err)
	require.Equal(t, gw.Scope{Actor: gw.Actor{APIKeyID: k.ID}, OrgID: o.ID, Role: gw.RoleAdmin}, scope)

	_, _, err = b.svc.CreateAPIKeyAsAdmin(ctx, gw.NewID(), "Nowhere", gw.RoleAdmin)
	gwtest.RequireCode(t, gw.ENOTFOUND, err)
	_, _, err = b.svc.CreateAPIKeyAsAdmin(ctx, "acme", "Slug", gw.RoleAdmin)
	gwtest.RequireCode(t, gw.ENOTFOUND, err)
	_, _, err = b.svc.CreateAPIKeyAsAdmin(ctx, o.ID, "Owner", gw.RoleOwner)
	gwtest.RequireCode(t, gw.EINVALID, err)
}

func TestAPIKeysAcrossOrgs(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	ownerA, _ := b.org(t, "A")
	ownerB, _ := b.org(t, "B")
	kB, keyB, err := b.svc.CreateAPIKey(ctx, ownerB, "B's key", gw.RoleAdmin)
	require.NoError(t, err)

	gwtest.RequireCode(t, gw.ENOTFOUND, b.svc.RevokeAPIKey(ctx, ownerA, kB.ID))
	gwtest.RequireCode(t, gw.ENOTFOUND, b.svc.RevokeAPIKey(ctx, ownerA, "junk"))
	keysA, err := b.svc.APIKeys(ctx, ownerA)
	require.NoError(t, err)
	require.Empty(t, keysA)
	scope, err := b.svc.AuthenticateAPIKey(ctx, keyB)
	require.NoError(t, err, "B's key still works")
	require.Equal(t, ownerB.OrgID, scope.OrgID)
}

// lastUsed reads the key's last_used_at straight from the database.
func (b *bundle) lastUsed(t *testing.T, orgID, id string) *time.Time {
	t.Helper()
	var at *time.Time
	err := postgres.InOrgTx(context.Background(), b.db.Runtime, orgID, func(tx pgx.Tx) error {
		return tx.QueryRow(context.Background(), `SELECT last_used_at FROM api_keys WHERE id = $1`, id).Scan(&at)
	})
	require.NoError(t, err)
	return at
}

func TestAPIKeyLastUsedAtMostOnceAMinute(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	owner, o := b.org(t, "Acme")
	k, key, err := b.svc.CreateAPIKey(ctx, owner, "CI", gw.RoleViewer)
	require.NoError(t, err)
	require.Nil(t, b.lastUsed(t, o.ID, k.ID))

	start := b.clock.Now()
	_, err = b.svc.AuthenticateAPIKey(ctx, key)
	require.NoError(t, err)
	require.WithinDuration(t, start, *b.lastUsed(t, o.ID, k.ID), 0)

	b.clock.Advance(30 * time.Second) // past the cache, within the minute
	_, err = b.svc.AuthenticateAPIKey(ctx, key)
	require.NoError(t, err)
	require.WithinDuration(t, start, *b.lastUsed(t, o.ID, k.ID), 0)

	b.clock.Advance(31 * time.Second)
	_, err = b.svc.AuthenticateAPIKey(ctx, key)
	require.NoError(t, err)
	require.WithinDuration(t, start.Add(61*time.Second), *b.lastUsed(t, o.ID, k.ID), 0)
}

func TestAPIKeyCache(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	owner, o := b.org(t, "Acme")
	k, key, err := b.svc.CreateAPIKey(ctx, owner, "CI", gw.RoleMember)
	require.NoError(t, err)
	_, err = b.svc.AuthenticateAPIKey(ctx, key)
	require.NoError(t, err)

	// Revoked behind this process's back (another instance): the cache
	// answers until its TTL runs out.
	err = postgres.InOrgTx(ctx, b.db.Runtime, o.ID, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `UPDATE api_keys SET revoked_at = now() WHERE id = $1`, k.ID)
		return err
	})
	require.NoError(t, err)
	_, err = b.svc.AuthenticateAPIKey(ctx, key)
	require.NoError(t, err, "served from the cache")
	b.clock.Advance(DefaultAPIKeyCacheTTL)
	_, err = b.svc.AuthenticateAPIKey(ctx, key)
	gwtest.RequireCode(t, gw.EUNAUTHORIZED, err)

	// Revoked through this process: at once.
	k2, key2, err := b.svc.CreateAPIKey(ctx, owner, "CI 2", gw.RoleMember)
	require.NoError(t, err)
	_, err = b.svc.AuthenticateAPIKey(ctx, key2)
	require.NoError(t, err)
	require.NoError(t, b.svc.RevokeAPIKey(ctx, owner, k2.ID))
	_, err = b.svc.AuthenticateAPIKey(ctx, key2)
	gwtest.RequireCode(t, gw.EUNAUTHORIZED, err)
}

func TestKeyCacheRace(t *testing.T) {
	t.Parallel()
	now := time.Now()
	c := newKeyCache(time.Minute)
	h := [32]byte{1}
	s := gw.Scope{Actor: gw.Actor{APIKeyID: "k"}, OrgID: "o", Role: gw.RoleViewer}

	// A lookup that started before a revocation must not cache its result.
	gen := c.generation()
	c.forget(func(x gw.Scope) bool { return x.APIKeyID == "k" })
	c.put(h, s, now, gen)
	_, ok := c.get(h, now)
	require.False(t, ok)

	c.put(h, s, now, c.generation())
	got, ok := c.get(h, now)
	require.True(t, ok)
	require.Equal(t, s, got)
	_, ok = c.get(h, now.Add(time.Minute))
	require.False(t, ok, "expired")

	// Concurrent use is safe (run with -race).
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for j := range 200 {
				k := [32]byte{byte(i), byte(j)}
				c.put(k, s, now, c.generation())
				c.get(k, now)
				if j%50 == 0 {
					c.forget(func(gw.Scope) bool { return false })
				}
			}
		})
	}
	wg.Wait()

	off := newKeyCache(-1)
	off.put(h, s, now, off.generation())
	_, ok = off.get(h, now)
	require.False(t, ok, "a negative TTL disables the cache")
}

// The hot paths of every request: resolving a member's organisation and
// authenticating an API key, each about one round trip (the performance budget in docs/architecture.md).
func BenchmarkHotPaths(b *testing.B) {
	w := setup(b)
	ctx := context.Background()
	owner, o := w.org(b, "Acme")
	_, key, err := w.svc.CreateAPIKey(ctx, owner, "CI", gw.RoleMember)
	require.NoError(b, err)

	b.Run("MemberScope", func(b *testing.B) {
		for b.Loop() {
			if _, _, err := w.svc.MemberScope(ctx, owner.UserID, o.Slug); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("AuthenticateAPIKey/cached", func(b *testing.B) {
		for b.Loop() {
			if _, err := w.svc.AuthenticateAPIKey(ctx, key); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("AuthenticateAPIKey/uncached", func(b *testing.B) {
		w.svc.keys.ttl = -1
		defer func() { w.svc.keys.ttl = DefaultAPIKeyCacheTTL }()
		for b.Loop() {
			if _, err := w.svc.AuthenticateAPIKey(ctx, key); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("raw SELECT for comparison", func(b *testing.B) {
		for b.Loop() {
			var n int
			if err := w.db.Runtime.QueryRow(ctx, `SELECT 1`).Scan(&n); err != nil {
				b.Fatal(err)
			}
		}
	})
}
