package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/groundwork-dev/groundwork/internal/postgres"
)

// migrateAbout is the description "groundwork migrate -h" gives.
const migrateAbout = `Manage the database schema, as the owner role: DATABASE_OWNER_URL, or the
embedded cluster's owner role when DATABASE_URL is unset (docs/migrations.md).`

// withMigrator parses the action's flags, opens the database (reusing the
// embedded cluster when serve runs on it) and runs fn with a migrator
// connected as the owner role.
func withMigrator(ctx context.Context, fs *flag.FlagSet, args []string, e cmdEnv, fn func(m *postgres.Migrator) error) error {
	cfg, logger, err := loadAdmin(fs, args, e)
	if err != nil {
		return err
	}
	db, err := openDatabase(ctx, cfg, logger)
	if err != nil {
		return err
	}
	defer db.close(ctx, logger)
	ownerURL, err := db.requireOwner()
	if err != nil {
		return err
	}
	m, err := postgres.NewMigrator(ctx, ownerURL, logger)
	if err != nil {
		return err
	}
	defer m.Close()
	return fn(m)
}

// runMigrateUp runs "groundwork migrate up".
func runMigrateUp(ctx context.Context, args []string, e cmdEnv) error {
	fs := newFlagSet("migrate up", "Apply every pending migration: River's, then Groundwork's.")
	return withMigrator(ctx, fs, args, e, func(m *postgres.Migrator) error {
		applied, err := m.Up(ctx)
		for _, name := range applied {
			fmt.Fprintf(e.stdout, "applied %s\n", name)
		}
		if err == nil && len(applied) == 0 {
			fmt.Fprintln(e.stdout, "no pending migrations")
		}
		return err
	})
}

// runMigrateDown runs "groundwork migrate down".
func runMigrateDown(ctx context.Context, args []string, e cmdEnv) error {
	fs := newFlagSet("migrate down", "Roll back the newest Groundwork migration.")
	return withMigrator(ctx, fs, args, e, func(m *postgres.Migrator) error {
		name, err := m.Down(ctx)
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "rolled back %s\n", name)
		return nil
	})
}

// runMigrateStatus runs "groundwork migrate status".
func runMigrateStatus(ctx context.Context, args []string, e cmdEnv) error {
	fs := newFlagSet("migrate status", "List every migration, River's and Groundwork's, and whether it is applied.")
	return withMigrator(ctx, fs, args, e, func(m *postgres.Migrator) error {
		states, err := m.Status(ctx)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "MIGRATION\tSTATE\tAPPLIED AT")
		for _, s := range states {
			state, at := "pending", ""
			if s.Applied {
				state = "applied"
				if !s.AppliedAt.IsZero() {
					at = s.AppliedAt.UTC().Format(time.RFC3339)
				}
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\n", s.Name, state, at)
		}
		return tw.Flush()
	})
}

// runMigrateCreate runs "groundwork migrate create NAME".
func runMigrateCreate(_ context.Context, args []string, e cmdEnv) error {
	fs := newFlagSet("migrate create", "Write a new, empty SQL migration NAME (lower_snake_case) into -dir, numbered\nafter the newest one there, and print its path.")
	dir := fs.String("dir", "internal/postgres/migrations", "the `directory` of the migrations")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	switch {
	case fs.NArg() == 0:
		return errors.New("migrate create: say the migration's name: groundwork migrate create [-dir DIR] NAME")
	case fs.NArg() > 1:
		return fmt.Errorf("migrate create: unexpected argument %q after the name; flags go before it (run \"groundwork migrate create -h\")", fs.Arg(1))
	}
	path, err := postgres.CreateMigration(*dir, fs.Arg(0))
	if err != nil {
		return err
	}
	fmt.Fprintln(e.stdout, path)
	return nil
}
