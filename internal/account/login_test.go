package account_test

import (
	"strings"
	"testing"

	"github.com/alexedwards/argon2id"
	"github.com/stretchr/testify/require"

	"github.com/groundwork-dev/groundwork/internal/gw"
	"github.com/groundwork-dev/groundwork/internal/gwtest"
)

func TestWrongPasswordAndUnknownEmailLookAlike(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.verifiedUser(t, "alan@example.com")

	_, wrongPassword := b.svc.Authenticate(b.ctx, "alan@example.com", "not the password")
	_, unknownEmail := b.svc.Authenticate(b.ctx, "nobody@example.com", goodPassword)
	_, malformed := b.svc.Authenticate(b.ctx, "not an email", goodPassword)
	for _, err := range []error{wrongPassword, unknownEmail, malformed} {
		e := gwtest.RequireCode(t, gw.EUNAUTHORIZED, err)
		require.Equal(t, &gw.Error{Code: gw.EUNAUTHORIZED, Message: "Invalid email or password."}, e)
	}
}

func TestDisabledUserIsRefused(t *testing.T) {
	t.Parallel()
	b := setup(t)
	u := b.verifiedUser(t, "mallory@example.com")
	b.addSession(t, u.ID, "tok-1", b.clock.Now().Add(hour))
	b.addSession(t, u.ID, "tok-2", b.clock.Now().Add(hour))

	require.NoError(t, b.svc.DisableUser(b.ctx, u.ID))
	require.NoError(t, b.svc.DisableUser(b.ctx, u.ID), "disabling twice is fine")
	gwtest.RequireCode(t, gw.ENOTFOUND, b.svc.DisableUser(b.ctx, gw.NewID()))
	gwtest.RequireCode(t, gw.ENOTFOUND, b.svc.DisableUser(b.ctx, "nope"))

	require.Zero(t, b.storedSessions(t, "tok-1", "tok-2"), "every session is signed out")
	got, err := b.svc.User(b.ctx, u.ID)
	require.NoError(t, err)
	require.True(t, got.Disabled)

	_, err = b.svc.Authenticate(b.ctx, "mallory@example.com", goodPassword)
	e := gwtest.RequireCode(t, gw.EFORBIDDEN, err)
	require.Equal(t, "This account is disabled.", e.Message)
	_, err = b.svc.Authenticate(b.ctx, "mallory@example.com", "wrong password!")
	gwtest.RequireCode(t, gw.EUNAUTHORIZED, err) // the state shows only to who knows the password
}

func TestSignInUpgradesOldPasswordHashes(t *testing.T) {
	t.Parallel()
	b := setup(t)
	u := b.verifiedUser(t, "legacy@example.com")
	old, err := argon2id.CreateHash(goodPassword, &argon2id.Params{Memory: 8 * 1024, Iterations: 1, Parallelism: 2, SaltLength: 16, KeyLength: 32})
	require.NoError(t, err)
	_, err = b.db.Runtime.Exec(b.ctx, `UPDATE users SET password_hash = $2 WHERE id = $1`, u.ID, old)
	require.NoError(t, err)
	storedHash := func() string {
		var h string
		require.NoError(t, b.db.Runtime.QueryRow(b.ctx, `SELECT password_hash FROM users WHERE id = $1`, u.ID).Scan(&h))
		return h
	}

	_, err = b.svc.Authenticate(b.ctx, "legacy@example.com", "wrong password!")
	gwtest.RequireCode(t, gw.EUNAUTHORIZED, err)
	require.Equal(t, old, storedHash(), "a failed sign-in changes nothing")

	_, err = b.svc.Authenticate(b.ctx, "legacy@example.com", goodPassword)
	require.NoError(t, err)
	upgraded := storedHash()
	require.True(t, strings.HasPrefix(upgraded, "$argon2id$v=19$m=19456,t=2,p=1$"), upgraded)
	params, salt, key, err := argon2id.DecodeHash(upgraded)
	require.NoError(t, err)
	require.Len(t, salt, 16)
	require.Len(t, key, 32)
	require.EqualValues(t, 19456, params.Memory)

	_, err = b.svc.Authenticate(b.ctx, "legacy@example.com", goodPassword)
	require.NoError(t, err)
	require.Equal(t, upgraded, storedHash(), "a current hash is left alone")
}
