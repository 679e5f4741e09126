package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/groundwork-dev/groundwork/internal/backup"
)

// restoreSummary is the description "groundwork restore -h" gives.
const restoreSummary = `Restore a logical backup into a database, or the embedded cluster to a
point in time into a new directory.

  restore --backup ID --into DATABASE_URL [--force]
      restore logical backup ID into the database at DATABASE_URL, as its
      role (objects become its own); refuses a database with tables in
      public unless --force; then checks every table's row count and
      checksum against the backup's manifest (the role must be a superuser
      or have BYPASSRLS for that check).
  restore --at TIME --into DIR
      point-in-time recovery of the embedded cluster (pgBackRest).`

// runRestore runs "groundwork restore": a logical backup with --backup, a
// point in time with --at.
func runRestore(ctx context.Context, args []string, e cmdEnv) error {
	fs := newFlagSet("restore", restoreSummary)
	id := fs.String("backup", "", "the logical backup to restore (see \"groundwork backup list\")")
	into := fs.String("into", "", "the target: a database URL (with --backup) or a directory (with --at)")
	force := fs.Bool("force", false, "restore into a non-empty database, replacing the backup's objects")
	at := fs.String("at", "", "point-in-time recovery: the time to recover to")
	cfg, logger, err := loadAdmin(fs, args, e)
	if err != nil {
		return err
	}
	switch {
	case *id != "" && *at != "":
		return errors.New("restore: give --backup or --at, not both")
	case *at != "":
		// PITR: restore the embedded cluster's pgBackRest repository (cmd/groundwork/pitr.go).
		return runPitrRestore(ctx, cfg, logger, *at, *into, e.stdout)
	case *id == "":
		return errors.New("restore: --backup ID (or --at TIME) is required")
	}
	if *into == "" {
		return errors.New("restore: --into DATABASE_URL is required")
	}
	svc, closeFn, err := adminBackups(ctx, cfg, logger)
	if err != nil {
		return err
	}
	defer closeFn()
	rep, err := svc.Restore(ctx, *id, *into, backup.RestoreOptions{Force: *force})
	if rep != nil {
		fmt.Fprintf(e.stdout, "restored %s: %d tables checked against the manifest, %d mismatches\n", *id, rep.TablesChecked, len(rep.Mismatches))
	}
	return err
}
