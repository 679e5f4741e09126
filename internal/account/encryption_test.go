package account_test

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/groundwork-dev/groundwork/internal/crypto"
	"github.com/groundwork-dev/groundwork/internal/gw"
)

func (b *bundle) storedSecret(t *testing.T, userID string) []byte {
	t.Helper()
	var enc []byte
	require.NoError(t, b.db.Runtime.QueryRow(b.ctx, `SELECT totp_secret_enc FROM users WHERE id = $1`, userID).Scan(&enc))
	return enc
}

func TestTOTPSecretIsStoredEncrypted(t *testing.T) {
	t.Parallel()
	b := setup(t)
	u := b.verifiedUser(t, "ada@example.com")
	secret, _ := b.enableTwoFactor(t, u)

	enc := b.storedSecret(t, u.ID)
	require.True(t, bytes.HasPrefix(enc, b.keys.PrimaryCiphertextPrefix()), "a Tink ciphertext under the primary key")
	require.NotContains(t, string(enc), secret)
	plain, err := b.keys.Decrypt(enc, crypto.NewAD("users", "totp_secret", u.ID))
	require.NoError(t, err)
	require.Equal(t, secret, plain, "bound to users|totp_secret|<user_id>")

	// Turning two-factor off forgets the secret.
	require.NoError(t, b.svc.DisableTwoFactor(b.ctx, u.ID, goodPassword))
	require.Nil(t, b.storedSecret(t, u.ID))
}

// TestTOTPSecretBoundToItsUser copies one user's encrypted secret to
// another, as someone with write access to the database might, to sign in
// as them with codes from their own authenticator: it does not decrypt.
func TestTOTPSecretBoundToItsUser(t *testing.T) {
	t.Parallel()
	b := setup(t)
	eve := b.verifiedUser(t, "eve@example.com")
	eveSecret, _ := b.enableTwoFactor(t, eve)
	ada := b.verifiedUser(t, "ada@example.com")
	b.enableTwoFactor(t, ada)

	_, err := b.db.Owner.Exec(b.ctx, `UPDATE users SET totp_secret_enc = $2 WHERE id = $1`, ada.ID, b.storedSecret(t, eve.ID))
	require.NoError(t, err)
	b.clock.Advance(hour)
	err = b.svc.VerifySecondFactor(b.ctx, ada.ID, code(t, eveSecret, b.clock.Now()))
	require.Equal(t, gw.EINTERNAL, gw.ErrorCode(err))
	require.ErrorContains(t, err, "decrypt users|totp_secret|"+ada.ID+": decryption failed with key id")
	require.NoError(t, b.svc.VerifySecondFactor(b.ctx, eve.ID, code(t, eveSecret, b.clock.Now())), "the original still works")
}
