package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/groundwork-dev/groundwork/internal/maintenance"
)

// recentDeployments is how many starts /version lists.
const recentDeployments = 10

// recordStart records this process's start (role "serve" or "worker") in
// the deployments table: what runs in production, answered by
// "groundwork releases" and /version. A failure is logged, not fatal: the
// process serves all the same.
func recordStart(ctx context.Context, pool *pgxpool.Pool, role string, logger *slog.Logger) {
	host, _ := os.Hostname()
	err := maintenance.NewStore(pool).RecordStart(ctx, maintenance.Deployment{Role: role, Version: version,
		Commit: commit, BuildTime: buildTime, Host: host, PID: os.Getpid()})
	if err != nil {
		logger.Warn("record deployment", "error", err)
	}
}

// runReleases runs "groundwork releases".
func runReleases(ctx context.Context, args []string, e cmdEnv) error {
	fs := newFlagSet("releases", "List the recent starts of serve and worker, newest first: when, which role,\nversion, commit and host. Every start records itself.")
	limit := fs.Int("limit", 20, "how many starts to list")
	return withAdmin(ctx, fs, args, e, func(a *admin) error {
		list, err := maintenance.NewStore(a.db.pool).Deployments(ctx, max(*limit, 1))
		if err != nil {
			return fmt.Errorf("releases: %w", err)
		}
		tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "STARTED\tROLE\tVERSION\tCOMMIT\tBUILT\tHOST")
		for _, d := range list {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", d.StartedAt.UTC().Format(time.RFC3339), d.Role, d.Version,
				d.Commit, d.BuildTime, d.Host)
		}
		return tw.Flush()
	})
}
