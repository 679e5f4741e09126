package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/groundwork-dev/groundwork/internal/backup"
	"github.com/groundwork-dev/groundwork/internal/config"
	"github.com/groundwork-dev/groundwork/internal/postgres"
)

const backupSummary = `Logical backups: pg_dump of one consistent snapshot, with a manifest
(row count and checksum of every table, schema and app versions) computed
in that same snapshot; compressed, encrypted with GROUNDWORK_BACKUP_KEYSET
and stored in GROUNDWORK_BACKUP_URL. Backups never block writes.

Actions:
  create            take a backup now
  list              list backups; those without a manifest are INCOMPLETE
  verify ID         download, check SHA-256, decrypt and decompress fully, pg_restore --list
  prune [-dry-run]  delete backups outside the retention (GROUNDWORK_BACKUP_KEEP_*)
  rehearse [-backup ID]
                    restore the newest (or given) backup into a scratch database,
                    check it against the manifest, run pg_amcheck and pending
                    migrations, record the outcome in backup_rehearsals
  keyset [-rotate]  print a new backup keyset for GROUNDWORK_BACKUP_KEYSET, or
                    (-rotate) add a new primary key to the current one`

// newBackups opens the backup store of cfg.
func newBackups(ctx context.Context, cfg config.Config, logger *slog.Logger) (*backup.Service, func(), error) {
	key, err := backup.LoadKey(cfg.BackupKeyset, cfg.DataDir, cfg.Production(), logger)
	if err != nil {
		return nil, nil, err
	}
	bucket, err := backup.OpenBucket(ctx, cfg.BackupURL)
	if err != nil {
		return nil, nil, fmt.Errorf("GROUNDWORK_BACKUP_URL: %w", err)
	}
	svc := backup.New(bucket, key, backup.Config{AppVersion: version, Logger: logger})
	return svc, func() { bucket.Close() }, nil
}

// backupTargets names the database to back up (as a role bypassing
// row-level security) and a maintenance database of the same server for
// rehearsals.
func backupTargets(cfg config.Config, db *database) backup.Targets {
	return func(context.Context) (string, string, error) {
		if db.local != nil {
			return db.local.SuperuserURL(postgres.DatabaseName), db.local.SuperuserURL("postgres"), nil
		}
		source := cfg.BackupDatabaseURL
		if source == "" {
			source = db.ownerURL
		}
		if source == "" {
			return "", "", errors.New("backup: set GROUNDWORK_BACKUP_DATABASE_URL (a role with BYPASSRLS) or DATABASE_OWNER_URL")
		}
		u, err := url.Parse(source)
		if err != nil || u.Scheme == "" {
			return "", "", errors.New("backup: the backup database must be given as a postgres:// URL")
		}
		u.Path = "/postgres"
		return source, u.String(), nil
	}
}

// backupRetention is how many backups cfg keeps (GROUNDWORK_BACKUP_KEEP_*).
func backupRetention(cfg config.Config) backup.Retention {
	return backup.Retention{Daily: cfg.BackupKeepDaily, Weekly: cfg.BackupKeepWeekly, Monthly: cfg.BackupKeepMonthly}
}

func runBackup(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		fs := newFlagSet("backup ACTION", backupSummary, stderr)
		if err := fs.Parse(args); err != nil {
			return err
		}
		return errors.New("backup: say create, list, verify ID, prune, rehearse or keyset (run \"groundwork backup -h\")")
	}
	action, rest := args[0], args[1:]
	if action == "pitr" { // point-in-time recovery: cmd/groundwork/pitr.go
		return runPitr(ctx, rest, getenv, stdout, stderr)
	}
	fs := newFlagSet("backup "+action, backupSummary, stderr)
	if action == "keyset" {
		rotate := fs.Bool("rotate", false, "keyset: add a new primary key to the current keyset (old backups stay readable)")
		if err := fs.Parse(rest); err != nil {
			return err
		}
		if !*rotate {
			js, err := backup.NewKeysetJSON()
			if err != nil {
				return err
			}
			fmt.Fprintln(stdout, string(js))
			return nil
		}
		return rotateBackupKeyset(getenv, stdout, stderr)
	}
	var id string
	if action == "verify" {
		if len(rest) == 0 || strings.HasPrefix(rest[0], "-") {
			return errors.New("backup verify: say which backup: groundwork backup verify ID")
		}
		id, rest = rest[0], rest[1:]
	}
	dryRun := fs.Bool("dry-run", false, "prune: only list what would be deleted")
	rehearseID := fs.String("backup", "", "rehearse: the backup to rehearse (default: the newest complete one)")
	switch action {
	case "create", "list", "verify", "prune", "rehearse":
	default:
		return fmt.Errorf("backup: unknown action %q; say create, list, verify ID, prune, rehearse or keyset", action)
	}
	return withCommand(ctx, fs, rest, getenv, stderr, func(a *command) error {
		svc, closeFn, err := newBackups(ctx, a.cfg, a.logger)
		if err != nil {
			return err
		}
		defer closeFn()
		targets := backupTargets(a.cfg, a.db)
		switch action {
		case "create":
			source, _, err := targets(ctx)
			if err != nil {
				return err
			}
			m, err := svc.Create(ctx, source)
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "backup %s: %d tables, dump %d bytes, stored %d bytes, took %s\n", m.ID, len(m.Tables),
				m.DumpBytes, m.StoredBytes, m.FinishedAt.Sub(m.StartedAt).Round(time.Millisecond))
			return nil
		case "list":
			entries, err := svc.List(ctx)
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tSTATUS\tFINISHED\tSTORED BYTES\tTABLES\tSCHEMA\tAPP")
			for _, e := range entries {
				if !e.Complete() {
					fmt.Fprintf(tw, "%s\tINCOMPLETE\t-\t%d\t-\t-\t-\n", e.ID, e.Bytes)
					continue
				}
				m := e.Manifest
				fmt.Fprintf(tw, "%s\tcomplete\t%s\t%d\t%d\t%d/river %d\t%s\n", m.ID, m.FinishedAt.Format(time.RFC3339),
					m.StoredBytes, len(m.Tables), m.SchemaVersion, m.RiverVersion, m.AppVersion)
			}
			return tw.Flush()
		case "verify":
			rep, err := svc.Verify(ctx, id)
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "backup %s: ok (SHA-256 matches, %d bytes decrypted and decompressed, %d table-of-contents entries)\n",
				id, rep.Manifest.DumpBytes, rep.Entries)
			return nil
		case "prune":
			removed, err := svc.Prune(ctx, backupRetention(a.cfg), *dryRun)
			verb := "deleted"
			if *dryRun {
				verb = "would delete"
			}
			for _, r := range removed {
				fmt.Fprintf(stdout, "%s %s\n", verb, r)
			}
			return err
		default: // rehearse
			_, admin, err := targets(ctx)
			if err != nil {
				return err
			}
			r, err := svc.Rehearse(ctx, backup.RehearseOptions{AdminURL: admin, BackupID: *rehearseID, Record: a.db.pool})
			if r != nil {
				printRehearsal(stdout, r)
			}
			return err
		}
	})
}

// rotateBackupKeyset adds a new primary key to the backup keyset: the one in
// GROUNDWORK_BACKUP_KEYSET is printed rotated (to store in the secret
// store), the development file is rewritten in place.
func rotateBackupKeyset(getenv func(string) string, stdout, stderr io.Writer) error {
	cfg, err := config.Load(getenv)
	if err != nil {
		return err
	}
	if cfg.BackupKeyset != "" {
		js, err := backup.RotateKeysetJSON(cfg.BackupKeyset)
		if err != nil {
			return fmt.Errorf("%s: %w", backup.KeysetVariable, err)
		}
		fmt.Fprintln(stdout, string(js))
		fmt.Fprintf(stderr, "Put this keyset in %s (it keeps the old keys, so older backups stay readable) and restart.\n", backup.KeysetVariable)
		return nil
	}
	path := filepath.Join(cfg.DataDir, backup.KeysetFile)
	old, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("backup keyset -rotate: read %s: %w", path, err)
	}
	js, err := backup.RotateKeysetJSON(string(old))
	if err != nil {
		return fmt.Errorf("backup keyset -rotate: %s: %w", path, err)
	}
	if err := os.WriteFile(path, js, 0o600); err != nil {
		return fmt.Errorf("backup keyset -rotate: %w", err)
	}
	fmt.Fprintf(stdout, "rotated the development backup keyset %s: new backups use the new key\n", path)
	return nil
}

func printRehearsal(w io.Writer, r *backup.Rehearsal) {
	status := "ok"
	if !r.OK {
		status = "FAILED"
	}
	fmt.Fprintf(w, "rehearsal of %s: %s\n  recovery time: %s\n  backup size: %d bytes\n  tables checked: %d, mismatches: %d\n  pg_amcheck: %s\n",
		r.BackupID, status, r.Duration.Round(time.Millisecond), r.BackupBytes, r.TablesChecked, len(r.Mismatches), r.Amcheck)
	for _, m := range r.Mismatches {
		fmt.Fprintf(w, "  mismatch: %s\n", m)
	}
	for _, m := range r.Migrations {
		fmt.Fprintf(w, "  migration %s: %s\n", m.Name, m.Duration.Round(time.Millisecond))
	}
	if r.Err != nil {
		fmt.Fprintf(w, "  error: %v\n", r.Err)
	}
}
