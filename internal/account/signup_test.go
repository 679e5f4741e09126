package account_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/groundwork-dev/groundwork/internal/gw"
	"github.com/groundwork-dev/groundwork/internal/gwtest"
)

func TestSignUpVerifyThenAuthenticate(t *testing.T) {
	t.Parallel()
	b := setup(t)

	u, err := b.svc.SignUp(b.ctx, "  Ada@Example.COM ", goodPassword)
	require.NoError(t, err)
	require.Equal(t, "ada@example.com", u.Email)
	require.False(t, u.EmailVerified)

	_, err = b.svc.Authenticate(b.ctx, "ada@example.com", goodPassword)
	e := gwtest.RequireCode(t, gw.EFORBIDDEN, err)
	require.Equal(t, "Verify your email address first; we sent you a link.", e.Message)

	token := b.linkToken(t, "ada@example.com", "Verify your email address", "/verify-email")
	verified, err := b.svc.VerifyEmail(b.ctx, token)
	require.NoError(t, err)
	require.Equal(t, u.ID, verified.ID)
	require.True(t, verified.EmailVerified)

	got, err := b.svc.Authenticate(b.ctx, "ADA@example.com", goodPassword)
	require.NoError(t, err)
	require.Equal(t, u.ID, got.ID)
	require.True(t, got.EmailVerified)
	require.False(t, got.TwoFactor)

	byEmail, err := b.svc.UserByEmail(b.ctx, "Ada@example.com")
	require.NoError(t, err)
	require.Equal(t, got, byEmail)

	_, err = b.svc.VerifyEmail(b.ctx, token)
	requireInvalidLink(t, err)
}

func TestSignUpWithTakenAddressRevealsNothing(t *testing.T) {
	t.Parallel()
	b := setup(t)
	existing := b.verifiedUser(t, "grace@example.com")

	fresh, err := b.svc.SignUp(b.ctx, "newbie@example.com", goodPassword)
	require.NoError(t, err)
	dup, err := b.svc.SignUp(b.ctx, "Grace@Example.com", "another fine passphrase")
	require.NoError(t, err, "same success as for a new address")

	require.NotEqual(t, existing.ID, dup.ID, "the existing account's ID is not revealed")
	require.Equal(t, "grace@example.com", dup.Email)
	require.Equal(t, fresh.EmailVerified, dup.EmailVerified)
	require.Equal(t, fresh.TwoFactor, dup.TwoFactor)
	require.Equal(t, fresh.Disabled, dup.Disabled)

	msg := b.mail.WaitFor(t, "grace@example.com", "Someone tried to sign up")
	require.Contains(t, msg.Text, baseURL+"/login")
	require.Contains(t, msg.Text, baseURL+"/forgot-password")
	require.NotContains(t, msg.Text, "token=")
	require.Equal(t, 1, b.messagesTo("grace@example.com"), "no verification email for the taken address")

	_, err = b.svc.Authenticate(b.ctx, "grace@example.com", goodPassword)
	require.NoError(t, err, "the account is unchanged")
	_, err = b.svc.Authenticate(b.ctx, "grace@example.com", "another fine passphrase")
	gwtest.RequireCode(t, gw.EUNAUTHORIZED, err)
	_, err = b.svc.User(b.ctx, dup.ID)
	gwtest.RequireCode(t, gw.ENOTFOUND, err)
}

func TestSignUpRejectsBadInput(t *testing.T) {
	t.Parallel()
	b := setup(t)
	tests := []struct {
		name, email, password string
		fields                map[string]string
	}{
		{"empty email", "", goodPassword, map[string]string{"email": "Enter your email address."}},
		{"not an email", "ada.example.com", goodPassword, map[string]string{"email": "Enter a valid email address, like name@example.com."}},
		{"display name", "Ada <ada@example.com>", goodPassword, map[string]string{"email": "Enter a valid email address, like name@example.com."}},
		{"no dotted domain", "ada@localhost", goodPassword, map[string]string{"email": "Enter a valid email address, like name@example.com."}},
		{"header injection", "ada@example.com\r\nBcc: eve@example.com", goodPassword, map[string]string{"email": "Enter a valid email address, like name@example.com."}},
		{"too long email", strings.Repeat("a", 60) + "@" + strings.Repeat("b", 190) + ".com", goodPassword, map[string]string{"email": "Use an email address of at most 254 characters."}},
		{"short password", "ada@example.com", "Xy7!q2", map[string]string{"password": "Use at least 8 characters."}},
		{"long password", "ada@example.com", strings.Repeat("x", 257), map[string]string{"password": "Use at most 256 characters."}},
		{"common password", "ada@example.com", "sunshine", map[string]string{"password": "This password is too common. Choose one that is harder to guess."}},
		{"common password in capitals", "ada@example.com", "TrustNo1", map[string]string{"password": "This password is too common. Choose one that is harder to guess."}},
		{"contains the email's local part", "margaret@example.com", "Margaret-in-2024", map[string]string{"password": `Your password must not contain "margaret", the part of your email address before the @.`}},
		{"says which part of the email it contains", "bob@example.com", "Bobs very own pass 7", map[string]string{"password": `Your password must not contain "bob", the part of your email address before the @.`}},
		{"contains the whole email", "zed@example.com", "my zed@example.com pw", map[string]string{"password": "Your password must not contain your email address."}},
		{"both wrong", "nope", "short", map[string]string{"email": "Enter a valid email address, like name@example.com.", "password": "Use at least 8 characters."}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := b.svc.SignUp(b.ctx, tt.email, tt.password)
			e := gwtest.RequireCode(t, gw.EINVALID, err)
			require.Equal(t, tt.fields, e.Fields)
			for _, msg := range tt.fields {
				require.Contains(t, e.Message, msg)
			}
		})
	}
	require.Empty(t, b.mail.Messages())

	// The limits themselves are fine.
	_, err := b.svc.SignUp(b.ctx, "eight@example.com", "Xy7!q2zK")
	require.NoError(t, err)
	_, err = b.svc.SignUp(b.ctx, "long@example.com", strings.Repeat("é", 256))
	require.NoError(t, err, "256 characters, though 512 bytes")
}

func TestVerificationTokensExpireAndResend(t *testing.T) {
	t.Parallel()
	b := setup(t)
	_, err := b.svc.SignUp(b.ctx, "linus@example.com", goodPassword)
	require.NoError(t, err)
	first := b.linkToken(t, "linus@example.com", "Verify your email address", "/verify-email")

	b.clock.Advance(48*time.Hour + time.Second)
	_, err = b.svc.VerifyEmail(b.ctx, first)
	requireInvalidLink(t, err)

	require.NoError(t, b.svc.ResendVerification(b.ctx, "Linus@example.com"))
	second := b.linkToken(t, "linus@example.com", "Verify your email address", "/verify-email")
	require.NotEqual(t, first, second)
	u, err := b.svc.VerifyEmail(b.ctx, second)
	require.NoError(t, err)
	require.True(t, u.EmailVerified)
	_, err = b.svc.VerifyEmail(b.ctx, second)
	requireInvalidLink(t, err)

	for _, bad := range []string{"", "nonsense", strings.Repeat("A", 43), second + "x"} {
		_, err = b.svc.VerifyEmail(b.ctx, bad)
		requireInvalidLink(t, err)
	}

	sent := len(b.mail.Messages())
	require.NoError(t, b.svc.ResendVerification(b.ctx, "linus@example.com"), "already verified: silent")
	require.NoError(t, b.svc.ResendVerification(b.ctx, "nobody@example.com"), "unknown: silent")
	require.NoError(t, b.svc.ResendVerification(b.ctx, "not an email"))
	require.Len(t, b.mail.Messages(), sent, "nothing sent")
}

func TestCreateVerifiedUserAndLookups(t *testing.T) {
	t.Parallel()
	b := setup(t)
	u := b.verifiedUser(t, "Admin@Example.com")
	require.Equal(t, "admin@example.com", u.Email)
	require.True(t, u.EmailVerified)

	_, err := b.svc.CreateVerifiedUser(b.ctx, "ADMIN@example.com", goodPassword)
	gwtest.RequireCode(t, gw.ECONFLICT, err)
	_, err = b.svc.CreateVerifiedUser(b.ctx, "other@example.com", "password")
	e := gwtest.RequireCode(t, gw.EINVALID, err)
	require.Contains(t, e.Fields, "password")

	got, err := b.svc.User(b.ctx, u.ID)
	require.NoError(t, err)
	require.Equal(t, u.ID, got.ID)
	require.True(t, got.CreatedAt.Equal(u.CreatedAt))

	for _, id := range []string{gw.NewID(), "not-a-uuid", ""} {
		_, err = b.svc.User(b.ctx, id)
		gwtest.RequireCode(t, gw.ENOTFOUND, err)
	}
	_, err = b.svc.UserByEmail(b.ctx, "nobody@example.com")
	gwtest.RequireCode(t, gw.ENOTFOUND, err)

	_, err = b.svc.Authenticate(b.ctx, "admin@example.com", goodPassword)
	require.NoError(t, err)
	require.Empty(t, b.mail.Messages(), "the admin path sends no email")
}
