package account_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/groundwork-dev/groundwork/internal/account"
	"github.com/groundwork-dev/groundwork/internal/audit"
	"github.com/groundwork-dev/groundwork/internal/gw"
)

func TestSignInWithIdentity(t *testing.T) {
	t.Parallel()
	b := setup(t)
	alice := account.ExternalIdentity{Provider: "idp", Subject: "sub-1", Email: "Alice@Example.com", EmailVerified: true}

	// An unknown identity with a new verified address: a new account,
	// verified, without a password, the identity linked.
	res, err := b.svc.SignInWithIdentity(b.ctx, alice)
	require.NoError(t, err)
	require.True(t, res.Created)
	require.Empty(t, res.LinkTo)
	require.Equal(t, "alice@example.com", res.User.Email)
	require.True(t, res.User.EmailVerified)
	has, err := b.svc.HasPassword(b.ctx, res.User.ID)
	require.NoError(t, err)
	require.False(t, has)
	_, err = b.svc.Authenticate(b.ctx, "alice@example.com", "")
	require.Equal(t, gw.EUNAUTHORIZED, gw.ErrorCode(err), "no password matches an account without one")
	require.Equal(t, []string{audit.ActionIdentityLinked}, b.actions(t, res.User.ID))

	// The same identity again: the same account, whatever its address now.
	again, err := b.svc.SignInWithIdentity(b.ctx, account.ExternalIdentity{Provider: "idp", Subject: "sub-1", Email: "new@example.com"})
	require.NoError(t, err)
	require.False(t, again.Created)
	require.Equal(t, res.User.ID, again.User.ID)
	ids, err := b.svc.Identities(b.ctx, res.User.ID)
	require.NoError(t, err)
	require.Len(t, ids, 1)
	require.Equal(t, "sub-1", ids[0].Subject)
	require.NotNil(t, ids[0].LastUsedAt)

	// A new identity whose verified address has an account: nothing linked
	// until the owner confirms.
	v := b.verifiedUser(t, "victor@example.com")
	other := account.ExternalIdentity{Provider: "idp", Subject: "sub-2", Email: "victor@example.com", EmailVerified: true}
	res, err = b.svc.SignInWithIdentity(b.ctx, other)
	require.NoError(t, err)
	require.Equal(t, v.ID, res.LinkTo)
	require.Empty(t, res.User.ID)
	ids, err = b.svc.Identities(b.ctx, v.ID)
	require.NoError(t, err)
	require.Empty(t, ids)

	// An unverified address is never linked nor given an account.
	_, err = b.svc.SignInWithIdentity(b.ctx, account.ExternalIdentity{Provider: "idp", Subject: "sub-3", Email: "victor@example.com"})
	require.Equal(t, gw.EFORBIDDEN, gw.ErrorCode(err))
	_, err = b.svc.SignInWithIdentity(b.ctx, account.ExternalIdentity{Provider: "idp", Subject: "sub-4", Email: "nobody@example.com"})
	require.Equal(t, gw.EFORBIDDEN, gw.ErrorCode(err))
	_, err = b.svc.UserByEmail(b.ctx, "nobody@example.com")
	require.Equal(t, gw.ENOTFOUND, gw.ErrorCode(err))
	_, err = b.svc.SignInWithIdentity(b.ctx, account.ExternalIdentity{Provider: "idp", Subject: "sub-5", EmailVerified: true})
	require.Equal(t, gw.EINVALID, gw.ErrorCode(err))
}

func TestLinkIdentity(t *testing.T) {
	t.Parallel()
	b := setup(t)
	v := b.verifiedUser(t, "victor@example.com")
	id := account.ExternalIdentity{Provider: "idp", Subject: "sub-v", Email: "victor@example.com", EmailVerified: true}

	_, err := b.svc.LinkIdentity(b.ctx, v.ID, "wrong password", id)
	require.Equal(t, gw.EINVALID, gw.ErrorCode(err))
	require.Contains(t, err.(*gw.Error).Fields, "password")

	unverified := id
	unverified.EmailVerified = false
	_, err = b.svc.LinkIdentity(b.ctx, v.ID, goodPassword, unverified)
	require.Equal(t, gw.EFORBIDDEN, gw.ErrorCode(err))
	elsewhere := id
	elsewhere.Email = "someone@example.com"
	_, err = b.svc.LinkIdentity(b.ctx, v.ID, goodPassword, elsewhere)
	require.Equal(t, gw.EFORBIDDEN, gw.ErrorCode(err))

	u, err := b.svc.LinkIdentity(b.ctx, v.ID, goodPassword, id)
	require.NoError(t, err)
	require.Equal(t, v.ID, u.ID)
	res, err := b.svc.SignInWithIdentity(b.ctx, id)
	require.NoError(t, err)
	require.Equal(t, v.ID, res.User.ID)
	require.Equal(t, []string{audit.ActionIdentityLinked}, b.actions(t, v.ID))

	_, err = b.svc.LinkIdentity(b.ctx, v.ID, goodPassword, id)
	require.Equal(t, gw.ECONFLICT, gw.ErrorCode(err), "linked already")
}

func TestUnlinkIdentity(t *testing.T) {
	t.Parallel()
	b := setup(t)
	res, err := b.svc.SignInWithIdentity(b.ctx, account.ExternalIdentity{Provider: "idp", Subject: "s1", Email: "a@example.com", EmailVerified: true})
	require.NoError(t, err)
	userID := res.User.ID
	ids, err := b.svc.Identities(b.ctx, userID)
	require.NoError(t, err)
	first := ids[0].ID

	// The only way to sign in: refused.
	err = b.svc.UnlinkIdentity(b.ctx, userID, first)
	require.Equal(t, gw.ECONFLICT, gw.ErrorCode(err))

	// Another user's identity, or none: not found.
	v := b.verifiedUser(t, "victor@example.com")
	require.Equal(t, gw.ENOTFOUND, gw.ErrorCode(b.svc.UnlinkIdentity(b.ctx, v.ID, first)))
	require.Equal(t, gw.ENOTFOUND, gw.ErrorCode(b.svc.UnlinkIdentity(b.ctx, userID, gw.NewID())))
	require.Equal(t, gw.ENOTFOUND, gw.ErrorCode(b.svc.UnlinkIdentity(b.ctx, userID, "junk")))

	// With a second identity, the first may go; then the second is the last.
	_, err = b.svc.LinkIdentity(b.ctx, userID, "", account.ExternalIdentity{Provider: "other", Subject: "s2", Email: "a@example.com", EmailVerified: true})
	require.Equal(t, gw.EINVALID, gw.ErrorCode(err), "an account without a password cannot confirm with one")
	// (linked here as a second provider's sign-in would be)
	b.linkDirect(t, userID, "other", "s2")
	require.NoError(t, b.svc.UnlinkIdentity(b.ctx, userID, first))
	ids, err = b.svc.Identities(b.ctx, userID)
	require.NoError(t, err)
	require.Len(t, ids, 1)
	require.Equal(t, gw.ECONFLICT, gw.ErrorCode(b.svc.UnlinkIdentity(b.ctx, userID, ids[0].ID)))
	require.Equal(t, []string{audit.ActionIdentityLinked, audit.ActionIdentityUnlinked}, b.actions(t, userID))

	// A user with a password may unlink their last identity.
	id := account.ExternalIdentity{Provider: "idp", Subject: "sv", Email: "victor@example.com", EmailVerified: true}
	_, err = b.svc.LinkIdentity(b.ctx, v.ID, goodPassword, id)
	require.NoError(t, err)
	ids, err = b.svc.Identities(b.ctx, v.ID)
	require.NoError(t, err)
	require.NoError(t, b.svc.UnlinkIdentity(b.ctx, v.ID, ids[0].ID))
}

// linkDirect links an identity to userID in the database.
func (b *bundle) linkDirect(t *testing.T, userID, provider, subject string) {
	t.Helper()
	_, err := b.db.Owner.Exec(b.ctx, `INSERT INTO user_identities (id, user_id, provider, subject, created_at)
		VALUES ($1, $2, $3, $4, now())`, gw.NewID(), userID, provider, subject)
	require.NoError(t, err)
}

func TestLinkIdentitySignedIn(t *testing.T) {
	t.Parallel()
	b := setup(t)
	v := b.verifiedUser(t, "victor@example.com")
	w := b.verifiedUser(t, "wendy@example.com")
	id := account.ExternalIdentity{Provider: "idp", Subject: "sub-x", Email: "other@example.org"} // unverified, another address
	require.NoError(t, b.svc.LinkIdentitySignedIn(b.ctx, v.ID, id))
	res, err := b.svc.SignInWithIdentity(b.ctx, id)
	require.NoError(t, err)
	require.Equal(t, v.ID, res.User.ID)
	require.Equal(t, gw.ECONFLICT, gw.ErrorCode(b.svc.LinkIdentitySignedIn(b.ctx, w.ID, id)))
	require.Equal(t, gw.ENOTFOUND, gw.ErrorCode(b.svc.LinkIdentitySignedIn(b.ctx, gw.NewID(), account.ExternalIdentity{Provider: "idp", Subject: "s"})))
	require.Equal(t, gw.EINVALID, gw.ErrorCode(b.svc.LinkIdentitySignedIn(b.ctx, v.ID, account.ExternalIdentity{Provider: "idp"})))
	require.Equal(t, []string{audit.ActionIdentityLinked}, b.actions(t, v.ID))
}
