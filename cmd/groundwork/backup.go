package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"text/tabwriter"
	"time"

	"github.com/groundwork-dev/groundwork/internal/backup"
	"github.com/groundwork-dev/groundwork/internal/config"
	"github.com/groundwork-dev/groundwork/internal/postgres"
)

// backupAbout is the description "groundwork backup -h" gives.
const backupAbout = `Logical backups: pg_dump of one consistent snapshot, with a manifest
(row count and checksum of every table, schema and app versions) computed
in that same snapshot; compressed, encrypted with GROUNDWORK_BACKUP_KEYSET
and stored in GROUNDWORK_BACKUP_URL. Backups never block writes.
"groundwork backup pitr" is point-in-time recovery of the embedded cluster.`

// newBackups opens the backup store of cfg.
func newBackups(ctx context.Context, cfg config.Config, logger *slog.Logger) (*backup.Service, func(), error) {
	return openBackups(ctx, cfg, logger, logger)
}

// openBackups is newBackups with the logger the keyset is loaded with
// apart (see devKeysetLogger).
func openBackups(ctx context.Context, cfg config.Config, keyLogger, logger *slog.Logger) (*backup.Service, func(), error) {
	key, err := backup.LoadKey(cfg.BackupKeyset, cfg.DataDir, cfg.Production(), keyLogger)
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

// adminBackups opens the backup store of cfg for an admin command, which
// does not warn about a development keyset file that exists already.
func adminBackups(ctx context.Context, cfg config.Config, logger *slog.Logger) (*backup.Service, func(), error) {
	return openBackups(ctx, cfg, devKeysetLogger(logger, filepath.Join(cfg.DataDir, backup.KeysetFile)), logger)
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

// backupStore is what the backup actions that need no database run with.
type backupStore struct {
	cfg    config.Config
	logger *slog.Logger
	svc    *backup.Service
}

// withBackupStore parses the action's flags and opens the backup store of
// the configuration, without the database: listing, verifying and pruning
// backups work while the database is down.
func withBackupStore(ctx context.Context, fs *flag.FlagSet, args []string, e cmdEnv, fn func(b *backupStore) error) error {
	cfg, logger, err := loadAdmin(fs, args, e)
	if err != nil {
		return err
	}
	svc, closeFn, err := adminBackups(ctx, cfg, logger)
	if err != nil {
		return err
	}
	defer closeFn()
	return fn(&backupStore{cfg: cfg, logger: logger, svc: svc})
}

// withBackupDatabase is withBackupStore with the database open too (the
// embedded cluster reused when serve runs on it), for the actions that
// read it or record in it.
func withBackupDatabase(ctx context.Context, fs *flag.FlagSet, args []string, e cmdEnv, fn func(b *backupStore, db *database) error) error {
	cfg, logger, err := loadAdmin(fs, args, e)
	if err != nil {
		return err
	}
	db, err := openRuntime(ctx, cfg, logger)
	if err != nil {
		return err
	}
	defer db.close(ctx, logger)
	svc, closeFn, err := adminBackups(ctx, cfg, logger)
	if err != nil {
		return err
	}
	defer closeFn()
	return fn(&backupStore{cfg: cfg, logger: logger, svc: svc}, db)
}

// runBackupCreate runs "groundwork backup create".
func runBackupCreate(ctx context.Context, args []string, e cmdEnv) error {
	fs := newFlagSet("backup create", "Take a logical backup now: pg_dump of one snapshot with its manifest,\ncompressed, encrypted and stored in GROUNDWORK_BACKUP_URL.")
	return withBackupDatabase(ctx, fs, args, e, func(b *backupStore, db *database) error {
		source, _, err := backupTargets(b.cfg, db)(ctx)
		if err != nil {
			return err
		}
		m, err := b.svc.Create(ctx, source)
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "backup %s: %d tables, dump %d bytes, stored %d bytes, took %s\n", m.ID, len(m.Tables),
			m.DumpBytes, m.StoredBytes, m.FinishedAt.Sub(m.StartedAt).Round(time.Millisecond))
		return nil
	})
}

// runBackupList runs "groundwork backup list".
func runBackupList(ctx context.Context, args []string, e cmdEnv) error {
	fs := newFlagSet("backup list", "List the backups in GROUNDWORK_BACKUP_URL, oldest first. A backup without\na manifest did not finish: it is INCOMPLETE and never restored.")
	return withBackupStore(ctx, fs, args, e, func(b *backupStore) error {
		entries, err := b.svc.List(ctx)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tSTATUS\tFINISHED\tSTORED BYTES\tTABLES\tSCHEMA\tAPP")
		for _, en := range entries {
			if !en.Complete() {
				fmt.Fprintf(tw, "%s\tINCOMPLETE\t-\t%d\t-\t-\t-\n", en.ID, en.Bytes)
				continue
			}
			m := en.Manifest
			fmt.Fprintf(tw, "%s\tcomplete\t%s\t%d\t%d\t%d/river %d\t%s\n", m.ID, m.FinishedAt.Format(time.RFC3339),
				m.StoredBytes, len(m.Tables), m.SchemaVersion, m.RiverVersion, m.AppVersion)
		}
		return tw.Flush()
	})
}

// runBackupVerify runs "groundwork backup verify ID".
func runBackupVerify(ctx context.Context, args []string, e cmdEnv) error {
	fs := newFlagSet("backup verify", "Download backup ID, check its SHA-256, decrypt and decompress it fully and\nlist its contents with pg_restore --list.")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	switch {
	case fs.NArg() == 0:
		return errors.New("backup verify: say which backup: groundwork backup verify ID (\"groundwork backup list\" lists them)")
	case fs.NArg() > 1:
		return fmt.Errorf("backup verify: unexpected argument %q after the ID", fs.Arg(1))
	}
	id := fs.Arg(0)
	return withBackupStore(ctx, fs, nil, e, func(b *backupStore) error {
		rep, err := b.svc.Verify(ctx, id)
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "backup %s: ok (SHA-256 matches, %d bytes decrypted and decompressed, %d table-of-contents entries)\n",
			id, rep.Manifest.DumpBytes, rep.Entries)
		return nil
	})
}

// runBackupPrune runs "groundwork backup prune".
func runBackupPrune(ctx context.Context, args []string, e cmdEnv) error {
	fs := newFlagSet("backup prune", "Delete the backups outside the retention: GROUNDWORK_BACKUP_KEEP_DAILY,\n_WEEKLY and _MONTHLY.")
	dryRun := fs.Bool("dry-run", false, "only list what would be deleted")
	return withBackupStore(ctx, fs, args, e, func(b *backupStore) error {
		removed, err := b.svc.Prune(ctx, backupRetention(b.cfg), *dryRun)
		verb := "deleted"
		if *dryRun {
			verb = "would delete"
		}
		for _, r := range removed {
			fmt.Fprintf(e.stdout, "%s %s\n", verb, r)
		}
		return err
	})
}

// runBackupRehearse runs "groundwork backup rehearse".
func runBackupRehearse(ctx context.Context, args []string, e cmdEnv) error {
	fs := newFlagSet("backup rehearse", "Restore a backup into a scratch database on the same server, check it\nagainst its manifest, run pg_amcheck and the pending migrations, record\nthe outcome in backup_rehearsals and drop the copy. Prints the recovery time.")
	id := fs.String("backup", "", "the backup to rehearse (default: the newest complete one)")
	return withBackupDatabase(ctx, fs, args, e, func(b *backupStore, db *database) error {
		_, adminURL, err := backupTargets(b.cfg, db)(ctx)
		if err != nil {
			return err
		}
		r, err := b.svc.Rehearse(ctx, backup.RehearseOptions{AdminURL: adminURL, BackupID: *id, Record: db.pool})
		if r != nil {
			printRehearsal(e.stdout, r)
		}
		return err
	})
}

// runBackupKeyset runs "groundwork backup keyset".
func runBackupKeyset(ctx context.Context, args []string, e cmdEnv) error {
	fs := newFlagSet("backup keyset", "Print a new backup keyset for GROUNDWORK_BACKUP_KEYSET, or with -rotate add\na new primary key to the current one (older backups stay readable).")
	rotate := fs.Bool("rotate", false, "add a new primary key to the current keyset: printed when it comes from\nGROUNDWORK_BACKUP_KEYSET, rewritten in place when it is the development file")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	if *rotate {
		return rotateBackupKeyset(e)
	}
	js, err := backup.NewKeysetJSON()
	if err != nil {
		return err
	}
	fmt.Fprintln(e.stdout, string(js))
	return nil
}

// rotateBackupKeyset adds a new primary key to the backup keyset: the one in
// GROUNDWORK_BACKUP_KEYSET is printed rotated (to store in the secret
// store), the development file is rewritten in place.
func rotateBackupKeyset(e cmdEnv) error {
	cfg, err := config.Load(e.getenv)
	if err != nil {
		return err
	}
	if cfg.BackupKeyset != "" {
		js, err := backup.RotateKeysetJSON(cfg.BackupKeyset)
		if err != nil {
			return fmt.Errorf("%s: %w", backup.KeysetVariable, err)
		}
		fmt.Fprintln(e.stdout, string(js))
		fmt.Fprintf(e.stderr, "Put this keyset in %s (it keeps the old keys, so older backups stay readable) and restart.\n", backup.KeysetVariable)
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
	fmt.Fprintf(e.stdout, "rotated the development backup keyset %s: new backups use the new key\n", path)
	return nil
}

// printRehearsal writes the report of a restore rehearsal.
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
