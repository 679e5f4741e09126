package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/groundwork-dev/groundwork/internal/backup"
)

const restoreSummary = `Restore a backup.

  restore --backup ID --into DATABASE_URL [--force]
      restore logical backup ID into the database at DATABASE_URL, as its
      role (objects become its own); refuses a database with tables in
      public unless --force; then checks every table's row count and
      checksum against the backup's manifest (the role must be a superuser
      or have BYPASSRLS for that check).
  restore --at TIME --into DIR
      point-in-time recovery of the embedded cluster (pgBackRest).`

func runRestore(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := newFlagSet("restore", restoreSummary, stderr)
	id := fs.String("backup", "", "the logical backup to restore (see \"groundwork backup list\")")
	into := fs.String("into", "", "the target: a database URL (with --backup) or a directory (with --at)")
	force := fs.Bool("force", false, "restore into a non-empty database, replacing the backup's objects")
	at := fs.String("at", "", "point-in-time recovery: the time to recover to")
	cfg, logger, err := loadCommand(fs, args, getenv, stderr)
	if err != nil {
		return err
	}
	switch {
	case *id != "" && *at != "":
		return errors.New("restore: give --backup or --at, not both")
	case *at != "":
		// PITR: restore the embedded cluster's pgBackRest repository (cmd/groundwork/pitr.go).
		return runPitrRestore(ctx, cfg, logger, *at, *into, stdout)
	case *id == "":
		return errors.New("restore: --backup ID (or --at TIME) is required")
	}
	if *into == "" {
		return errors.New("restore: --into DATABASE_URL is required")
	}
	svc, closeFn, err := newBackups(ctx, cfg, logger)
	if err != nil {
		return err
	}
	defer closeFn()
	rep, err := svc.Restore(ctx, *id, *into, backup.RestoreOptions{Force: *force})
	if rep != nil {
		fmt.Fprintf(stdout, "restored %s: %d tables checked against the manifest, %d mismatches\n", *id, rep.TablesChecked, len(rep.Mismatches))
	}
	return err
}
