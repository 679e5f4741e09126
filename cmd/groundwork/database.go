package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/groundwork-dev/groundwork/internal/config"
	"github.com/groundwork-dev/groundwork/internal/postgres"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// database is where a command's data lives: an external server named by
// DATABASE_URL, or the embedded cluster under the data dir.
type database struct {
	runtimeURL string
	ownerURL   string // "" when an external server has no DATABASE_OWNER_URL
	local      *postgres.Local
	pool       *pgxpool.Pool // the runtime pool, opened by openRuntime
}

// openDatabase starts (or reuses) the embedded cluster when DATABASE_URL is
// unset, and otherwise just names the configured server.
func openDatabase(ctx context.Context, cfg config.Config, logger *slog.Logger) (*database, error) {
	if !cfg.Embedded() {
		return &database{runtimeURL: cfg.DatabaseURL, ownerURL: cfg.DatabaseOwnerURL}, nil
	}
	local, err := postgres.StartLocal(ctx, postgres.LocalOptions{DataDir: cfg.DataDir, Logger: logger})
	if err != nil {
		return nil, fmt.Errorf("embedded PostgreSQL: %w", err)
	}
	return &database{runtimeURL: local.RuntimeURL(), ownerURL: local.OwnerURL(), local: local}, nil
}

// openRuntime opens the database, makes sure its schema is current
// (prepareSchema), and opens the runtime connection pool, its queries
// traced by tracer when given.
func openRuntime(ctx context.Context, cfg config.Config, logger *slog.Logger, tracer ...pgx.QueryTracer) (*database, error) {
	db, err := openDatabase(ctx, cfg, logger)
	if err != nil {
		return nil, err
	}
	if err := prepareSchema(ctx, cfg, db, logger); err != nil {
		db.close(ctx, logger)
		return nil, err
	}
	if db.pool, err = postgres.Open(ctx, db.runtimeURL, cfg.DBMaxConns, tracer...); err != nil {
		db.close(ctx, logger)
		return nil, err
	}
	return db, nil
}

// supervise keeps the embedded cluster running while serve runs (see
// postgres.Local.Supervise): a postmaster that dies is restarted with
// backoff, and live, for /healthz, fails once it has stayed down longer
// than GROUNDWORK_DB_RECOVERY_TIMEOUT. stop ends the supervision; call it
// before close. With an external server there is nothing to supervise:
// live is nil (always alive) — restarting this process would not bring
// that server back.
func (d *database) supervise(ctx context.Context, cfg config.Config, alert func(context.Context, error)) (live func(context.Context) error, stop func()) {
	if d.local == nil {
		return nil, func() {}
	}
	ctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s := d.local.Supervise(ctx, postgres.SuperviseOptions{RecoveryTimeout: cfg.DBRecoveryTimeout, Alert: alert})
	return s.Healthy, func() {
		cancel()
		s.Wait()
	}
}

// close closes the runtime pool, if open, and stops the embedded cluster if
// this was its last user.
func (d *database) close(ctx context.Context, logger *slog.Logger) {
	if d.pool != nil {
		d.pool.Close()
	}
	if d.local == nil {
		return
	}
	if err := d.local.Close(context.WithoutCancel(ctx)); err != nil {
		logger.Error("stop embedded PostgreSQL", "error", err)
	}
}

// requireOwner returns the owner URL, or an error explaining how to give one.
func (d *database) requireOwner() (string, error) {
	if d.ownerURL == "" {
		return "", errors.New("DATABASE_OWNER_URL: required to change the schema of an external database (DATABASE_URL is the runtime role, which has no DDL rights)")
	}
	return d.ownerURL, nil
}

// prepareSchema makes sure the schema is current before serving or working.
// In development with an owner role it applies pending migrations; otherwise
// it refuses to go on while any are pending, naming them.
func prepareSchema(ctx context.Context, cfg config.Config, db *database, logger *slog.Logger) error {
	if !cfg.Production() && db.ownerURL != "" {
		m, err := postgres.NewMigrator(ctx, db.ownerURL, logger)
		if err != nil {
			return err
		}
		defer m.Close()
		if err := checkSchemaAhead(ctx, m, logger); err != nil {
			return err
		}
		applied, err := m.Up(ctx)
		if len(applied) > 0 {
			logger.Info("applied migrations", "migrations", strings.Join(applied, ", "))
		}
		return err
	}
	url := db.ownerURL
	if url == "" {
		url = db.runtimeURL
	}
	m, err := postgres.NewMigrator(ctx, url, logger)
	if err != nil {
		return err
	}
	defer m.Close()
	if err := checkSchemaAhead(ctx, m, logger); err != nil {
		return err
	}
	pending, err := m.Pending(ctx)
	if err != nil {
		return fmt.Errorf("check migrations (has \"groundwork migrate up\" run?): %w", err)
	}
	if len(pending) > 0 {
		return fmt.Errorf("%d migration(s) pending: %s; run \"groundwork migrate up\" first",
			len(pending), strings.Join(pending, ", "))
	}
	return nil
}

// checkSchemaAhead refuses a database that has migrations this binary does
// not know, unless it is one migration ahead and that migration is marked
// backward compatible (a rolling deploy: the newer release migrated, this
// one still serves); then it logs a warning and lets it be.
func checkSchemaAhead(ctx context.Context, m *postgres.Migrator, logger *slog.Logger) error {
	version, ahead, err := m.CheckAhead(ctx)
	if err != nil {
		return err
	}
	if ahead {
		logger.Warn("database schema is one migration ahead of this binary; running on it because that migration is marked backward compatible; deploy the newer version",
			"database_version", version, "binary_version", postgres.LatestVersion())
	}
	return nil
}
