package contacts

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/groundwork-dev/groundwork/internal/crypto"
	"github.com/groundwork-dev/groundwork/internal/postgres"
)

// TestContactDecoder: rows decoded straight from the driver's bytes equal
// the contacts as created, in pgx's default formats and with uuid and
// jsonb in their other format; a format the decoder does not read (bytea
// or text[] as text) is an error, never a wrong value; a ciphertext bound
// to another contact will not decrypt.
func TestContactDecoder(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	want := []Contact{
		b.create(t, b.member, "Ada", func(in *Input) {
			in.Email, in.Phone = ptr("ada@example.com"), ptr("+44 20 7946 0001")
			in.Tags = &[]string{"vip", "ünïcødé", `quo"te`, "a,b", "<b>&"}
			in.Custom = &map[string]any{"tier": "gold", "n": 12345678901234567, "ok": true, "x": nil, "html": "<&é>"}
			in.CustomKeys = []string{"x", "tier", "html", "ok", "n"}
		}),
		b.create(t, b.member, "Grace"), // no email, phone, tags or custom
	}
	// Create reads its row back through the decoder too: check it against
	// the input first.
	require.Equal(t, []string{"Ada", "ada@example.com", "+44 20 7946 0001"}, []string{want[0].Name, want[0].Email, want[0].Phone})
	require.Equal(t, []string{"vip", "ünïcødé", `quo"te`, "a,b", "<b>&"}, want[0].Tags)
	require.Equal(t, map[string]any{"tier": "gold", "n": float64(12345678901234567), "ok": true, "x": nil, "html": "<&é>"}, want[0].Custom)
	require.Equal(t, []string{"x", "tier", "html", "ok", "n"}, want[0].CustomKeys)
	require.Equal(t, Contact{ID: want[1].ID, Name: "Grace", Tags: []string{}, Custom: map[string]any{}, CustomKeys: []string{},
		CreatedAt: b.clock.Now().UTC().Truncate(time.Microsecond), UpdatedAt: b.clock.Now().UTC().Truncate(time.Microsecond)}, want[1])
	decodeAll := func(formats pgx.QueryResultFormats, sql string) ([]Contact, error) {
		var got []Contact
		err := postgres.InOrgTx(ctx, b.db.Runtime, b.member.OrgID, func(tx pgx.Tx) error {
			args := []any{b.member.OrgID}
			if formats != nil {
				args = append([]any{formats}, args...)
			}
			rows, err := tx.Query(ctx, sql, args...)
			if err != nil {
				return err
			}
			got, err = pgx.CollectRows(rows, newContactDecoder(b.keys, b.member.OrgID).decode)
			return err
		})
		return got, err
	}
	query := `SELECT ` + columns + ` FROM contacts WHERE org_id = $1 ORDER BY id`
	for _, formats := range []pgx.QueryResultFormats{
		nil,                            // pgx's defaults
		{0, 1, 1, 1, 1, 1, 1, 1, 1, 1}, // uuid as text, jsonb (and text) binary
	} {
		got, err := decodeAll(formats, query)
		require.NoError(t, err)
		require.Equal(t, want, got, "formats %v", formats)
	}
	for _, formats := range []pgx.QueryResultFormats{
		{1, 1, 0, 1, 1, 1, 1, 1, 1, 1}, // email_enc as text (hex)
		{1, 1, 1, 1, 1, 0, 1, 1, 1, 1}, // tags as text
		{1, 1, 1, 1, 1, 1, 1, 1, 0, 1}, // created_at as text
	} {
		_, err := decodeAll(formats, query)
		require.ErrorIs(t, err, errRowFormat, "formats %v", formats)
	}
	// Ada's email under Grace's ID: bound to the other row, it fails.
	_, err := decodeAll(nil, `SELECT c.id, c.name, a.email_enc, c.phone_enc, c.company, c.tags, c.custom, c.custom_keys, c.created_at, c.updated_at
		FROM contacts c, contacts a WHERE c.org_id = $1 AND a.org_id = $1 AND c.name = 'Grace' AND a.name = 'Ada'`)
	var decryptErr *crypto.DecryptError
	require.True(t, errors.As(err, &decryptErr), "%v", err)
}
