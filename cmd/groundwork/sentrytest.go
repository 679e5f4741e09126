package main

import (
	"context"
	"errors"
	"fmt"
)

// sentryTestSummary is the description "groundwork sentry-test -h" gives.
const sentryTestSummary = `Send one test event to the Sentry project of SENTRY_DSN and wait for the
answer. It succeeds only when the ingest accepted the event; an unset
SENTRY_DSN, a refusal (such as 401, 429 or 500) or an unreachable ingest is
an error.`

// runSentryTest runs "groundwork sentry-test".
func runSentryTest(ctx context.Context, args []string, e cmdEnv) error {
	fs := newFlagSet("sentry-test", sentryTestSummary)
	cfg, logger, err := loadAdmin(fs, args, e)
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
	if err := writeSentryTest(cfg.DataDir); err != nil { // for "groundwork doctor"
		logger.Warn("sentry-test: could not record the delivery for groundwork doctor", "error", err)
	}
	fmt.Fprintf(e.stdout, "sentry-test: Sentry accepted the test event (environment %s, release %s)\n", cfg.Env, version)
	return nil
}
