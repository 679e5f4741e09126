package account_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/groundwork-dev/groundwork/internal/gw"
	"github.com/groundwork-dev/groundwork/internal/gwtest"
	"github.com/groundwork-dev/groundwork/internal/mailtest"
)

func TestEmailChangeFlow(t *testing.T) {
	t.Parallel()
	b := setup(t)
	u := b.verifiedUser(t, "old@example.com")

	err := b.svc.RequestEmailChange(b.ctx, u.ID, "wrong password!", "new@example.com")
	e := gwtest.RequireCode(t, gw.EINVALID, err)
	require.Equal(t, map[string]string{"password": "The password is not correct."}, e.Fields)
	err = b.svc.RequestEmailChange(b.ctx, u.ID, goodPassword, "OLD@example.com")
	e = gwtest.RequireCode(t, gw.EINVALID, err)
	require.Equal(t, map[string]string{"email": "That is already your email address."}, e.Fields)
	err = b.svc.RequestEmailChange(b.ctx, u.ID, goodPassword, "not an email")
	gwtest.RequireCode(t, gw.EINVALID, err)
	require.Empty(t, b.mail.Messages())

	// A reset link sent to the old address must not outlive the change.
	require.NoError(t, b.svc.RequestPasswordReset(b.ctx, "old@example.com"))
	resetToken := b.linkToken(t, "old@example.com", "Reset your password", "/reset-password")

	require.NoError(t, b.svc.RequestEmailChange(b.ctx, u.ID, goodPassword, "New@Example.com"))
	notice := b.mail.WaitFor(t, "old@example.com", "Your email address is being changed")
	require.Contains(t, notice.Text, "new@example.com")
	token := b.linkToken(t, "new@example.com", "Confirm your new email address", "/confirm-email")

	got, err := b.svc.ConfirmEmailChange(b.ctx, token)
	require.NoError(t, err)
	require.Equal(t, u.ID, got.ID)
	require.Equal(t, "new@example.com", got.Email)
	require.True(t, got.EmailVerified)

	_, err = b.svc.Authenticate(b.ctx, "new@example.com", goodPassword)
	require.NoError(t, err)
	_, err = b.svc.Authenticate(b.ctx, "old@example.com", goodPassword)
	gwtest.RequireCode(t, gw.EUNAUTHORIZED, err)
	_, err = b.svc.ConfirmEmailChange(b.ctx, token)
	requireInvalidLink(t, err)
	_, err = b.svc.ResetPassword(b.ctx, resetToken, "a brand new passphrase")
	requireInvalidLink(t, err)
}

func TestEmailChangeToATakenAddress(t *testing.T) {
	t.Parallel()
	b := setup(t)
	u := b.verifiedUser(t, "first@example.com")
	b.verifiedUser(t, "taken@example.com")

	// Taken already: the caller learns nothing, the owner gets a notice.
	require.NoError(t, b.svc.RequestEmailChange(b.ctx, u.ID, goodPassword, "taken@example.com"))
	msg := b.mail.WaitFor(t, "taken@example.com", "Someone tried to move an account")
	require.Empty(t, mailtest.FirstLink(msg.Text))
	b.mail.WaitFor(t, "first@example.com", "Your email address is being changed")

	// Taken meanwhile: confirming is a conflict.
	require.NoError(t, b.svc.RequestEmailChange(b.ctx, u.ID, goodPassword, "later@example.com"))
	token := b.linkToken(t, "later@example.com", "Confirm your new email address", "/confirm-email")
	b.verifiedUser(t, "Later@example.com")
	_, err := b.svc.ConfirmEmailChange(b.ctx, token)
	e := gwtest.RequireCode(t, gw.ECONFLICT, err)
	require.Equal(t, "The email address later@example.com is now used by another account.", e.Message)

	got, err := b.svc.User(b.ctx, u.ID)
	require.NoError(t, err)
	require.Equal(t, "first@example.com", got.Email)
}
