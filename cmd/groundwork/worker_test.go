package main

import (
	"context"
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/groundwork-dev/groundwork/internal/postgres"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
)

// TestWorkerWorksJobsForServeWithoutWorkers splits the roles: serve
// -workers=false only serves, and a separate `groundwork worker` on the same
// embedded cluster works the periodic jobs, then stops cleanly.
func TestWorkerWorksJobsForServeWithoutWorkers(t *testing.T) {
	t.Parallel()
	dir := dataDir(t)
	env := map[string]string{"GROUNDWORK_DATA_DIR": dir, "PORT": "0"}
	s := startServe(t, env, "-workers=false")
	waitReady(t, s.url)

	local, err := postgres.StartLocal(context.Background(), postgres.LocalOptions{DataDir: dir, Logger: discardLogger()})
	require.NoError(t, err)
	defer local.Close(context.Background())
	conn, err := pgx.Connect(context.Background(), local.RuntimeURL())
	require.NoError(t, err)
	defer conn.Close(context.Background())
	heartbeats := func() int {
		var n int
		require.NoError(t, conn.QueryRow(context.Background(), `SELECT count(*) FROM heartbeats`).Scan(&n))
		return n
	}
	require.Zero(t, heartbeats(), "serve -workers=false works no jobs")

	// The worker traces its jobs to an OTLP receiver (serve does not).
	rcv := &otlpSpans{}
	collector := httptest.NewServer(rcv)
	defer collector.Close()
	workerEnv := map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": collector.URL, "OTEL_BSP_SCHEDULE_DELAY": "100"}
	for k, v := range env {
		workerEnv[k] = v
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	logs := &syncBuffer{}
	go func() {
		done <- run(ctx, []string{"groundwork", "worker"}, envFunc(workerEnv), strings.NewReader(""), io.Discard, logs)
	}()
	require.Eventually(t, func() bool { return heartbeats() > 0 }, 30*time.Second, 50*time.Millisecond, "logs:\n%s", logs)

	cancel()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(30 * time.Second):
		t.Fatal("worker did not stop")
	}
	require.Contains(t, logs.String(), "working jobs")
	require.True(t, rcv.queryUnder("river.work/"), "the worker's job spans, with their queries, are flushed by the time it stops")
	out, _, err := runCmd(t, env, "releases")
	require.NoError(t, err)
	require.Regexp(t, `\sworker\s+dev\s`, out, "the worker's start is recorded")
	require.Regexp(t, `\sserve\s+dev\s`, out)
	require.NoError(t, s.stop(t))
}
