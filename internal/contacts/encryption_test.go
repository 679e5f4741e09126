package contacts

import (
	"bytes"
	"context"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/groundwork-dev/groundwork/internal/crypto"
	"github.com/groundwork-dev/groundwork/internal/gw"
	"github.com/groundwork-dev/groundwork/internal/pgtest"
	"github.com/groundwork-dev/groundwork/internal/postgres"
)

// rawRow is what the database holds of a contact's encrypted columns.
type rawRow struct {
	email, phone, emailIndex []byte
}

func (b *testBundle) raw(t *testing.T, orgID, id string) rawRow {
	t.Helper()
	var r rawRow
	err := postgres.InOrgTx(context.Background(), b.db.Runtime, orgID, func(tx pgx.Tx) error {
		return tx.QueryRow(context.Background(), `SELECT email_enc, phone_enc, email_bidx FROM contacts WHERE org_id = $1 AND id = $2`,
			orgID, id).Scan(&r.email, &r.phone, &r.emailIndex)
	})
	require.NoError(t, err)
	return r
}

func TestEmailAndPhoneAreStoredEncrypted(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	c := b.create(t, b.member, "Ada", func(in *Input) { in.Email, in.Phone = ptr("Ada@Example.com"), ptr("+44 20 7946 0000") })

	r := b.raw(t, b.member.OrgID, c.ID)
	for _, col := range [][]byte{r.email, r.phone} {
		require.True(t, bytes.HasPrefix(col, b.keys.PrimaryCiphertextPrefix()), "a Tink ciphertext under the primary key")
		require.NotContains(t, string(col), "Example")
		require.NotContains(t, string(col), "7946")
	}
	want, err := b.keys.BlindIndex("ada@example.com", crypto.NewAD("contacts", "email", b.member.OrgID))
	require.NoError(t, err)
	require.Equal(t, want, r.emailIndex, "the blind index of the lower-cased address")

	// Clearing a field stores NULL; an update of other fields keeps them.
	c, err = b.svc.Update(ctx, b.member, c.ID, Input{Phone: ptr("")})
	require.NoError(t, err)
	require.Empty(t, c.Phone)
	require.Equal(t, "Ada@Example.com", c.Email)
	r = b.raw(t, b.member.OrgID, c.ID)
	require.Nil(t, r.phone)
	require.NotNil(t, r.email)
	c, err = b.svc.Update(ctx, b.member, c.ID, Input{Name: ptr("Ada L.")})
	require.NoError(t, err)
	require.Equal(t, "Ada@Example.com", c.Email)
	require.Equal(t, r, b.raw(t, b.member.OrgID, c.ID), "untouched columns are not re-encrypted")

	// Changing the email changes its index: the old address finds nothing.
	_, err = b.svc.Update(ctx, b.member, c.ID, Input{Email: ptr("lovelace@example.com")})
	require.NoError(t, err)
	page, err := b.svc.List(ctx, b.member, ListParams{Query: "ada@example.com"})
	require.NoError(t, err)
	require.Empty(t, page.Contacts)
	page, err = b.svc.List(ctx, b.member, ListParams{Query: "LOVELACE@example.com"})
	require.NoError(t, err)
	require.Equal(t, []string{"Ada L."}, names(page.Contacts))
}

// TestCiphertextBoundToItsRow copies ciphertexts between rows, columns and
// organisations, as someone with write access to the database might: none
// of them decrypts in its new place.
func TestCiphertextBoundToItsRow(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	ada := b.create(t, b.member, "Ada", func(in *Input) { in.Email, in.Phone = ptr("ada@example.com"), ptr("+1 555 0100") })
	grace := b.create(t, b.member, "Grace", func(in *Input) { in.Email = ptr("grace@example.com") })
	other := pgtest.MemberScope(t, b.db, gw.RoleMember)
	alan := b.create(t, other, "Alan", func(in *Input) { in.Email = ptr("alan@example.com") })
	adaRaw := b.raw(t, b.member.OrgID, ada.ID)

	write := func(orgID, id, column string, value []byte) {
		t.Helper()
		require.NoError(t, postgres.InOrgTx(ctx, b.db.Runtime, orgID, func(tx pgx.Tx) error {
			_, err := tx.Exec(ctx, `UPDATE contacts SET `+column+` = $3 WHERE org_id = $1 AND id = $2`, orgID, id, value)
			return err
		}))
	}
	requireBroken := func(scope gw.Scope, id string) {
		t.Helper()
		_, err := b.svc.Get(ctx, scope, id)
		require.Equal(t, gw.EINTERNAL, gw.ErrorCode(err))
		var de *crypto.DecryptError
		require.ErrorAs(t, err, &de)
		require.Contains(t, err.Error(), "decryption failed with key id")
	}

	write(b.member.OrgID, grace.ID, "email_enc", adaRaw.email) // another row
	requireBroken(b.member, grace.ID)
	write(b.member.OrgID, grace.ID, "email_enc", adaRaw.phone) // another column
	requireBroken(b.member, grace.ID)
	write(other.OrgID, alan.ID, "email_enc", adaRaw.email) // another organisation
	requireBroken(other, alan.ID)

	got, err := b.svc.Get(ctx, b.member, ada.ID)
	require.NoError(t, err)
	require.Equal(t, ada, got, "the original still reads")

	// The same address in another organisation has another blind index:
	// indexes do not link tenants' contacts.
	twin := b.create(t, other, "Ada twin", func(in *Input) { in.Email = ptr("ada@example.com") })
	require.NotEqual(t, adaRaw.emailIndex, b.raw(t, other.OrgID, twin.ID).emailIndex)
}

// BenchmarkSealContact is the cost of encrypting a contact for storage:
// email and phone (AES-256-GCM) and the email's blind index (HMAC-SHA256).
func BenchmarkSealContact(b *testing.B) {
	keys, err := crypto.GenerateKeyring()
	require.NoError(b, err)
	orgID, id := gw.NewID(), gw.NewID()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := seal(keys, orgID, id, "ada.lovelace@engines.example", "+44 20 7946 0958"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkOpenContact is the cost of decrypting a stored contact's email
// and phone, as every read does.
func BenchmarkOpenContact(b *testing.B) {
	keys, err := crypto.GenerateKeyring()
	require.NoError(b, err)
	orgID, id := gw.NewID(), gw.NewID()
	s, err := seal(keys, orgID, id, "ada.lovelace@engines.example", "+44 20 7946 0958")
	require.NoError(b, err)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := keys.Decrypt(s.email, fieldAD("email", orgID, id)); err != nil {
			b.Fatal(err)
		}
		if _, err := keys.Decrypt(s.phone, fieldAD("phone", orgID, id)); err != nil {
			b.Fatal(err)
		}
	}
}
