package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/user"
	"strconv"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/groundwork-dev/groundwork/internal/backup"
	"github.com/groundwork-dev/groundwork/internal/config"
)

const pitrUsage = `Usage: groundwork backup pitr setup|status|verify|rehearse [flags]

Point-in-time recovery of the embedded PostgreSQL cluster with pgBackRest.

  setup     turn on WAL archiving into $GROUNDWORK_DATA_DIR/pitr-repo (restarts
            PostgreSQL the first time), create the stanza, check, take a full backup
  status    show the repository's backups, WAL range and the archiver's counters
  verify    check the repository's backups and WAL; fails on any damage
  rehearse  [-minus 5m] [-rpo 2m] restore to now minus 5 minutes into a temp dir
            and check the newest heartbeat is within the RPO of the target

Restore to a point in time: groundwork restore --at TIME --into DIR
`

// runPitr runs "groundwork backup pitr ...": args start after "pitr".
func runPitr(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, pitrUsage)
		return errors.New("backup pitr: say setup, status, verify or rehearse")
	}
	switch args[0] {
	case "setup":
		fs := newFlagSet("backup pitr setup", "Configure WAL archiving with pgBackRest for the embedded cluster and take a full backup.", stderr)
		return withPitrCluster(ctx, fs, args[1:], getenv, stderr, func(cfg config.Config, logger *slog.Logger, db *database) error {
			res, err := backup.PitrSetup(ctx, db.local, cfg.DataDir, logger)
			if err != nil {
				return err
			}
			if res.Restarted {
				fmt.Fprintln(stdout, "restarted PostgreSQL to turn on WAL archiving")
			}
			fmt.Fprintf(stdout, "WAL archiving on: repository %s, configuration %s\nfull backup %s taken\n", res.Paths.Repo, res.Paths.Config, res.Backup)
			return nil
		})
	case "status":
		fs := newFlagSet("backup pitr status", "Show the repository's backups and WAL range, and the archiver's counters.", stderr)
		return withPitrCluster(ctx, fs, args[1:], getenv, stderr, func(cfg config.Config, logger *slog.Logger, db *database) error {
			info, err := backup.PitrInfo(ctx, cfg.DataDir)
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "repository %s: %s\n", info.Repository, info.Status)
			for _, b := range info.Backups {
				fmt.Fprintf(stdout, "  backup %s (%s) %s .. %s\n", b.Label, b.Type, b.Start.Format(time.RFC3339), b.Stop.Format(time.RFC3339))
			}
			fmt.Fprintf(stdout, "  WAL %s .. %s\n", info.WALMin, info.WALMax)
			pool, err := pgxpool.New(ctx, db.local.SuperuserURL("postgres"))
			if err != nil {
				return err
			}
			defer pool.Close()
			s, err := backup.PitrArchiverStats(ctx, pool)
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "archiver: %d archived, %d failed, last archived %s at %s, last failure %s\n",
				s.ArchivedCount, s.FailedCount, s.LastArchivedWAL, pitrTime(s.LastArchived), pitrTime(s.LastFailed))
			if info.Status != "ok" {
				return fmt.Errorf("backup pitr status: repository status %q", info.Status)
			}
			return nil
		})
	case "verify":
		fs := newFlagSet("backup pitr verify", "Check the repository's backups and WAL (pgbackrest verify); fails on any damage.", stderr)
		cfg, logger, err := loadCommand(fs, args[1:], getenv, stderr)
		if err != nil {
			return err
		}
		res, err := backup.PitrVerify(ctx, cfg.DataDir, logger)
		fmt.Fprint(stdout, res.Output)
		if err != nil {
			return err
		}
		fmt.Fprintln(stdout, "repository verified: no problems")
		return nil
	case "rehearse":
		fs := newFlagSet("backup pitr rehearse", "Restore to now minus -minus into a temp dir and check the newest heartbeat is within -rpo of that time.", stderr)
		minus := fs.Duration("minus", 5*time.Minute, "how far back to restore")
		rpo := fs.Duration("rpo", backup.PitrRPO, "recovery point objective: the newest heartbeat may be at most this old at the target")
		cfg, logger, err := loadCommand(fs, args[1:], getenv, stderr)
		if err != nil {
			return err
		}
		res, err := backup.PitrRehearse(ctx, cfg.DataDir, time.Now().Add(-*minus), *rpo, logger)
		fmt.Fprintf(stdout, "rehearsal to %s: newest heartbeat %s (%s before the target, RPO %s), took %s\n",
			res.Target.Format(time.RFC3339), pitrTime(res.Heartbeat), res.Lag.Round(time.Second), res.RPO, res.Elapsed.Round(time.Millisecond))
		if err != nil {
			return fmt.Errorf("rehearsal failed: %w", err)
		}
		fmt.Fprintln(stdout, "rehearsal passed")
		return nil
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, pitrUsage)
		return nil
	}
	fmt.Fprint(stderr, pitrUsage)
	return fmt.Errorf("backup pitr: unknown subcommand %q", args[0])
}

// runPitrRestore restores the embedded cluster's PITR repository to the
// RFC 3339 time at into the new directory into, and prints how to start it.
// It is the --at branch of "groundwork restore".
func runPitrRestore(ctx context.Context, cfg config.Config, logger *slog.Logger, at, into string, stdout io.Writer) error {
	target, err := time.Parse(time.RFC3339Nano, at)
	if err != nil {
		return fmt.Errorf("restore --at %q: want an RFC 3339 time such as 2026-01-02T15:04:05Z", at)
	}
	if into == "" {
		return errors.New("restore --at: --into DIR is required (a new, empty directory)")
	}
	res, err := backup.PitrRestore(ctx, backup.PitrRestoreOptions{DataDir: cfg.DataDir, Into: into, Target: target, Logger: logger})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "restored to %s into %s (stopped; archiving off, port %d)\nstart it with:\n  %s\n",
		target.UTC().Format(time.RFC3339), res.PGData, res.Port, res.StartCommand(pitrOwnerName(res.PGData)))
	return nil
}

// withPitrCluster loads the configuration, starts (or reuses) the embedded
// cluster and runs fn.
func withPitrCluster(ctx context.Context, fs *flag.FlagSet, args []string, getenv func(string) string, stderr io.Writer,
	fn func(cfg config.Config, logger *slog.Logger, db *database) error) error {
	cfg, logger, err := loadCommand(fs, args, getenv, stderr)
	if err != nil {
		return err
	}
	if !cfg.Embedded() {
		return errors.New("backup pitr: only the embedded cluster is supported (DATABASE_URL is set); configure pgBackRest on the database server")
	}
	db, err := openDatabase(ctx, cfg, logger)
	if err != nil {
		return err
	}
	defer db.close(ctx, logger)
	return fn(cfg, logger, db)
}

func pitrTime(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return t.UTC().Format(time.RFC3339)
}

// pitrOwnerName is the user to start a restored cluster as when we are root.
func pitrOwnerName(path string) string {
	fi, err := os.Stat(path)
	if err != nil || os.Geteuid() != 0 {
		return ""
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok || st.Uid == 0 {
		return ""
	}
	if u, err := user.LookupId(strconv.Itoa(int(st.Uid))); err == nil {
		return u.Username
	}
	return ""
}
