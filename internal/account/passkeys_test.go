package account_test

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/groundwork-dev/groundwork/internal/account"
	"github.com/groundwork-dev/groundwork/internal/gw"
)

func TestNewPasskeysNeedsADomain(t *testing.T) {
	t.Parallel()
	for _, base := range []string{"http://127.0.0.1:8080", "http://[::1]:8080", "ftp://app.example.com", "app.example.com", ""} {
		_, err := account.NewPasskeys(nil, base, "Groundwork")
		require.Error(t, err, base)
	}
	_, err := account.NewPasskeys(nil, "http://localhost:8080", "Groundwork")
	require.NoError(t, err)
}

// addPasskeyDirect stores a passkey of userID in the database.
func (b *bundle) addPasskeyDirect(t *testing.T, userID, name string) string {
	t.Helper()
	id := gw.NewID()
	_, err := b.db.Owner.Exec(b.ctx, `INSERT INTO webauthn_credentials (id, user_id, credential_id, public_key, name, created_at)
		VALUES ($1, $2, $3, $4, $5, now())`, id, userID, []byte(id), []byte{0xa0}, name)
	require.NoError(t, err)
	return id
}

func TestPasskeyCeremonies(t *testing.T) {
	t.Parallel()
	b := setup(t)
	pk, err := account.NewPasskeys(b.svc, baseURL, "Groundwork")
	require.NoError(t, err)
	v := b.verifiedUser(t, "victor@example.com")
	w := b.verifiedUser(t, "wendy@example.com")

	options, state, err := pk.BeginRegistration(b.ctx, v.ID)
	require.NoError(t, err)
	var creation struct {
		PublicKey struct {
			RP   struct{ ID string }
			User struct {
				Name string
			}
			AuthenticatorSelection struct {
				ResidentKey      string
				UserVerification string
			}
		}
	}
	require.NoError(t, json.Unmarshal(options, &creation))
	require.Equal(t, "app.example.com", creation.PublicKey.RP.ID)
	require.Equal(t, v.Email, creation.PublicKey.User.Name)
	require.Equal(t, "required", creation.PublicKey.AuthenticatorSelection.ResidentKey)
	require.Equal(t, "required", creation.PublicKey.AuthenticatorSelection.UserVerification)

	// A name is required; the state belongs to its user and its kind.
	_, err = pk.FinishRegistration(b.ctx, v.ID, state, "  ", []byte("{}"))
	requireFieldError(t, err, "passkey_name")
	_, err = pk.FinishRegistration(b.ctx, w.ID, state, "Laptop", []byte("{}"))
	require.Equal(t, gw.EINVALID, gw.ErrorCode(err))
	_, signInState, err := pk.BeginSignIn(b.ctx)
	require.NoError(t, err)
	_, err = pk.FinishRegistration(b.ctx, v.ID, signInState, "Laptop", []byte("{}"))
	require.Equal(t, gw.EINVALID, gw.ErrorCode(err))
	_, err = pk.FinishSignIn(b.ctx, state, []byte("{}"))
	require.Equal(t, gw.EINVALID, gw.ErrorCode(err))
	_, err = pk.FinishSignIn(b.ctx, signInState, []byte("not json"))
	require.Equal(t, gw.EUNAUTHORIZED, gw.ErrorCode(err))
	_, err = pk.FinishRegistration(b.ctx, v.ID, state, "Laptop", []byte("not json"))
	require.Equal(t, gw.EINVALID, gw.ErrorCode(err))

	// Second factor: only for a user with passkeys.
	_, _, err = pk.BeginSecondFactor(b.ctx, v.ID)
	require.Equal(t, gw.ENOTFOUND, gw.ErrorCode(err))
	id := b.addPasskeyDirect(t, v.ID, "Laptop")
	_, sfState, err := pk.BeginSecondFactor(b.ctx, v.ID)
	require.NoError(t, err)
	require.Equal(t, gw.EINVALID, gw.ErrorCode(pk.VerifySecondFactor(b.ctx, w.ID, sfState, []byte("{}"))), "another user's state")

	// Rename and remove: only the owner's, removal with the password.
	require.Equal(t, gw.ENOTFOUND, gw.ErrorCode(pk.Rename(b.ctx, w.ID, id, "Mine")))
	requireFieldError(t, pk.Rename(b.ctx, v.ID, id, ""), "passkey_name")
	require.NoError(t, pk.Rename(b.ctx, v.ID, id, "Work laptop"))
	require.Equal(t, gw.ENOTFOUND, gw.ErrorCode(pk.Remove(b.ctx, w.ID, id, goodPassword)))
	requireFieldError(t, pk.Remove(b.ctx, v.ID, id, "wrong password"), "password")
	list, err := pk.List(b.ctx, v.ID)
	require.NoError(t, err)
	require.Len(t, list, 1)
	require.Equal(t, "Work laptop", list[0].Name)
	require.NoError(t, pk.Remove(b.ctx, v.ID, id, goodPassword))
	list, err = pk.List(b.ctx, v.ID)
	require.NoError(t, err)
	require.Empty(t, list)
	require.Contains(t, b.actions(t, v.ID), "user.passkey_removed")
}

// TestUnlinkIdentityKeepsAPasskey: a passkey is a way to sign in, so an
// account without a password may unlink its last identity while it has
// one; and it cannot remove passkeys until it sets a password.
func TestUnlinkIdentityKeepsAPasskey(t *testing.T) {
	t.Parallel()
	b := setup(t)
	pk, err := account.NewPasskeys(b.svc, baseURL, "Groundwork")
	require.NoError(t, err)
	res, err := b.svc.SignInWithIdentity(b.ctx, account.ExternalIdentity{Provider: "idp", Subject: "s-pat", Email: "pat@example.com", EmailVerified: true})
	require.NoError(t, err)
	require.True(t, res.Created)
	ids, err := b.svc.Identities(b.ctx, res.User.ID)
	require.NoError(t, err)
	require.Equal(t, gw.ECONFLICT, gw.ErrorCode(b.svc.UnlinkIdentity(b.ctx, res.User.ID, ids[0].ID)), "the only way in")
	passkey := b.addPasskeyDirect(t, res.User.ID, "Phone")
	require.NoError(t, b.svc.UnlinkIdentity(b.ctx, res.User.ID, ids[0].ID))
	requireFieldError(t, pk.Remove(b.ctx, res.User.ID, passkey, ""), "password")
}

// requireFieldError requires err to be EINVALID with a message on field.
func requireFieldError(t *testing.T, err error, field string) {
	t.Helper()
	require.Equal(t, gw.EINVALID, gw.ErrorCode(err), "%v", err)
	e, ok := err.(*gw.Error)
	require.True(t, ok, "%T", err)
	require.NotEmpty(t, e.Fields[field], "fields %v", e.Fields)
}
