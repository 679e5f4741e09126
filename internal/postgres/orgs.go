package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"
)

// orgPage is how many organisation IDs EachOrg reads at a time.
const orgPage = 1000

// EachOrg calls fn with the ID of every organisation, in ID order, reading
// them orgPage at a time with q; an error from fn stops it and is returned.
// It is for jobs that visit every organisation's rows (key rotation,
// retention, schedules), which row-level security shows one organisation at
// a time: orgs, the tenant registry, is not tenant-owned. Errors are
// translated with Translate.
func EachOrg(ctx context.Context, q Queryer, fn func(orgID string) error) error {
	after := "00000000-0000-0000-0000-000000000000"
	for {
		rows, err := q.Query(ctx, `SELECT id::text FROM orgs WHERE id > $1 ORDER BY id LIMIT $2`, after, orgPage)
		if err != nil {
			return Translate(err)
		}
		ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return Translate(err)
		}
		for _, id := range ids {
			if err := fn(id); err != nil {
				return err
			}
		}
		if len(ids) < orgPage {
			return nil
		}
		after = ids[len(ids)-1]
	}
}
