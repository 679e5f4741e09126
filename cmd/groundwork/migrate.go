package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/groundwork-dev/groundwork/internal/config"
	"github.com/groundwork-dev/groundwork/internal/observe"
	"github.com/groundwork-dev/groundwork/internal/postgres"
)

const migrateSummary = `Manage the database schema, as the owner role.

  up           apply every pending migration (River's, then Groundwork's)
  down         roll back the newest Groundwork migration
  status       list every migration and whether it is applied
  create NAME  write a new, empty numbered SQL migration into -dir
  rehearse -from-url URL [-max-duration 30s] [-lock-timeout 5s]
               apply the pending migrations to a restored copy of the
               database (groundwork restore --backup ID --into URL), report
               each one's duration and lock timeouts, and fail past -max-duration`

func runMigrate(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := newFlagSet("migrate up|down|status|create NAME|rehearse", migrateSummary, stderr)
	dir := fs.String("dir", "internal/postgres/migrations", "directory that `create` writes into")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return errors.New("migrate: say up, down, status, create NAME or rehearse")
	}
	action := fs.Arg(0)
	if action == "rehearse" {
		return runMigrateRehearse(ctx, fs.Args()[1:], getenv, stdout, stderr)
	}
	wantArgs := map[string]int{"up": 1, "down": 1, "status": 1, "create": 2}
	n, ok := wantArgs[action]
	if !ok {
		return fmt.Errorf("migrate: unknown action %q; use up, down, status, create NAME or rehearse", action)
	}
	if fs.NArg() != n {
		return fmt.Errorf("migrate %s: takes %d argument(s), got %d", action, n-1, fs.NArg()-1)
	}
	if action == "create" {
		path, err := postgres.CreateMigration(*dir, fs.Arg(1))
		if err != nil {
			return err
		}
		fmt.Fprintln(stdout, path)
		return nil
	}

	cfg, err := config.Load(getenv)
	if err != nil {
		return err
	}
	logger := observe.NewLogger(stderr, cfg.Production(), cfg.LogLevel)
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

	switch action {
	case "up":
		applied, err := m.Up(ctx)
		for _, name := range applied {
			fmt.Fprintf(stdout, "applied %s\n", name)
		}
		if err == nil && len(applied) == 0 {
			fmt.Fprintln(stdout, "no pending migrations")
		}
		return err
	case "down":
		name, err := m.Down(ctx)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "rolled back %s\n", name)
		return nil
	default: // status
		states, err := m.Status(ctx)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
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
	}
}
