package main

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"time"

	"github.com/groundwork-dev/groundwork/internal/alert"
	"github.com/groundwork-dev/groundwork/internal/backup"
	"github.com/groundwork-dev/groundwork/internal/ops"
)

// alertEvery is how often serve looks for alert conditions.
const alertEvery = time.Minute

// watchAlerts, every alertEvery until the returned stop is called, stores
// this instance's request counts under its version (deploy.Flush), checks
// for an error rise after a deploy (deploy.Check) and checks the alert
// conditions (alert.Conditions), posting each to n, which deduplicates
// them. backupsExpected says this process schedules backups (it works
// jobs), so that "no backup at all" alerts. A nil n alerts nothing; the
// counts are stored all the same, for the next version to compare with.
func watchAlerts(ctx context.Context, n *alert.Notifier, deploy *alert.DeployWatch, reader *ops.Reader, backups *backup.Service,
	backupsExpected bool, logger *slog.Logger) (stop func()) {
	ctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	host, _ := os.Hostname()
	go func() {
		defer close(done)
		t := time.NewTicker(alertEvery)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				_ = deploy.Flush(context.WithoutCancel(ctx)) // the last minute's counts
				return
			case <-t.C:
			}
			if err := deploy.Flush(ctx); err != nil {
				logger.WarnContext(ctx, "alerts: store the version's request counts", "error", err)
			} else if _, err := deploy.Check(ctx); err != nil {
				logger.WarnContext(ctx, "alerts: check the error rate after the deploy", "error", err)
			}
			if n == nil {
				continue
			}
			snap := reader.Snapshot(ctx)
			var last *time.Time
			if m, err := backups.Latest(ctx); err == nil {
				last = &m.FinishedAt
			} else if !errors.Is(err, backup.ErrNotFound) {
				logger.WarnContext(ctx, "alerts: read the newest backup", "error", err)
				continue
			}
			for _, a := range alert.Conditions(snap, last, backupsExpected, time.Now(), host) {
				_, _ = n.Notify(ctx, a) // failures are logged by Notify, retried next time
			}
		}
	}()
	return func() { cancel(); <-done }
}
