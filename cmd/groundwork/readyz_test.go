package main

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/groundwork-dev/groundwork/internal/postgres"
	"github.com/groundwork-dev/groundwork/internal/web"
	"github.com/stretchr/testify/require"
)

// TestReadyzFollowsTheDatabase wires /readyz to a real schema check: 200 when
// the database answers with a current schema, 503 with the reason when the
// schema is behind or the database is down, and 200 again once it is back.
// The public body says only "unavailable"; the reason goes to the log.
func TestReadyzFollowsTheDatabase(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := dataDir(t)
	opts := postgres.LocalOptions{DataDir: dir, Logger: discardLogger()}
	local, err := postgres.StartLocal(ctx, opts)
	require.NoError(t, err)
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			_ = local.Close(ctx)
		}
	})
	m, err := postgres.NewMigrator(ctx, local.OwnerURL(), discardLogger())
	require.NoError(t, err)
	_, err = m.Up(ctx)
	require.NoError(t, err)

	pool, err := postgres.Open(ctx, local.RuntimeURL(), 4)
	require.NoError(t, err)
	defer pool.Close()
	schema, err := postgres.NewSchemaChecker(pool)
	require.NoError(t, err)
	var logs syncBuffer
	logger := slog.New(slog.NewTextHandler(&logs, nil))
	srv := httptest.NewServer(web.NewServer(web.Deps{Logger: logger, Ready: schema.Check, MaxBodyBytes: 1 << 20}))
	defer srv.Close()

	status, body := get(t, srv.URL+"/readyz")
	require.Equal(t, http.StatusOK, status, body)

	_, err = m.Down(ctx)
	require.NoError(t, err)
	status, body = get(t, srv.URL+"/readyz")
	require.Equal(t, http.StatusServiceUnavailable, status)
	require.JSONEq(t, `{"status":"unavailable"}`, body)
	require.Contains(t, logs.String(), "schema not current")
	_, err = m.Up(ctx)
	require.NoError(t, err)
	m.Close()

	require.NoError(t, local.Close(ctx)) // the last user stops the cluster
	stopped = true
	status, body = get(t, srv.URL+"/readyz")
	require.Equal(t, http.StatusServiceUnavailable, status)
	require.JSONEq(t, `{"status":"unavailable"}`, body)
	require.Contains(t, logs.String(), "database unreachable")

	local, err = postgres.StartLocal(ctx, opts)
	require.NoError(t, err)
	stopped = false
	require.Eventually(t, func() bool {
		status, _ := get(t, srv.URL+"/readyz")
		return status == http.StatusOK
	}, 30*time.Second, 50*time.Millisecond)
}
