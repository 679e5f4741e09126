package main

import (
	"context"
	"errors"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/groundwork-dev/groundwork/internal/postgres"
)

// runOrgCreate runs "groundwork org create".
func runOrgCreate(ctx context.Context, args []string, e cmdEnv) error {
	fs := newFlagSet("org create", "Create an organisation owned by an existing user and print its ID.")
	name := fs.String("name", "", "the organisation's name (required)")
	owner := fs.String("owner", "", "email of the owning user (required)")
	return withAdmin(ctx, fs, args, e, func(a *admin) error {
		if *name == "" || *owner == "" {
			return errors.New("org create: -name and -owner are required")
		}
		u, err := a.mods.Accounts.UserByEmail(ctx, *owner)
		if err != nil {
			return cliError("org create: owner "+*owner, err)
		}
		o, err := a.mods.Orgs.CreateForOwner(ctx, u.ID, *name)
		if err != nil {
			return cliError("org create", err)
		}
		fmt.Fprintln(e.stdout, o.ID)
		return nil
	})
}

// orgRow is one line of "groundwork org list".
type orgRow struct {
	id, slug, name string
	members        int
	created        time.Time
}

// runOrgList runs "groundwork org list". The org module lists only a
// user's organisations, so this is a read of its own. orgs has no
// row-level security, but memberships has, forced even on the owner role
// (neither role has BYPASSRLS): a query without app.org_id sees no
// membership. So each organisation's members are counted in a transaction
// of that organisation (postgres.InOrgTx), on the runtime pool.
func runOrgList(ctx context.Context, args []string, e cmdEnv) error {
	fs := newFlagSet("org list", "List every organisation by slug: its name, its number of members and when\nit was created.")
	return withAdmin(ctx, fs, args, e, func(a *admin) error {
		rows, err := a.db.pool.Query(ctx, `SELECT id, slug, name, created_at FROM orgs ORDER BY slug`)
		if err != nil {
			return fmt.Errorf("org list: %w", err)
		}
		orgs, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (orgRow, error) {
			var o orgRow
			return o, row.Scan(&o.id, &o.slug, &o.name, &o.created)
		})
		if err != nil {
			return fmt.Errorf("org list: %w", err)
		}
		for i := range orgs {
			err := postgres.InOrgTx(ctx, a.db.pool, orgs[i].id, func(tx pgx.Tx) error {
				return tx.QueryRow(ctx, `SELECT count(*) FROM memberships WHERE org_id = $1`, orgs[i].id).Scan(&orgs[i].members)
			})
			if err != nil {
				return fmt.Errorf("org list: count members of %s: %w", orgs[i].slug, err)
			}
		}
		tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "SLUG\tNAME\tMEMBERS\tCREATED")
		for _, o := range orgs {
			fmt.Fprintf(tw, "%s\t%s\t%d\t%s\n", o.slug, o.name, o.members, o.created.UTC().Format(time.RFC3339))
		}
		return tw.Flush()
	})
}
