package main

import (
	"context"
	"fmt"
	"io"

	"github.com/groundwork-dev/groundwork/internal/config"
	"github.com/groundwork-dev/groundwork/internal/observe"
	"github.com/groundwork-dev/groundwork/internal/postgres"
)

const workerSummary = `Work background jobs without serving HTTP, to split heavy queues off the
serving processes. Any number may run; River coordinates them through
PostgreSQL. It stops gracefully on SIGINT or SIGTERM.`

func runWorker(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := newFlagSet("worker", workerSummary, stderr)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	cfg, err := config.Load(getenv)
	if err != nil {
		return err
	}
	logger := observe.NewLogger(stderr, cfg.Production(), cfg.LogLevel)
	db, err := openDatabase(ctx, cfg, logger)
	if err != nil {
		return err
	}
	defer db.close(ctx, logger)
	if err := prepareSchema(ctx, cfg, db, logger); err != nil {
		return err
	}
	pool, err := postgres.Open(ctx, db.runtimeURL, cfg.DBMaxConns)
	if err != nil {
		return err
	}
	defer pool.Close()
	jobClient, err := newJobClient(pool, cfg, logger, true)
	if err != nil {
		return err
	}
	if err := jobClient.Start(context.WithoutCancel(ctx)); err != nil {
		return fmt.Errorf("start jobs: %w", err)
	}
	logger.Info("working jobs", "env", cfg.Env, "version", version)
	<-ctx.Done()
	logger.Info("stopping")
	stopJobs(ctx, jobClient, cfg, logger)
	return nil
}
