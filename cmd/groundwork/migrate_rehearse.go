package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/groundwork-dev/groundwork/internal/backup"
	"github.com/groundwork-dev/groundwork/internal/postgres"
)

// rehearseSummary is the description "groundwork migrate rehearse -h" gives.
const rehearseSummary = `Apply the pending migrations to a restored copy of the database and report
each one's duration, so that a migration that would lock a large table for
long is found before the deploy, not during it.

Without -from-url it restores the latest backup into a scratch database on
the same server (as "groundwork backup rehearse" does: checked against its
manifest), applies the pending migrations there, records the rehearsal and
drops the copy. With -from-url it migrates a copy you restored yourself
(groundwork restore --backup ID --into URL), as a role that owns its schema.
Every connection gets lock_timeout (-lock-timeout), so a migration blocked on
a lock fails fast and is reported as a lock timeout. The rehearsal fails when
any migration fails or takes longer than -max-duration. The copy is left
migrated; drop it afterwards.`

// runMigrateRehearse runs "groundwork migrate rehearse".
func runMigrateRehearse(ctx context.Context, args []string, e cmdEnv) error {
	fs := newFlagSet("migrate rehearse", rehearseSummary)
	fromURL := fs.String("from-url", "", "`URL` of a restored copy of the database, as its owner role")
	maxDuration := fs.Duration("max-duration", 30*time.Second, "fail when any one migration takes longer")
	lockTimeout := fs.Duration("lock-timeout", 5*time.Second, "lock_timeout for every connection of the rehearsal")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	if *maxDuration <= 0 || *lockTimeout <= 0 {
		return errors.New("migrate rehearse: -max-duration and -lock-timeout must be positive")
	}
	if *fromURL == "" {
		return rehearseOnLatestBackup(ctx, e, *maxDuration, *lockTimeout)
	}
	target, err := pgconn.ParseConfig(*fromURL)
	if err != nil {
		return fmt.Errorf("migrate rehearse: -from-url: not a valid PostgreSQL connection string")
	}
	// A rehearsal commits its migrations: never on the configured database.
	for _, name := range []string{"DATABASE_URL", "DATABASE_OWNER_URL"} {
		if v := e.getenv(name); v != "" {
			if c, err := pgconn.ParseConfig(v); err == nil && sameDatabase(c, target) {
				return fmt.Errorf("migrate rehearse: -from-url names the database of %s; rehearse on a restored copy, never on the live database", name)
			}
		}
	}

	logger := adminLogger(e, false)
	m, err := postgres.NewMigrator(ctx, *fromURL, logger, postgres.WithLockTimeout(*lockTimeout))
	if err != nil {
		return fmt.Errorf("migrate rehearse: %w", err)
	}
	defer m.Close()
	if _, _, err := m.CheckAhead(ctx); err != nil {
		return fmt.Errorf("migrate rehearse: %w", err)
	}
	fmt.Fprintf(e.stdout, "rehearsing on %s/%s (lock_timeout %s, max %s a migration)\n",
		target.Host, target.Database, *lockTimeout, *maxDuration)
	start := time.Now()
	runs, upErr := m.UpTimed(ctx)
	if len(runs) == 0 && upErr == nil {
		fmt.Fprintln(e.stdout, "no pending migrations")
		return nil
	}
	// The migration's own SET LOCAL lock_timeout, when it has one, wins over
	// -lock-timeout inside it; the report says "lock timeout" either way.
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "MIGRATION\tDURATION\tRESULT")
	var slow []string
	for _, r := range runs {
		result := "ok"
		switch {
		case r.LockTimeout():
			result = "LOCK TIMEOUT (55P03): " + oneLine(r.Err)
		case r.StatementTimeout():
			result = "STATEMENT TIMEOUT (57014): " + oneLine(r.Err)
		case r.Err != nil:
			result = "FAILED: " + oneLine(r.Err)
		case r.Duration > *maxDuration:
			result = "TOO SLOW: over " + maxDuration.String()
		}
		if r.Duration > *maxDuration {
			slow = append(slow, r.Name)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", r.Name, r.Duration.Round(time.Millisecond), result)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "total %s\n", time.Since(start).Round(time.Millisecond))
	if upErr != nil {
		if (postgres.MigrationRun{Err: upErr}).LockTimeout() {
			name := "reading the migration state"
			if len(runs) > 0 && runs[len(runs)-1].Err != nil {
				name = runs[len(runs)-1].Name
			}
			return fmt.Errorf("migrate rehearse: lock timeout in %s: a lock was not granted within the lock_timeout; make the migration take weaker locks or split it (docs/migrations.md): %w", name, upErr)
		}
		return fmt.Errorf("migrate rehearse: %w", upErr)
	}
	if len(slow) > 0 {
		return fmt.Errorf("migrate rehearse: %d migration(s) took longer than -max-duration %s: %s",
			len(slow), *maxDuration, strings.Join(slow, ", "))
	}
	return nil
}

// sameDatabase reports whether a and b name the same database on the same server.
func sameDatabase(a, b *pgconn.Config) bool {
	return a.Host == b.Host && a.Port == b.Port && a.Database == b.Database
}

// oneLine is err's message on one line.
func oneLine(err error) string { return strings.ReplaceAll(err.Error(), "\n", " ") }

// rehearseOnLatestBackup restores the latest backup into a scratch database,
// applies the pending migrations there with lockTimeout, and fails when one
// takes longer than maxDuration (a backup rehearsal with those limits).
func rehearseOnLatestBackup(ctx context.Context, e cmdEnv, maxDuration, lockTimeout time.Duration) error {
	fs := newFlagSet("migrate rehearse", rehearseSummary)
	return withBackupDatabase(ctx, fs, nil, e, func(b *backupStore, db *database) error {
		_, adminURL, err := backupTargets(b.cfg, db)(ctx)
		if err != nil {
			return err
		}
		r, err := b.svc.Rehearse(ctx, backup.RehearseOptions{AdminURL: adminURL, Record: db.pool,
			MigrationLockTimeout: lockTimeout, MaxMigrationDuration: maxDuration})
		if r != nil {
			printRehearsal(e.stdout, r)
		}
		if err != nil {
			return fmt.Errorf("migrate rehearse: %w", err)
		}
		return nil
	})
}
