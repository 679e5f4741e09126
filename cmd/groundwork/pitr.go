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

// pitrAbout is the description "groundwork backup pitr -h" gives.
const pitrAbout = `Point-in-time recovery of the embedded PostgreSQL cluster with pgBackRest:
WAL archiving into $GROUNDWORK_DATA_DIR/pitr-repo and base backups. With
DATABASE_URL set, configure pgBackRest on the database server instead.

Restore to a point in time: groundwork restore --at TIME --into DIR`

// runPitrSetup runs "groundwork backup pitr setup".
func runPitrSetup(ctx context.Context, args []string, e cmdEnv) error {
	fs := newFlagSet("backup pitr setup", "Turn on WAL archiving into $GROUNDWORK_DATA_DIR/pitr-repo (restarting\nPostgreSQL the first time), create the stanza, check it and take a full\nbackup. Run it again to re-check and take a fresh full backup.")
	return withPitrCluster(ctx, fs, args, e, func(cfg config.Config, logger *slog.Logger, db *database) error {
		res, err := backup.PitrSetup(ctx, db.local, cfg.DataDir, logger)
		if err != nil {
			return err
		}
		if res.Restarted {
			fmt.Fprintln(e.stdout, "restarted PostgreSQL to turn on WAL archiving")
		}
		fmt.Fprintf(e.stdout, "WAL archiving on: repository %s, configuration %s\nfull backup %s taken\n", res.Paths.Repo, res.Paths.Config, res.Backup)
		return nil
	})
}

// runPitrStatus runs "groundwork backup pitr status".
func runPitrStatus(ctx context.Context, args []string, e cmdEnv) error {
	fs := newFlagSet("backup pitr status", "Show the repository's backups and WAL range, and the archiver's counters;\nfail when the repository's status is not ok.")
	return withPitrCluster(ctx, fs, args, e, func(cfg config.Config, logger *slog.Logger, db *database) error {
		info, err := backup.PitrInfo(ctx, cfg.DataDir)
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "repository %s: %s\n", info.Repository, info.Status)
		for _, b := range info.Backups {
			fmt.Fprintf(e.stdout, "  backup %s (%s) %s .. %s\n", b.Label, b.Type, b.Start.Format(time.RFC3339), b.Stop.Format(time.RFC3339))
		}
		fmt.Fprintf(e.stdout, "  WAL %s .. %s\n", info.WALMin, info.WALMax)
		pool, err := pgxpool.New(ctx, db.local.SuperuserURL("postgres"))
		if err != nil {
			return err
		}
		defer pool.Close()
		s, err := backup.PitrArchiverStats(ctx, pool)
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "archiver: %d archived, %d failed, last archived %s at %s, last failure %s\n",
			s.ArchivedCount, s.FailedCount, s.LastArchivedWAL, pitrTime(s.LastArchived), pitrTime(s.LastFailed))
		if info.Status != "ok" {
			return fmt.Errorf("backup pitr status: repository status %q", info.Status)
		}
		return nil
	})
}

// runPitrVerify runs "groundwork backup pitr verify".
func runPitrVerify(ctx context.Context, args []string, e cmdEnv) error {
	fs := newFlagSet("backup pitr verify", "Check the repository's backups and WAL (pgbackrest verify); fail on any damage.")
	cfg, logger, err := loadAdmin(fs, args, e)
	if err != nil {
		return err
	}
	res, err := backup.PitrVerify(ctx, cfg.DataDir, logger)
	fmt.Fprint(e.stdout, res.Output)
	if err != nil {
		return err
	}
	fmt.Fprintln(e.stdout, "repository verified: no problems")
	return nil
}

// runPitrRehearse runs "groundwork backup pitr rehearse".
func runPitrRehearse(ctx context.Context, args []string, e cmdEnv) error {
	fs := newFlagSet("backup pitr rehearse", "Restore to now minus -minus into a temp dir and check that the newest\nheartbeat is within -rpo of that time.")
	minus := fs.Duration("minus", 5*time.Minute, "how far back to restore")
	rpo := fs.Duration("rpo", backup.PitrRPO, "recovery point objective: the newest heartbeat may be at most this old at the target")
	cfg, logger, err := loadAdmin(fs, args, e)
	if err != nil {
		return err
	}
	res, err := backup.PitrRehearse(ctx, cfg.DataDir, time.Now().Add(-*minus), *rpo, logger)
	fmt.Fprintf(e.stdout, "rehearsal to %s: newest heartbeat %s (%s before the target, RPO %s), took %s\n",
		res.Target.Format(time.RFC3339), pitrTime(res.Heartbeat), res.Lag.Round(time.Second), res.RPO, res.Elapsed.Round(time.Millisecond))
	if err != nil {
		return fmt.Errorf("backup pitr rehearse: rehearsal failed: %w", err)
	}
	fmt.Fprintln(e.stdout, "rehearsal passed")
	return nil
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
func withPitrCluster(ctx context.Context, fs *flag.FlagSet, args []string, e cmdEnv,
	fn func(cfg config.Config, logger *slog.Logger, db *database) error) error {
	cfg, logger, err := loadAdmin(fs, args, e)
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

// pitrTime formats t for the PITR reports: RFC 3339 in UTC, or "never".
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
