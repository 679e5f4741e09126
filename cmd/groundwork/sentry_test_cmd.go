package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/groundwork-dev/groundwork/internal/config"
	"github.com/groundwork-dev/groundwork/internal/errtrack"
)

// reportFlushTimeout bounds how long a stopping process waits for queued
// error reports to be sent.
const reportFlushTimeout = 5 * time.Second

// newReporter is the error tracking of SENTRY_DSN, tagged with
// GROUNDWORK_ENV and this build's version; nil (a no-op) when SENTRY_DSN is
// unset.
func newReporter(cfg config.Config, logger *slog.Logger) (*errtrack.Reporter, error) {
	r, err := errtrack.New(cfg.SentryDSN, cfg.Env, version, logger)
	if err != nil {
		return nil, fmt.Errorf("SENTRY_DSN: %w", err)
	}
	return r, nil
}

const sentryTestSummary = `Send one test event to the Sentry project of SENTRY_DSN and wait for the
answer. It succeeds only when the ingest accepted the event; an unset
SENTRY_DSN, a refusal (such as 401, 429 or 500) or an unreachable ingest is
an error.`

func runSentryTest(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := newFlagSet("sentry-test", sentryTestSummary, stderr)
	cfg, logger, err := loadCommand(fs, args, getenv, stderr)
	if err != nil {
		return err
	}
	if cfg.SentryDSN == "" {
		return errors.New("sentry-test: SENTRY_DSN is not set, so error tracking is off; set it to your Sentry project's DSN")
	}
	reporter, err := newReporter(cfg, logger)
	if err != nil {
		return err
	}
	if err := reporter.SendTest(ctx); err != nil {
		return fmt.Errorf("sentry-test: %w", err)
	}
	fmt.Fprintf(stdout, "sentry-test: Sentry accepted the test event (environment %s, release %s)\n", cfg.Env, version)
	return nil
}
