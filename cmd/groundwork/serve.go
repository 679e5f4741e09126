package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strconv"
	"syscall"
	"time"

	"github.com/groundwork-dev/groundwork/internal/alert"
	"github.com/groundwork-dev/groundwork/internal/app"
	"github.com/groundwork-dev/groundwork/internal/backup"
	"github.com/groundwork-dev/groundwork/internal/billing"
	"github.com/groundwork-dev/groundwork/internal/config"
	"github.com/groundwork-dev/groundwork/internal/doctor"
	"github.com/groundwork-dev/groundwork/internal/jobs"
	"github.com/groundwork-dev/groundwork/internal/maintenance"
	"github.com/groundwork-dev/groundwork/internal/observe"
	"github.com/groundwork-dev/groundwork/internal/ops"
	"github.com/groundwork-dev/groundwork/internal/postgres"
	"github.com/groundwork-dev/groundwork/internal/ratelimit"
	"github.com/groundwork-dev/groundwork/internal/web"
	"github.com/jackc/pgx/v5"
	"go.opentelemetry.io/otel/trace"
)

const serveSummary = `Serve HTTP on $PORT and, unless -workers=false, work background jobs.
With DATABASE_URL unset it runs the embedded PostgreSQL cluster, and in
development it applies pending migrations first. It stops gracefully on
SIGINT or SIGTERM: for GROUNDWORK_SHUTDOWN_DRAIN /readyz answers 503 while
requests are still served, then it stops accepting connections, in-flight
requests and jobs finish, and the database stops. With the embedded cluster it
restarts PostgreSQL if it dies.`

func runServe(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := newFlagSet("serve", serveSummary)
	work := fs.Bool("workers", true, "work background jobs in this process (false leaves them to \"groundwork worker\")")
	cfg, logger, err := loadCommand(fs, args, getenv, stderr)
	if err != nil {
		return err
	}
	tuneGC(getenv, logger)
	reporter, err := newReporter(cfg, logger)
	if err != nil {
		return err
	}
	defer reporter.Flush(reportFlushTimeout) // last, after requests and jobs have stopped
	tracer, err := observe.StartTracing(ctx, getenv("OTEL_EXPORTER_OTLP_ENDPOINT"), "groundwork", version)
	if err != nil {
		return err
	}
	if tracer != nil {
		defer func() { _ = tracer.Shutdown(context.WithoutCancel(ctx)) }() // flushes the last spans, after the pool closed
	}
	var queryTracer []pgx.QueryTracer  // spans of every pool's queries (runtime and River, exports, replica), when tracing
	var jobTracer trace.TracerProvider // spans of the jobs, when tracing
	if tracer != nil {
		queryTracer = append(queryTracer, postgres.NewQueryTracer(tracer))
		jobTracer = tracer
	}

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
	if cfg.Billing.Fake {
		// The built-in fake Stripe (development only): before app.New, which
		// reads its address from cfg.
		webhook := localURL(cfg.Host, ln.Addr().(*net.TCPAddr).Port) + "/webhooks/stripe"
		defer startFakeStripe(ctx, &cfg, webhook, logger)()
	}
	var metricsLn net.Listener // nil: /metrics is on the main listener (development)
	if cfg.MetricsAddr != "" {
		if metricsLn, err = net.Listen("tcp", cfg.MetricsAddr); err != nil {
			return fmt.Errorf("listen on %s (GROUNDWORK_METRICS_ADDR): %w", cfg.MetricsAddr, err)
		}
		defer metricsLn.Close()
	}

	db, err := openRuntime(ctx, cfg, logger, queryTracer...)
	if err != nil {
		return err
	}
	defer db.close(ctx, logger)
	live, stopSupervising := db.supervise(ctx, cfg, reporter.CaptureError)
	defer stopSupervising() // after the jobs have stopped, before the cluster is closed
	pool := db.pool
	schema, err := postgres.NewSchemaChecker(pool)
	if err != nil {
		return err
	}
	exportPool, err := app.OpenExportPool(ctx, cmp.Or(cfg.DatabaseDirectURL, db.runtimeURL), cfg, queryTracer...)
	if err != nil {
		return err
	}
	defer exportPool.Close()
	replica, err := app.OpenReplica(ctx, cfg, queryTracer...)
	if err != nil {
		return err
	}
	if replica != nil {
		defer replica.Pool.Close()
	}
	alerts := alert.New(cfg.AlertWebhookURL, nil, 0, logger)
	mods, err := app.New(pool, cfg, logger, app.Options{Alert: alert.Incidents(reporter.CaptureError, alerts),
		ExportPool: exportPool, Replica: replica})
	if err != nil {
		return err
	}
	backups, closeBackups, err := newBackups(ctx, cfg, logger)
	if err != nil {
		return err
	}
	defer closeBackups()

	registry := observe.NewRegistry()
	httpMetrics := observe.NewHTTPMetrics(registry)
	registry.MustRegister(postgres.NewPoolCollector(pool), postgres.NewActivityCollector(pool), jobs.NewCountsCollector(pool),
		backup.NewPitrArchiverCollector(pool), backup.NewCollector(backups, pool, logger))
	if replica != nil {
		registry.MustRegister(replica.Collector())
	}
	limiter, err := ratelimit.Open(cfg.RedisURL, cfg.RateLimits, ratelimit.NewMetrics(registry))
	if err != nil {
		return fmt.Errorf("REDIS_URL: %w", err)
	}
	defer limiter.Close()
	drain := &web.Drain{}
	jobsUI, err := newJobsUI(ctx, mods.Jobs, logger)
	if err != nil {
		return err
	}
	opsReader := ops.NewReader(pool, nil)
	requests := observe.NewRequests(nil)
	host, _ := os.Hostname()
	deployWatch := alert.NewDeployWatch(maintenance.NewStore(pool), version, requests.Totals, nil, alerts, host)
	stopAlerts := watchAlerts(ctx, alerts, deployWatch, opsReader, backups, *work, logger)
	defer stopAlerts()
	deps := web.Deps{
		Logger:        logger,
		Metrics:       httpMetrics,
		Ready:         schema.Check,
		Live:          live,
		Drain:         drain,
		Version:       web.VersionInfo{Version: version, Commit: commit, BuildTime: buildTime, Environment: cfg.Env},
		SchemaVersion: schema.Version,
		Deployments: func(ctx context.Context) ([]maintenance.Deployment, error) {
			return maintenance.NewStore(pool).Deployments(ctx, recentDeployments)
		},
		MaxBodyBytes: cfg.MaxBodyBytes,
		Sessions:     newSessions(pool, cfg),
		Accounts:     mods.Accounts,
		Orgs:         mods.Orgs,
		BaseURL:      cfg.BaseURL,
		Contacts:     mods.Contacts,
		Audit:        mods.Audit,
		Idempotency:  mods.Idempotency,
		Exports:      mods.Exports,
		Imports:      mods.Imports,
		SSO:          mods.SSO,
		Passkeys:     mods.Passkeys,
		OrgSSO:       mods.OrgSSO,
		Errors:       reporter,

		// The operator console (/ops).
		Operators:   mods.Operators,
		Requests:    requests,
		OpsSnapshot: opsReader.Snapshot,
		LastBackup: func(ctx context.Context) (*time.Time, error) {
			m, err := backups.Latest(ctx)
			if errors.Is(err, backup.ErrNotFound) {
				return nil, nil
			}
			if err != nil {
				return nil, err
			}
			return &m.FinishedAt, nil
		},
		Readiness: func(ctx context.Context) doctor.Report {
			return doctor.Run(gatherDoctorInputs(ctx, cfg, getenv, pool, backups, nil), doctor.Checks())
		},
		JobsUI: jobsUI,

		// Client IP, security headers and rate limits.
		TrustedProxies: cfg.TrustedProxies,
		Production:     cfg.Production(),
		RateLimiter:    limiter,
		OnError:        reporter.CaptureError,
	}
	if metricsLn == nil {
		deps.Gatherer = registry
	}
	if tracer != nil {
		deps.TracerProvider = tracer
	}
	if mods.Billing != nil {
		deps.Billing, deps.StripeWebhooks = mods.Billing.Service, mods.Billing.Ledger
		deps.FormActionOrigins = app.StripeFormOrigins(cfg.Billing)
		registry.MustRegister(billing.NewEventsCollector(pool))
	}
	handler := web.NewServer(deps)

	if *work {
		jobClient, err := newJobClient(mods, db, backups, cfg, logger, reporter, jobTracer)
		if err != nil {
			return err
		}
		if err := jobClient.Start(context.WithoutCancel(ctx)); err != nil {
			return fmt.Errorf("start jobs: %w", err)
		}
		defer stopJobs(ctx, jobClient, cfg, logger)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	metricsAt := localURL(cfg.Host, port) + "/metrics"
	if metricsLn != nil {
		metricsAt = "http://" + metricsLn.Addr().String() + "/metrics"
	}
	maxConns := connectionLimit(cfg, logger)
	recordStart(ctx, pool, "serve", logger)
	logger.Info("serving", "url", localURL(cfg.Host, port), "listen", ln.Addr().String(), "env", cfg.Env,
		"workers", *work, "embedded_db", cfg.Embedded(), "version", version, "metrics", metricsAt, "max_conns", maxConns)

	// The metrics listener outlives the main one, so that the drain and
	// the shutdown can be watched; it stops when the main one has.
	metricsDone := make(chan error, 1)
	stopMetrics := func() {}
	if metricsLn != nil {
		mctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		stopMetrics = cancel
		msrv := web.NewHTTPServer(web.MetricsHandler(registry, logger), logger)
		go func() {
			metricsDone <- web.Serve(mctx, msrv, metricsLn, web.ServeOptions{ShutdownTimeout: cfg.ShutdownTimeout, Logger: logger.With("listener", "metrics")})
		}()
	} else {
		metricsDone <- nil
	}
	err = web.Serve(ctx, web.NewHTTPServer(handler, logger), web.LimitConnections(ln, maxConns, httpMetrics, logger), web.ServeOptions{
		Drain: drain, DrainTimeout: cfg.ShutdownDrain, ShutdownTimeout: cfg.ShutdownTimeout, Logger: logger,
	})
	stopMetrics()
	return errors.Join(err, <-metricsDone)
}

// fdReserve is the number of file descriptors kept for everything but HTTP
// connections besides the database pool: listeners, the log, River, Redis,
// SMTP, backups, and the files the cluster's tools open.
const fdReserve = 256

// connectionLimit is GROUNDWORK_MAX_CONNS, lowered (with a warning) when the
// process's open-file limit (RLIMIT_NOFILE, which Go raises to its hard
// limit at start) leaves less room: past it, accept(2) would fail with
// EMFILE and the pool could not open connections either.
func connectionLimit(cfg config.Config, logger *slog.Logger) int {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		return cfg.MaxConns
	}
	limit, lowered := fitConnectionLimit(cfg.MaxConns, cfg.DBMaxConns, rl.Cur)
	if lowered {
		logger.Warn("GROUNDWORK_MAX_CONNS lowered to fit the open-file limit; raise the limit (ulimit -n, LimitNOFILE=) to allow more",
			"max_conns", cfg.MaxConns, "lowered_to", limit, "nofile", rl.Cur)
	}
	return limit
}

// fitConnectionLimit returns want, or the room an open-file limit of nofile
// leaves for connections after the database pool (dbConns) and fdReserve,
// if that is less (at least 1); lowered says it was less.
func fitConnectionLimit(want, dbConns int, nofile uint64) (limit int, lowered bool) {
	reserve := uint64(dbConns) + fdReserve
	room := uint64(1)
	if nofile > reserve+1 {
		room = nofile - reserve
	}
	if uint64(want) <= room {
		return want, false
	}
	return int(room), true
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
