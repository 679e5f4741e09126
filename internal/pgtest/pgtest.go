// Package pgtest gives tests real PostgreSQL: one throwaway cluster per test
// binary, started on first use, and a fresh, migrated database per test,
// cloned from a template in a few milliseconds.
//
// A package that uses it calls Main from TestMain:
//
//	func TestMain(m *testing.M) { pgtest.Main(m) }
//
// and each test asks for its own database:
//
//	db := pgtest.New(t)
//	_, err := db.Runtime.Exec(ctx, `INSERT INTO heartbeats ...`)
package pgtest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/groundwork-dev/groundwork/internal/postgres"
)

// templateDB is the migrated database every test database is cloned from.
const templateDB = "gw_template"

// dirPrefix starts the name of each test binary's cluster directory in
// os.TempDir(), followed by the binary's pid: gwpgtest-<pid>-*.
const dirPrefix = "gwpgtest-"

// DB is one test's own database, dropped when the test ends.
type DB struct {
	// Name is the database's name.
	Name string
	// OwnerURL connects as postgres.OwnerRole, which owns the schema.
	OwnerURL string
	// RuntimeURL connects as postgres.RuntimeRole, as the application does.
	RuntimeURL string
	// Owner is a pool of postgres.OwnerRole connections.
	Owner *pgxpool.Pool
	// Runtime is a pool of postgres.RuntimeRole connections.
	Runtime *pgxpool.Pool
}

// harness is the test binary's shared cluster. It is the one package-level
// state here: a test binary has exactly one.
type harness struct {
	mainCalled atomic.Bool
	next       atomic.Int64
	createMu   sync.Mutex // CREATE DATABASE ... TEMPLATE needs a template nobody else uses

	mu     sync.Mutex // guards the fields below
	tried  bool
	err    error
	closed bool
	dir    string
	local  *postgres.Local
	admin  *pgxpool.Pool // superuser, maintenance database
}

var shared harness

// Main runs the tests of a package and then stops the shared cluster and
// removes its temp dir. Use as: func TestMain(m *testing.M) { pgtest.Main(m) }.
// On SIGINT or SIGTERM it cleans up the same way and exits non-zero.
func Main(m *testing.M) {
	shared.mainCalled.Store(true)
	sweepStale()
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, os.Interrupt, syscall.SIGTERM)
	go func() {
		sig := <-signals
		fmt.Fprintf(os.Stderr, "pgtest: %v: stopping the test cluster\n", sig)
		shared.shutdown()
		os.Exit(1)
	}()
	code := m.Run()
	signal.Stop(signals)
	shared.shutdown()
	os.Exit(code)
}

// Cluster returns the test binary's shared cluster, starting it on first use.
// A start error fails the calling test.
func Cluster(t testing.TB) *postgres.Local {
	t.Helper()
	local, _, err := shared.get()
	if err != nil {
		t.Fatal(err)
	}
	return local
}

// New returns a fresh, migrated database for this test, cloned from a
// template; it is dropped, and its pools closed, in t.Cleanup. It is safe
// under t.Parallel.
func New(t testing.TB) *DB {
	t.Helper()
	local, admin, err := shared.get()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	name := "t_" + strconv.FormatInt(shared.next.Add(1), 10)
	shared.createMu.Lock()
	_, err = admin.Exec(ctx, "CREATE DATABASE "+name+" TEMPLATE "+templateDB+" OWNER "+postgres.OwnerRole)
	shared.createMu.Unlock()
	if err != nil {
		t.Fatalf("pgtest: create database %s: %v", name, err)
	}
	db := &DB{
		Name:       name,
		OwnerURL:   local.URL(postgres.OwnerRole, name),
		RuntimeURL: local.URL(postgres.RuntimeRole, name),
	}
	t.Cleanup(func() {
		for _, p := range []*pgxpool.Pool{db.Owner, db.Runtime} {
			if p != nil {
				p.Close()
			}
		}
		if _, err := admin.Exec(context.Background(), "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil && !shared.isClosed() {
			t.Errorf("pgtest: drop database %s: %v", name, err)
		}
	})
	if db.Owner, err = newPool(ctx, db.OwnerURL, 4); err != nil {
		t.Fatalf("pgtest: connect as owner: %v", err)
	}
	if db.Runtime, err = newPool(ctx, db.RuntimeURL, 8); err != nil {
		t.Fatalf("pgtest: connect as runtime role: %v", err)
	}
	return db
}

func newPool(ctx context.Context, url string, maxConns int32) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, err
	}
	cfg.MaxConns = maxConns
	return pgxpool.NewWithConfig(ctx, cfg)
}

// get starts the cluster once; every caller sees the same result.
func (h *harness) get() (*postgres.Local, *pgxpool.Pool, error) {
	if !h.mainCalled.Load() {
		return nil, nil, errors.New("pgtest: call pgtest.Main from TestMain (func TestMain(m *testing.M) { pgtest.Main(m) }) so the test cluster is stopped after the tests")
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil, nil, errors.New("pgtest: the test cluster has been shut down")
	}
	if !h.tried {
		h.tried = true
		if h.err = h.start(); h.err != nil {
			h.err = fmt.Errorf("pgtest: start test cluster: %w", h.err)
		}
	}
	return h.local, h.admin, h.err
}

// start starts the cluster, tunes it for tests and builds the template.
// The caller holds h.mu.
func (h *harness) start() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		logger = slog.New(slog.NewTextHandler(os.Stderr, nil)).With("component", "pgtest")
	}
	var dir string
	var err error
	for _, base := range baseDirs(true) {
		if dir, err = os.MkdirTemp(base, dirPrefix+strconv.Itoa(os.Getpid())+"-*"); err == nil {
			break
		}
	}
	if err != nil {
		return fmt.Errorf("create temp dir: %w", err)
	}
	h.dir = dir
	// MkdirTemp makes 0700; the cluster's user (when root) must get through.
	if err := os.Chmod(dir, 0o755); err != nil {
		return fmt.Errorf("create temp dir: %w", err)
	}
	if h.local, err = postgres.StartLocal(ctx, postgres.LocalOptions{DataDir: dir, Logger: logger}); err != nil {
		return err
	}
	if h.admin, err = newPool(ctx, h.local.SuperuserURL("postgres"), 4); err != nil {
		return fmt.Errorf("connect as superuser: %w", err)
	}
	// Durability is worth nothing in a throwaway cluster; speed is.
	for _, sql := range []string{
		`ALTER SYSTEM SET fsync = off`,
		`ALTER SYSTEM SET synchronous_commit = off`,
		`ALTER SYSTEM SET full_page_writes = off`,
		`SELECT pg_reload_conf()`,
		// The application database already carries the schema privileges
		// and default privileges of postgres.RoleSetupSQL.
		`CREATE DATABASE ` + templateDB + ` TEMPLATE ` + postgres.DatabaseName + ` OWNER ` + postgres.OwnerRole,
	} {
		if _, err := h.admin.Exec(ctx, sql); err != nil {
			return fmt.Errorf("%s: %w", sql, err)
		}
	}
	m, err := postgres.NewMigrator(ctx, h.local.URL(postgres.OwnerRole, templateDB), logger)
	if err != nil {
		return err
	}
	_, err = m.Up(ctx)
	m.Close()
	if err != nil {
		return fmt.Errorf("migrate template: %w", err)
	}
	// No stray connection may block the clones.
	if _, err := h.admin.Exec(ctx, `ALTER DATABASE `+templateDB+` WITH ALLOW_CONNECTIONS false IS_TEMPLATE true`); err != nil {
		return fmt.Errorf("seal template: %w", err)
	}
	return nil
}

func (h *harness) isClosed() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.closed
}

// shutdown stops the cluster and removes its directory. It is idempotent.
func (h *harness) shutdown() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return
	}
	h.closed = true
	if h.admin != nil {
		h.admin.Close()
	}
	if h.local != nil {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := h.local.Close(ctx); err != nil {
			fmt.Fprintf(os.Stderr, "pgtest: stop test cluster: %v\n", err)
			killPostmaster(h.dir)
		}
	}
	if h.dir != "" {
		if err := os.RemoveAll(h.dir); err != nil {
			fmt.Fprintf(os.Stderr, "pgtest: remove %s: %v\n", h.dir, err)
		}
	}
}

// shmDir is a memory file system on Linux. Clusters there clone databases
// about ten times faster than on a disk, even with fsync off.
const shmDir = "/dev/shm"

// minShmFree is the room shmDir must have to hold a cluster: containers
// often give it only 64 MiB, which PostgreSQL's own shared memory needs.
const minShmFree = 1 << 30

// baseDirs lists the directories test clusters may live in, fastest first.
// With forNew, shmDir is listed only when it has room for a new cluster.
func baseDirs(forNew bool) []string {
	var st syscall.Statfs_t
	if err := syscall.Statfs(shmDir, &st); err == nil &&
		(!forNew || uint64(st.Bavail)*uint64(st.Bsize) >= minShmFree) {
		return []string{shmDir, os.TempDir()}
	}
	return []string{os.TempDir()}
}

// sweepStale removes the clusters of test binaries that died without
// cleaning up (go test's -timeout panic, SIGKILL): gwpgtest-<pid>-* dirs
// whose pid is gone. Their postmasters are shut down immediately first.
// staleAfter is how long a dead binary's directory is left alone.
const staleAfter = 10 * time.Minute

func sweepStale() {
	var dirs []string
	for _, base := range baseDirs(false) {
		found, _ := filepath.Glob(filepath.Join(base, dirPrefix+"*-*"))
		dirs = append(dirs, found...)
	}
	for _, dir := range dirs {
		pidText, _, _ := strings.Cut(strings.TrimPrefix(filepath.Base(dir), dirPrefix), "-")
		pid, err := strconv.Atoi(pidText)
		if err != nil || pid == os.Getpid() || alive(pid) {
			continue
		}
		// A directory touched in the last minutes may still be set up:
		// TestStaleSweep makes one for a dead PID, and another test binary
		// starting meanwhile must not sweep it from under its initdb.
		if st, err := os.Stat(dir); err != nil || time.Since(st.ModTime()) < staleAfter {
			continue
		}
		killPostmaster(dir)
		_ = os.RemoveAll(dir)
	}
}

// killPostmaster shuts down the postmaster of the cluster under dataDir, if
// one runs, the way pg_ctl stop -m immediate does (SIGQUIT), and waits for
// it to exit.
func killPostmaster(dataDir string) {
	b, err := os.ReadFile(filepath.Join(dataDir, "postgres", "postmaster.pid"))
	if err != nil {
		return
	}
	line, _, _ := strings.Cut(string(b), "\n")
	pid, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil || pid <= 0 || !isPostgres(pid) {
		return
	}
	_ = syscall.Kill(pid, syscall.SIGQUIT)
	for range 100 {
		if !alive(pid) {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	_ = syscall.Kill(pid, syscall.SIGKILL)
}

// procState returns the command name and state letter of pid from
// /proc/<pid>/stat, or ok == false when there is no such process.
func procState(pid int) (comm string, state byte, ok bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return "", 0, false
	}
	s := string(b)
	open, end := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
	if open < 0 || end < open || end+2 >= len(s) {
		return "", 0, false
	}
	return s[open+1 : end], s[end+2], true
}

// alive reports whether pid is a running (not zombie) process.
func alive(pid int) bool {
	if _, err := os.Stat("/proc/self/stat"); err != nil { // no procfs
		err := syscall.Kill(pid, 0)
		return err == nil || errors.Is(err, syscall.EPERM)
	}
	_, state, ok := procState(pid)
	return ok && state != 'Z' && state != 'X'
}

// isPostgres reports whether pid is a running PostgreSQL server process.
func isPostgres(pid int) bool {
	comm, _, _ := procState(pid)
	return alive(pid) && (comm == "postgres" || comm == "postmaster")
}
