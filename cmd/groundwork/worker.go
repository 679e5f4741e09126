package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/groundwork-dev/groundwork/internal/alert"
	"github.com/groundwork-dev/groundwork/internal/app"
	"github.com/groundwork-dev/groundwork/internal/observe"
	"github.com/groundwork-dev/groundwork/internal/postgres"
	"github.com/jackc/pgx/v5"
	"go.opentelemetry.io/otel/trace"
)

const workerSummary = `Work background jobs without serving HTTP, to split heavy queues off the
serving processes. Any number may run; River coordinates them through
PostgreSQL. It stops gracefully on SIGINT or SIGTERM.`

func runWorker(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := newFlagSet("worker", workerSummary)
	cfg, logger, err := loadCommand(fs, args, getenv, stderr)
	if err != nil {
		return err
	}
	if cfg.Billing.Fake {
		// The fake's state lives in one serve process; another process
		// cannot reach it.
		return errors.New("GROUNDWORK_STRIPE: the fake Stripe runs inside \"groundwork serve\" (with its workers); a separate worker cannot reach it")
	}
	reporter, err := newReporter(cfg, logger)
	if err != nil {
		return err
	}
	defer reporter.Flush(reportFlushTimeout) // last, after jobs have stopped
	tracer, err := observe.StartTracing(ctx, getenv("OTEL_EXPORTER_OTLP_ENDPOINT"), "groundwork", version)
	if err != nil {
		return err
	}
	var queryTracer []pgx.QueryTracer // spans of the jobs and their queries, when tracing
	var jobTracer trace.TracerProvider
	if tracer != nil {
		defer func() { _ = tracer.Shutdown(context.WithoutCancel(ctx)) }() // flushes the last spans
		queryTracer = append(queryTracer, postgres.NewQueryTracer(tracer))
		jobTracer = tracer
	}
	db, err := openRuntime(ctx, cfg, logger, queryTracer...)
	if err != nil {
		return err
	}
	defer db.close(ctx, logger)
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
	mods, err := app.New(db.pool, cfg, logger, app.Options{Alert: alert.Incidents(reporter.CaptureError, alert.New(cfg.AlertWebhookURL, nil, 0, logger)), ExportPool: exportPool,
		Replica: replica})
	if err != nil {
		return err
	}
	backups, closeBackups, err := newBackups(ctx, cfg, logger)
	if err != nil {
		return err
	}
	defer closeBackups()
	jobClient, err := newJobClient(mods, db, backups, cfg, logger, reporter, jobTracer)
	if err != nil {
		return err
	}
	if err := jobClient.Start(context.WithoutCancel(ctx)); err != nil {
		return fmt.Errorf("start jobs: %w", err)
	}
	recordStart(ctx, db.pool, "worker", logger)
	logger.Info("working jobs", "env", cfg.Env, "version", version)
	<-ctx.Done()
	logger.Info("stopping")
	stopJobs(ctx, jobClient, cfg, logger)
	return nil
}
