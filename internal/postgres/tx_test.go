package postgres_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/groundwork-dev/groundwork/internal/gw"
	"github.com/groundwork-dev/groundwork/internal/pgtest"
	"github.com/groundwork-dev/groundwork/internal/postgres"
)

// TestInTxSettings: a transaction sees the settings of its options, sent
// with its BEGIN for IDs in UUID form and after it for anything else (which
// goes as a parameter, never into the SQL), and nothing outlives it.
func TestInTxSettings(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	ctx := context.Background()
	settings := func(opts postgres.TxOptions) (org, user, hash string) {
		t.Helper()
		require.NoError(t, postgres.InTx(ctx, db.Runtime, opts, func(tx pgx.Tx) error {
			return tx.QueryRow(ctx, `SELECT current_setting('app.org_id', true), current_setting('app.user_id', true),
				current_setting('app.secret_hash', true)`).Scan(&org, &user, &hash)
		}))
		return org, user, hash
	}
	org, user := gw.NewID(), gw.NewID()
	gotOrg, gotUser, gotHash := settings(postgres.TxOptions{OrgID: org, UserID: user, SecretHash: []byte{0xab, 0x01}})
	require.Equal(t, []string{org, user, "ab01"}, []string{gotOrg, gotUser, gotHash})

	// Not a UUID: sent as a parameter, as it is, quote and all.
	odd := "x'); SELECT pg_sleep(10); --"
	gotOrg, gotUser, gotHash = settings(postgres.TxOptions{OrgID: odd})
	require.Equal(t, []string{odd, "", ""}, []string{gotOrg, gotUser, gotHash})

	// Nothing set: a plain BEGIN; and the settings above were local to
	// their transactions, on whichever connection the pool gives.
	for range 4 {
		gotOrg, gotUser, gotHash = settings(postgres.TxOptions{})
		require.Equal(t, []string{"", "", ""}, []string{gotOrg, gotUser, gotHash})
	}
}
