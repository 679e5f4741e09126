package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"strconv"

	"github.com/groundwork-dev/groundwork/internal/app"
	"github.com/groundwork-dev/groundwork/internal/backup"
	"github.com/groundwork-dev/groundwork/internal/billing"
	"github.com/groundwork-dev/groundwork/internal/jobs"
	"github.com/groundwork-dev/groundwork/internal/observe"
	"github.com/groundwork-dev/groundwork/internal/postgres"
	"github.com/groundwork-dev/groundwork/internal/ratelimit"
	"github.com/groundwork-dev/groundwork/internal/web"
)

const serveSummary = `Serve HTTP on $PORT and, unless -workers=false, work background jobs.
With DATABASE_URL unset it runs the embedded PostgreSQL cluster, and in
development it applies pending migrations first. It stops gracefully on
SIGINT or SIGTERM: in-flight requests and jobs finish, then the database stops.`

func runServe(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := newFlagSet("serve", serveSummary)
	work := fs.Bool("workers", true, "work background jobs in this process (false leaves them to \"groundwork worker\")")
	cfg, logger, err := loadCommand(fs, args, getenv, stderr)
	if err != nil {
		return err
	}
	reporter, err := newReporter(cfg, logger)
	if err != nil {
		return err
	}
	defer reporter.Flush(reportFlushTimeout) // last, after requests and jobs have stopped

	if cfg.Embedded() {
		unlock, err := postgres.LockServe(cfg.DataDir)
		if err != nil {
			return err
		}
		defer unlock()
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(cfg.Host, strconv.Itoa(cfg.Port)))
	if err != nil {
		return fmt.Errorf("listen on %s port %d (HOST, PORT): %w", cfg.Host, cfg.Port, err)
	}
	defer ln.Close()

	db, err := openRuntime(ctx, cfg, logger)
	if err != nil {
		return err
	}
	defer db.close(ctx, logger)
	pool := db.pool
	schema, err := postgres.NewSchemaChecker(pool)
	if err != nil {
		return err
	}
	exportPool, err := app.OpenExportPool(ctx, db.runtimeURL, cfg)
	if err != nil {
		return err
	}
	defer exportPool.Close()
	mods, err := app.New(pool, cfg, logger, app.Options{Alert: reporter.CaptureError, ExportPool: exportPool})
	if err != nil {
		return err
	}
	backups, closeBackups, err := newBackups(ctx, cfg, logger)
	if err != nil {
		return err
	}
	defer closeBackups()

	registry := observe.NewRegistry()
	registry.MustRegister(postgres.NewPoolCollector(pool), jobs.NewCountsCollector(pool),
		backup.NewPitrArchiverCollector(pool), backup.NewCollector(backups, pool, logger))
	limiter, err := ratelimit.Open(cfg.RedisURL, cfg.RateLimits, ratelimit.NewMetrics(registry))
	if err != nil {
		return fmt.Errorf("REDIS_URL: %w", err)
	}
	defer limiter.Close()
	deps := web.Deps{
		Logger:        logger,
		Metrics:       observe.NewHTTPMetrics(registry),
		Gatherer:      registry,
		Ready:         schema.Check,
		Version:       web.VersionInfo{Version: version, Commit: commit, BuildTime: buildTime},
		SchemaVersion: schema.Version,
		MaxBodyBytes:  cfg.MaxBodyBytes,
		Sessions:      newSessions(pool, cfg),
		Accounts:      mods.Accounts,
		Orgs:          mods.Orgs,
		Contacts:      mods.Contacts,
		Audit:         mods.Audit,
		Exports:       mods.Exports,
		Errors:        reporter,

		// Client IP, security headers and rate limits.
		TrustedProxies: cfg.TrustedProxies,
		Production:     cfg.Production(),
		RateLimiter:    limiter,
		OnError:        reporter.CaptureError,
	}
	if mods.Billing != nil {
		deps.Billing, deps.StripeWebhooks = mods.Billing.Service, mods.Billing.Ledger
		deps.FormActionOrigins = app.StripeFormOrigins(cfg.Billing)
		registry.MustRegister(billing.NewEventsCollector(pool))
	}
	handler := web.NewServer(deps)

	if *work {
		jobClient, err := newJobClient(mods, db, backups, cfg, logger, reporter)
		if err != nil {
			return err
		}
		if err := jobClient.Start(context.WithoutCancel(ctx)); err != nil {
			return fmt.Errorf("start jobs: %w", err)
		}
		defer stopJobs(ctx, jobClient, cfg, logger)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	logger.Info("serving", "url", localURL(cfg.Host, port), "listen", ln.Addr().String(), "env", cfg.Env,
		"workers", *work, "embedded_db", cfg.Embedded(), "version", version)
	return web.Serve(ctx, web.NewHTTPServer(handler, logger), ln, cfg.ShutdownTimeout, logger)
}

// localURL is the URL to reach a server listening on host and port from
// this machine: localhost for the loopback and wildcard addresses.
func localURL(host string, port int) string {
	switch host {
	case "127.0.0.1", "::1", "0.0.0.0", "::", "localhost":
		host = "localhost"
	}
	return "http://" + net.JoinHostPort(host, strconv.Itoa(port))
}
