package postgres_test

import (
	"context"
	"errors"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/groundwork-dev/groundwork/internal/pgtest"
	"github.com/groundwork-dev/groundwork/internal/postgres"
)

// TestEachOrg: every organisation once, in ID order, across pages; an
// error from the callback stops the walk and is returned.
func TestEachOrg(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	ctx := context.Background()
	_, err := db.Owner.Exec(ctx, `INSERT INTO orgs (id, slug, name)
		SELECT gen_random_uuid(), 'org-' || i, 'Org ' || i FROM generate_series(1, 1001) i`)
	require.NoError(t, err)
	var want []string
	rows, err := db.Owner.Query(ctx, `SELECT id::text FROM orgs ORDER BY id`)
	require.NoError(t, err)
	want, err = pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	require.Len(t, want, 1001)

	var got []string
	require.NoError(t, postgres.EachOrg(ctx, db.Runtime, func(orgID string) error {
		got = append(got, orgID)
		return nil
	}))
	require.Equal(t, want, got)

	stop := errors.New("stop")
	calls := 0
	err = postgres.EachOrg(ctx, db.Runtime, func(string) error { calls++; return stop })
	require.ErrorIs(t, err, stop)
	require.Equal(t, 1, calls)
}
