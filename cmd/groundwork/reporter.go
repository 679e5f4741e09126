package main

import (
	"fmt"
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
