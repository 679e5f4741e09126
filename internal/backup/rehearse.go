package backup

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os/exec"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/groundwork-dev/groundwork/internal/postgres"
)

// ErrorReporter receives rehearsal failures (errtrack.Reporter does).
type ErrorReporter interface {
	CaptureError(ctx context.Context, err error)
}

// RehearseOptions configure a rehearsal.
type RehearseOptions struct {
	// AdminURL connects to a maintenance database (e.g. postgres) of the
	// server to rehearse on, as a role that may CREATE DATABASE and that
	// bypasses row-level security (the embedded cluster's superuser).
	AdminURL string
	// BackupID is the backup to rehearse; "" means the newest complete one.
	BackupID string
	// Record, when set, is the live database's pool; the outcome is
	// inserted into backup_rehearsals there.
	Record *pgxpool.Pool
	// Reporter, when set, receives the failure of a rehearsal.
	Reporter ErrorReporter
	// MigrationLockTimeout, when set, is the lock_timeout of the
	// connections that migrate the restored copy.
	MigrationLockTimeout time.Duration
	// MaxMigrationDuration, when set, fails the rehearsal when one pending
	// migration takes longer than this on the restored copy.
	MaxMigrationDuration time.Duration
}

// Migration is a migration applied to the restored copy.
type Migration struct {
	Name     string
	Duration time.Duration
}

// Rehearsal is the outcome of one restore rehearsal.
type Rehearsal struct {
	BackupID  string
	StartedAt time.Time
	// Duration is the measured recovery time: creating the scratch
	// database, downloading, decrypting, restoring and checking every
	// table (not the migrations, reported separately).
	Duration      time.Duration
	BackupBytes   int64
	TablesChecked int
	Mismatches    []string
	// Amcheck says how pg_amcheck went: "ok", "skipped: ..." or its failure.
	Amcheck    string
	Migrations []Migration
	OK         bool
	Err        error
}

// Rehearse restores a backup into a scratch database on the server of
// opts.AdminURL (gw_rehearsal_<time>_<random>), checks every table against
// the manifest, runs pg_amcheck where installed, applies pending migrations
// to the copy, records the outcome, and drops the scratch database. The
// returned error is the rehearsal's failure (also in Rehearsal.Err).
func (s *Service) Rehearse(ctx context.Context, opts RehearseOptions) (*Rehearsal, error) {
	r := &Rehearsal{StartedAt: s.cfg.Clock.Now().UTC(), BackupID: opts.BackupID}
	r.Err = s.rehearse(ctx, opts, r)
	r.OK = r.Err == nil
	log := s.cfg.Logger.With("backup", r.BackupID, "duration", r.Duration.Round(time.Millisecond),
		"tables_checked", r.TablesChecked, "mismatches", len(r.Mismatches))
	if r.OK {
		log.Info("backup rehearsal ok")
	} else {
		log.Error("backup rehearsal FAILED", "error", r.Err)
		if opts.Reporter != nil {
			opts.Reporter.CaptureError(ctx, fmt.Errorf("backup rehearsal of %s failed: %w", r.BackupID, r.Err))
		}
	}
	if opts.Record != nil {
		if err := RecordRehearsal(context.WithoutCancel(ctx), opts.Record, r); err != nil {
			return r, errors.Join(r.Err, err)
		}
	}
	return r, r.Err
}

func (s *Service) rehearse(ctx context.Context, opts RehearseOptions, r *Rehearsal) error {
	var m *Manifest
	var err error
	if opts.BackupID == "" {
		m, err = s.Latest(ctx)
	} else {
		m, err = s.Manifest(ctx, opts.BackupID)
	}
	if err != nil {
		return err
	}
	r.BackupID, r.BackupBytes = m.ID, m.StoredBytes

	var b [3]byte
	_, _ = rand.Read(b[:])
	name := fmt.Sprintf("gw_rehearsal_%s_%s", r.StartedAt.Format("20060102t150405"), hex.EncodeToString(b[:]))
	scratchURL, err := withDatabase(opts.AdminURL, name)
	if err != nil {
		return err
	}
	admin, err := pgx.Connect(ctx, opts.AdminURL)
	if err != nil {
		return fmt.Errorf("connect to the rehearsal server: %w", err)
	}
	defer admin.Close(context.WithoutCancel(ctx))
	start := time.Now()
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		return fmt.Errorf("create scratch database: %w", err)
	}
	defer func() {
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		if _, err := admin.Exec(dctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
			s.cfg.Logger.Error("drop rehearsal database", "database", name, "error", err)
		}
	}()
	rep, err := s.Restore(ctx, m.ID, scratchURL, RestoreOptions{})
	r.Duration = time.Since(start)
	if rep != nil {
		r.TablesChecked, r.Mismatches = rep.TablesChecked, rep.Mismatches
	}
	if err != nil {
		return err
	}
	r.Amcheck = s.amcheck(ctx, scratchURL)
	if r.Amcheck != "ok" && !strings.HasPrefix(r.Amcheck, "skipped") {
		return fmt.Errorf("pg_amcheck: %s", r.Amcheck)
	}
	var migOpts []postgres.MigratorOption
	if opts.MigrationLockTimeout > 0 {
		migOpts = append(migOpts, postgres.WithLockTimeout(opts.MigrationLockTimeout))
	}
	mig, err := postgres.NewMigrator(ctx, scratchURL, s.cfg.Logger, migOpts...)
	if err != nil {
		return fmt.Errorf("migrate the restored copy: %w", err)
	}
	defer mig.Close()
	runs, err := mig.UpTimed(ctx)
	var slow []string
	for _, run := range runs {
		r.Migrations = append(r.Migrations, Migration{Name: run.Name, Duration: run.Duration})
		if opts.MaxMigrationDuration > 0 && run.Duration > opts.MaxMigrationDuration {
			slow = append(slow, run.Name)
		}
	}
	if err != nil {
		return fmt.Errorf("migrate the restored copy: %w", err)
	}
	if len(slow) > 0 {
		return fmt.Errorf("migrate the restored copy: %s took longer than %s", strings.Join(slow, ", "), opts.MaxMigrationDuration)
	}
	return nil
}

// amcheck runs pg_amcheck (B-tree and heap checks) on the database at dbURL.
func (s *Service) amcheck(ctx context.Context, dbURL string) string {
	bin, err := s.tool("pg_amcheck")
	if err != nil {
		return "skipped: pg_amcheck not installed"
	}
	cmdURL, password, _ := splitPassword(dbURL)
	cmd := exec.CommandContext(ctx, bin, "--install-missing", "--no-password", cmdURL)
	cmd.Env = pgEnv(password)
	out, err := cmd.CombinedOutput()
	if err != nil {
		msg := strings.TrimSpace(string(out))
		if strings.Contains(msg, "permission denied") || strings.Contains(msg, "must be superuser") || strings.Contains(msg, "could not open extension control file") {
			return "skipped: " + firstLine(msg)
		}
		return fmt.Sprintf("%v: %s", err, firstLine(msg))
	}
	return "ok"
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

// withDatabase returns conn (a URL) naming database db instead.
func withDatabase(conn, db string) (string, error) {
	u, err := url.Parse(conn)
	if err != nil || u.Scheme == "" {
		return "", errors.New("the rehearsal server must be given as a postgres:// URL")
	}
	u.Path = "/" + db
	return u.String(), nil
}

// RecordRehearsal inserts r into backup_rehearsals.
func RecordRehearsal(ctx context.Context, pool *pgxpool.Pool, r *Rehearsal) error {
	names := make([]string, len(r.Migrations))
	for i, m := range r.Migrations {
		names[i] = fmt.Sprintf("%s (%s)", m.Name, m.Duration.Round(time.Millisecond))
	}
	msg := ""
	if r.Err != nil {
		msg = r.Err.Error()
	}
	_, err := pool.Exec(ctx, `INSERT INTO backup_rehearsals
		(backup_id, started_at, duration_ms, backup_bytes, tables_checked, mismatches, migrations, ok, error)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
		r.BackupID, r.StartedAt, r.Duration.Milliseconds(), r.BackupBytes, r.TablesChecked, len(r.Mismatches), names, r.OK, msg)
	if err != nil {
		return fmt.Errorf("record the rehearsal: %w", err)
	}
	return nil
}
