package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/groundwork-dev/groundwork/internal/postgres"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
)

// syncBuffer is a bytes.Buffer safe for one writer and concurrent readers.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// dataDir returns a short, fresh data dir (unix socket paths are limited).
func dataDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "gwcmd-")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(dir) })
	// Reachable by the unprivileged user the cluster runs as under root.
	require.NoError(t, os.Chmod(dir, 0o755))
	return dir
}

func envFunc(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

// runCmd runs one command through run() and returns its stdout, stderr and error.
func runCmd(t *testing.T, env map[string]string, args ...string) (string, string, error) {
	t.Helper()
	return runCmdIn(t, env, "", args...)
}

// runCmdIn is runCmd with stdin.
func runCmdIn(t *testing.T, env map[string]string, stdin string, args ...string) (string, string, error) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	err := run(ctx, append([]string{"groundwork"}, args...), envFunc(env), strings.NewReader(stdin), &stdout, &stderr)
	return stdout.String(), stderr.String(), err
}

// server is a `groundwork serve` running through run() in this process.
type server struct {
	url    string
	logs   *syncBuffer
	cancel context.CancelFunc
	done   chan error
}

var servingURL = regexp.MustCompile(`url[=":]+(http://localhost:\d+)`)

// startServe runs `groundwork serve` with env and waits until it listens.
func startServe(t *testing.T, env map[string]string, args ...string) *server {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s := &server{logs: &syncBuffer{}, cancel: cancel, done: make(chan error, 1)}
	go func() {
		s.done <- run(ctx, append([]string{"groundwork", "serve"}, args...), envFunc(env), strings.NewReader(""), io.Discard, s.logs)
	}()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if m := servingURL.FindStringSubmatch(s.logs.String()); m != nil {
			s.url = m[1]
			t.Cleanup(func() { s.stop(t) })
			return s
		}
		select {
		case err := <-s.done:
			t.Fatalf("serve exited before listening: %v\nlogs:\n%s", err, s.logs)
		case <-time.After(20 * time.Millisecond):
		}
	}
	cancel()
	t.Fatalf("serve did not start in time; logs:\n%s", s.logs)
	return nil
}

// stop sends the shutdown signal and returns serve's result (once).
func (s *server) stop(t *testing.T) error {
	t.Helper()
	s.cancel()
	select {
	case err, ok := <-s.done:
		if ok {
			close(s.done)
		}
		return err
	case <-time.After(60 * time.Second):
		t.Fatalf("serve did not stop in time; logs:\n%s", s.logs)
		return nil
	}
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(body)
}

func waitReady(t *testing.T, url string) {
	t.Helper()
	require.Eventually(t, func() bool {
		resp, err := http.Get(url + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, 30*time.Second, 50*time.Millisecond)
}

// TestServeEndToEnd drives the whole binary through run(): the embedded
// cluster is created, migrated and served; CLI commands reuse it while serve
// runs; a second serve is refused; shutdown stops the cluster.
func TestServeEndToEnd(t *testing.T) {
	t.Parallel()
	dir := dataDir(t)
	env := map[string]string{"GROUNDWORK_DATA_DIR": dir, "PORT": "0"}
	s := startServe(t, env)
	waitReady(t, s.url)

	status, body := get(t, s.url+"/healthz")
	require.Equal(t, http.StatusOK, status)

	status, body = get(t, s.url+"/version")
	require.Equal(t, http.StatusOK, status)
	var v map[string]any
	require.NoError(t, json.Unmarshal([]byte(body), &v))
	require.Equal(t, "dev", v["version"])
	require.EqualValues(t, postgres.LatestVersion(), v["schema_version"])
	// What runs: this serve's start is recorded and listed, without its host.
	deployments, _ := v["deployments"].([]any)
	require.NotEmpty(t, deployments, body)
	newest, _ := deployments[0].(map[string]any)
	require.Equal(t, "serve", newest["role"])
	require.Equal(t, "dev", newest["version"])
	require.NotContains(t, newest, "host")
	out, _, err := runCmd(t, env, "releases")
	require.NoError(t, err)
	host, _ := os.Hostname()
	require.Regexp(t, `STARTED\s+ROLE\s+VERSION\s+COMMIT`, out)
	require.Regexp(t, `\sserve\s+dev\s+\S+\s+\S+\s+`+regexp.QuoteMeta(host), out)

	// A CLI command reuses the running cluster instead of starting another.
	out, _, err = runCmd(t, env, "migrate", "status")
	require.NoError(t, err)
	require.Regexp(t, `00001_heartbeats\.sql\s+applied`, out)
	require.NotContains(t, out, "pending")

	// A second serve on the same data dir exits with a clear message.
	_, _, err = runCmd(t, env, "serve")
	require.ErrorContains(t, err, "already running")

	// The periodic heartbeat job ran on start: the job system works end to end.
	local, err := postgres.StartLocal(context.Background(), postgres.LocalOptions{DataDir: dir, Logger: discardLogger()})
	require.NoError(t, err)
	require.False(t, local.Started(), "the running cluster is reused")
	conn, err := pgx.Connect(context.Background(), local.RuntimeURL())
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		var n int
		err := conn.QueryRow(context.Background(), `SELECT count(*) FROM heartbeats`).Scan(&n)
		return err == nil && n > 0
	}, 30*time.Second, 100*time.Millisecond)
	require.NoError(t, conn.Close(context.Background()))
	require.NoError(t, local.Close(context.Background()))

	status, body = get(t, s.url+"/metrics")
	require.Equal(t, http.StatusOK, status)
	require.Contains(t, body, `groundwork_http_request_duration_seconds_count{method="GET",route="GET /readyz",status_class="2xx"}`)
	require.Contains(t, body, "pgxpool_acquire_count")
	require.Contains(t, body, `groundwork_jobs{queue="maintenance",state="completed"}`)
	require.Contains(t, body, "go_goroutines")
	require.Contains(t, body, "process_resident_memory_bytes")

	require.NoError(t, s.stop(t))
	require.NoFileExists(t, filepath.Join(dir, "postgres", "postmaster.pid"), "the last user stops the cluster")
	require.Contains(t, s.logs.String(), "route=\"GET /version\"")

	// After a clean stop the data dir is neither locked nor damaged.
	s2 := startServe(t, env)
	waitReady(t, s2.url)
	require.NoError(t, s2.stop(t))
}

func TestMigrateUpDownUp(t *testing.T) {
	t.Parallel()
	env := map[string]string{"GROUNDWORK_DATA_DIR": dataDir(t)}

	out, _, err := runCmd(t, env, "migrate", "up")
	require.NoError(t, err)
	require.Contains(t, out, "applied river 001")
	require.Contains(t, out, "applied 00001_heartbeats.sql")

	out, _, err = runCmd(t, env, "migrate", "up")
	require.NoError(t, err)
	require.Equal(t, "no pending migrations\n", out)

	latest := latestMigration(t)
	out, _, err = runCmd(t, env, "migrate", "down")
	require.NoError(t, err)
	require.Equal(t, "rolled back "+latest+"\n", out)

	out, _, err = runCmd(t, env, "migrate", "status")
	require.NoError(t, err)
	require.Regexp(t, regexp.QuoteMeta(latest)+`\s+pending`, out)
	require.Regexp(t, `00004_contacts\.sql\s+applied`, out)

	out, _, err = runCmd(t, env, "migrate", "up")
	require.NoError(t, err)
	require.Equal(t, "applied "+latest+"\n", out)
}

func TestProductionRefusesPendingMigrations(t *testing.T) {
	t.Parallel()
	env := map[string]string{"GROUNDWORK_DATA_DIR": dataDir(t), "GROUNDWORK_ENV": "production", "PORT": "0", "SMTP_URL": "smtp://127.0.0.1:1"}
	for k, v := range productionKeysets(t) {
		env[k] = v
	}
	_, _, err := runCmd(t, env, "serve")
	require.ErrorContains(t, err, "pending")
	require.ErrorContains(t, err, "00001_heartbeats.sql")
	require.ErrorContains(t, err, "groundwork migrate up")

	_, _, err = runCmd(t, env, "migrate", "up")
	require.NoError(t, err)
	s := startServe(t, env)
	waitReady(t, s.url)
	require.NoError(t, s.stop(t))
}

func TestMigrateCreate(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "00007_existing.sql"), nil, 0o644))
	_, _, err := runCmd(t, nil, "migrate", "-dir", dir, "create", "add_widgets")
	require.ErrorContains(t, err, "flag -dir before the action", "-dir is create's flag")
	_, _, err = runCmd(t, nil, "migrate", "create", "add_widgets", "-dir", dir)
	require.Error(t, err, "flags come before the name")
	out, _, err := runCmd(t, nil, "migrate", "create", "-dir", dir, "add_widgets")
	require.NoError(t, err)
	path := strings.TrimSpace(out)
	require.Equal(t, filepath.Join(dir, "00008_add_widgets.sql"), path)
	body, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Contains(t, string(body), "-- +goose Up")
	require.Contains(t, string(body), "lock_timeout")

	_, _, err = runCmd(t, nil, "migrate", "create", "-dir", dir, "Bad Name")
	require.ErrorContains(t, err, "lower_snake_case")
}

func TestBadInput(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "a-file")
	require.NoError(t, os.WriteFile(file, nil, 0o600))

	tests := []struct {
		name    string
		env     map[string]string
		args    []string
		wantErr string
	}{
		{"no command", nil, nil, "no command given"},
		{"unknown command", nil, []string{"frobnicate"}, `unknown command "frobnicate"`},
		{"unknown flag", nil, []string{"serve", "-nope"}, "flag provided but not defined: -nope"},
		{"stray argument", nil, []string{"version", "extra"}, `unexpected argument "extra"`},
		{"invalid port", map[string]string{"PORT": "http"}, []string{"serve"}, `PORT: "http" is not a whole number`},
		{"malformed database url", map[string]string{"DATABASE_URL": "postgres://x:y@h:badport/db"}, []string{"serve"}, "DATABASE_URL: not a valid PostgreSQL connection string"},
		{"unwritable data dir", map[string]string{"GROUNDWORK_DATA_DIR": filepath.Join(file, "var"), "PORT": "0"}, []string{"serve"}, "not a directory"},
		{"migrate without action", nil, []string{"migrate"}, "migrate: say up, down, status, create or rehearse"},
		{"migrate unknown action", nil, []string{"migrate", "sideways"}, `unknown action "sideways"`},
		{"external migrate without owner", map[string]string{"DATABASE_URL": "postgres://app@127.0.0.1:1/db"}, []string{"migrate", "up"}, "DATABASE_OWNER_URL: required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, _, err := runCmd(t, tt.env, tt.args...)
			require.Error(t, err)
			require.Contains(t, err.Error(), tt.wantErr)
			require.NotContains(t, err.Error(), "\n", "errors are one line")
		})
	}
}

func TestPortInUse(t *testing.T) {
	t.Parallel()
	busy, err := net.Listen("tcp", ":0")
	require.NoError(t, err)
	defer busy.Close()
	dir := dataDir(t)
	port := strconv.Itoa(busy.Addr().(*net.TCPAddr).Port)

	_, _, err = runCmd(t, map[string]string{"GROUNDWORK_DATA_DIR": dir, "PORT": port}, "serve")
	require.ErrorContains(t, err, "port "+port+" (HOST, PORT): ")
	require.ErrorContains(t, err, "address already in use")

	// The refused serve left the data dir unlocked: it can take the serve lock.
	unlock, err := postgres.LockServe(dir)
	require.NoError(t, err)
	unlock()
}

func TestHelpAndVersion(t *testing.T) {
	t.Parallel()
	out, _, err := runCmd(t, nil, "help")
	require.NoError(t, err)
	for _, cmd := range []string{"serve", "worker", "migrate", "config", "version"} {
		require.Contains(t, out, "  "+cmd)
	}
	out, _, err = runCmd(t, nil, "serve", "-h")
	require.NoError(t, err)
	require.Contains(t, out, "-workers")

	out, _, err = runCmd(t, nil, "version")
	require.NoError(t, err)
	require.Contains(t, out, "groundwork dev")

	out, _, err = runCmd(t, map[string]string{"DATABASE_URL": "postgres://app:pw123@db/x"}, "config")
	require.NoError(t, err)
	require.Contains(t, out, "DATABASE_URL=postgres://app:xxxxx@db/x")
	require.NotContains(t, out, "pw123")
}
