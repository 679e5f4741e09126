package account_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/groundwork-dev/groundwork/internal/gw"
	"github.com/groundwork-dev/groundwork/internal/gwtest"
)

func TestPasswordResetFlowSignsOutEverywhere(t *testing.T) {
	t.Parallel()
	b := setup(t)
	u, err := b.svc.SignUp(b.ctx, "rosa@example.com", goodPassword)
	require.NoError(t, err) // unverified: the reset link proves the address too
	b.addSession(t, u.ID, "laptop", b.clock.Now().Add(hour))
	b.addSession(t, u.ID, "phone", b.clock.Now().Add(hour))

	require.NoError(t, b.svc.RequestPasswordReset(b.ctx, "nobody@example.com"))
	require.NoError(t, b.svc.RequestPasswordReset(b.ctx, "not an email"))
	require.Equal(t, 0, b.messagesTo("nobody@example.com"))

	require.NoError(t, b.svc.RequestPasswordReset(b.ctx, "Rosa@example.com"))
	first := b.linkToken(t, "rosa@example.com", "Reset your password", "/reset-password")
	require.NoError(t, b.svc.RequestPasswordReset(b.ctx, "rosa@example.com"))
	token := b.linkToken(t, "rosa@example.com", "Reset your password", "/reset-password")
	_, err = b.svc.ResetPassword(b.ctx, first, "a brand new passphrase")
	requireInvalidLink(t, err) // a newer link replaces older ones

	_, err = b.svc.ResetPassword(b.ctx, token, "baseball")
	e := gwtest.RequireCode(t, gw.EINVALID, err)
	require.Equal(t, map[string]string{"password": "This password is too common. Choose one that is harder to guess."}, e.Fields)

	got, err := b.svc.ResetPassword(b.ctx, token, "a brand new passphrase")
	require.NoError(t, err, "a weak password did not use up the link")
	require.Equal(t, u.ID, got.ID)
	require.True(t, got.EmailVerified)

	require.Zero(t, b.storedSessions(t, "laptop", "phone"))
	sessions, err := b.svc.Sessions(b.ctx, u.ID)
	require.NoError(t, err)
	require.Empty(t, sessions)

	_, err = b.svc.Authenticate(b.ctx, "rosa@example.com", goodPassword)
	gwtest.RequireCode(t, gw.EUNAUTHORIZED, err)
	_, err = b.svc.Authenticate(b.ctx, "rosa@example.com", "a brand new passphrase")
	require.NoError(t, err)

	_, err = b.svc.ResetPassword(b.ctx, token, "yet another passphrase")
	requireInvalidLink(t, err)
}

func TestPasswordResetLinkExpiresAfterAnHour(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.verifiedUser(t, "kurt@example.com")
	require.NoError(t, b.svc.RequestPasswordReset(b.ctx, "kurt@example.com"))
	token := b.linkToken(t, "kurt@example.com", "Reset your password", "/reset-password")
	b.clock.Advance(time.Hour + time.Second)
	_, err := b.svc.ResetPassword(b.ctx, token, "a brand new passphrase")
	requireInvalidLink(t, err)
	_, err = b.svc.ResetPassword(b.ctx, "garbage", "a brand new passphrase")
	requireInvalidLink(t, err)
}

func TestChangePasswordSignsOutEverywhere(t *testing.T) {
	t.Parallel()
	b := setup(t)
	u := b.verifiedUser(t, "emmy@example.com")
	b.addSession(t, u.ID, "here", b.clock.Now().Add(hour))
	b.addSession(t, u.ID, "elsewhere", b.clock.Now().Add(hour))

	err := b.svc.ChangePassword(b.ctx, u.ID, "wrong current pw", "a brand new passphrase")
	e := gwtest.RequireCode(t, gw.EINVALID, err)
	require.Equal(t, map[string]string{"current_password": "Your current password is not correct."}, e.Fields)
	err = b.svc.ChangePassword(b.ctx, u.ID, goodPassword, "emmy-rocks-2024") // gitleaks:allow (test fixture)
	e = gwtest.RequireCode(t, gw.EINVALID, err)
	require.Equal(t, map[string]string{"new_password": `Your password must not contain "emmy", the part of your email address before the @.`}, e.Fields)
	gwtest.RequireCode(t, gw.ENOTFOUND, b.svc.ChangePassword(b.ctx, gw.NewID(), goodPassword, "a brand new passphrase"))
	require.Equal(t, 2, b.storedSessions(t, "here", "elsewhere"), "failed attempts sign nobody out")

	require.NoError(t, b.svc.ChangePassword(b.ctx, u.ID, goodPassword, "a brand new passphrase"))
	require.Zero(t, b.storedSessions(t, "here", "elsewhere"))
	sessions, err := b.svc.Sessions(b.ctx, u.ID)
	require.NoError(t, err)
	require.Empty(t, sessions)
	require.Equal(t, b.mail.WaitFor(t, "emmy@example.com", "Your password was changed").To, []string{"emmy@example.com"})

	_, err = b.svc.Authenticate(b.ctx, "emmy@example.com", "a brand new passphrase")
	require.NoError(t, err)
}
