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

// watchAlerts checks the alert conditions (alert.Conditions) every
// alertEvery until the returned stop is called, posting each to n, which
// deduplicates them. backupsExpected says this process schedules backups
// (it works jobs), so that "no backup at all" alerts. A nil n watches
// nothing.
func watchAlerts(ctx context.Context, n *alert.Notifier, reader *ops.Reader, backups *backup.Service,
	backupsExpected bool, logger *slog.Logger) (stop func()) {
	if n == nil {
		return func() {}
	}
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
				return
			case <-t.C:
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

// alertingBillingIncidents returns the billing incident hook (app.Options.Alert:
// a dispute opened) that reports to error tracking, as before, and posts
// to the alert webhook.
func alertingBillingIncidents(report func(context.Context, error), n *alert.Notifier) func(context.Context, error) {
	if n == nil {
		return report
	}
	return func(ctx context.Context, err error) {
		report(ctx, err)
		_, _ = n.Notify(ctx, alert.Alert{Key: "billing:" + err.Error(), Text: "*Groundwork*: billing incident: " + err.Error()})
	}
}
