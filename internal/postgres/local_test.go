package postgres

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/require"
)

// testDir returns a short, empty directory that the cluster's user can
// traverse (t.TempDir is 0700, which would send the cluster to the fallback
// place when running as root).
func testDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "gwl-*")
	require.NoError(t, err)
	require.NoError(t, os.Chmod(dir, 0o755))
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// startLocal starts a cluster on dataDir and closes it when the test ends.
func startLocal(t *testing.T, dataDir string) *Local {
	t.Helper()
	l, err := StartLocal(context.Background(), LocalOptions{DataDir: dataDir, Logger: testLogger(t)})
	require.NoError(t, err)
	t.Cleanup(func() { l.Close(context.Background()) })
	return l
}

func connect(t *testing.T, url string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), url)
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

// postmasterPID returns the pid in postmaster.pid, requiring it to be live.
func postmasterPID(t *testing.T, l *Local) int {
	t.Helper()
	pid, _, err := l.runningPostmaster()
	require.NoError(t, err)
	require.NotZero(t, pid, "a postmaster runs on %s", l.layout.pgdata)
	return pid
}

// requireStopped checks that no postmaster runs on the cluster any more.
func requireStopped(t *testing.T, l *Local, pid int) {
	t.Helper()
	require.NoFileExists(t, filepath.Join(l.layout.pgdata, "postmaster.pid"))
	require.NotEqual(t, processPostgres, postgresProcess(pid), "postmaster %d has exited", pid)
}

func systemIdentifier(t *testing.T, l *Local) int64 {
	t.Helper()
	var id int64
	require.NoError(t, connect(t, l.SuperuserURL("postgres")).
		QueryRow(context.Background(), `SELECT system_identifier FROM pg_control_system()`).Scan(&id))
	return id
}

func TestLocal(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dataDir := filepath.Join(testDir(t), "data")

	// First use: initdb, roles, database.
	l, err := StartLocal(ctx, LocalOptions{DataDir: dataDir, Logger: testLogger(t)})
	require.NoError(t, err)
	require.True(t, l.Started())
	require.Equal(t, filepath.Join(dataDir, "postgres"), l.layout.pgdata)
	require.FileExists(t, filepath.Join(dataDir, "postgres", "PG_VERSION"))
	require.NoDirExists(t, filepath.Join(dataDir, "postgres.initdb"))
	fi, err := os.Stat(filepath.Join(dataDir, credentialsFile))
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), fi.Mode().Perm())
	pid := postmasterPID(t, l)
	sysID := systemIdentifier(t, l)

	if os.Geteuid() == 0 {
		status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
		require.NoError(t, err)
		var uid int
		for line := range strings.Lines(string(status)) {
			if f := strings.Fields(line); len(f) > 1 && f[0] == "Uid:" {
				uid, err = strconv.Atoi(f[1])
				require.NoError(t, err)
			}
		}
		require.NotZero(t, uid, "the postmaster does not run as root")
	}

	// The runtime role: no superuser, no BYPASSRLS, no DDL.
	runtime := connect(t, l.RuntimeURL())
	var user string
	var super, bypass, createDB, createRole bool
	require.NoError(t, runtime.QueryRow(ctx, `SELECT current_user, rolsuper, rolbypassrls, rolcreatedb, rolcreaterole
		FROM pg_roles WHERE rolname = current_user`).Scan(&user, &super, &bypass, &createDB, &createRole))
	require.Equal(t, RuntimeRole, user)
	require.False(t, super || bypass || createDB || createRole)
	_, err = runtime.Exec(ctx, `CREATE TABLE forbidden (id int)`)
	var pgErr *pgconn.PgError
	require.ErrorAs(t, err, &pgErr)
	require.Equal(t, "42501", pgErr.Code, "insufficient_privilege")

	// The owner can; what it creates the runtime role may use.
	owner := connect(t, l.OwnerURL())
	_, err = owner.Exec(ctx, `CREATE TABLE notes (id bigserial PRIMARY KEY, body text NOT NULL)`)
	require.NoError(t, err)
	_, err = runtime.Exec(ctx, `INSERT INTO notes (body) VALUES ('hello')`)
	require.NoError(t, err)
	_, err = runtime.Exec(ctx, `DROP TABLE notes`)
	require.ErrorAs(t, err, &pgErr)
	require.Equal(t, "42501", pgErr.Code)

	// Over TCP, the roles log in with the passwords from the credentials file.
	tcp := fmt.Sprintf("postgres://%s:%s@127.0.0.1:%d/%s?sslmode=disable", RuntimeRole, l.creds.RuntimePassword, l.Port(), DatabaseName)
	connect(t, tcp)
	_, err = pgx.Connect(ctx, strings.Replace(tcp, l.creds.RuntimePassword, "wrong", 1))
	require.ErrorContains(t, err, "password authentication failed")

	// The psql script for external servers is valid and idempotent.
	if _, err := os.Stat(filepath.Join(l.bin, "psql")); err == nil {
		script := filepath.Join(testDir(t), "setup.sql")
		require.NoError(t, os.WriteFile(script, []byte(RoleSetupSQL()), 0o644))
		out, err := exec.Command(filepath.Join(l.bin, "psql"), "-X", "-q",
			"-v", "owner_password="+l.creds.OwnerPassword, "-v", "runtime_password="+l.creds.RuntimePassword,
			"-f", script, l.SuperuserURL("postgres")).CombinedOutput()
		require.NoError(t, err, string(out))
		connect(t, tcp)
	}

	// Close stops the cluster.
	runtime.Close(ctx)
	owner.Close(ctx)
	require.NoError(t, l.Close(ctx))
	requireStopped(t, l, pid)
	require.NoError(t, l.Close(ctx), "closing twice is fine")

	// Start again on the existing cluster: no initdb.
	l = startLocal(t, dataDir)
	require.True(t, l.Started())
	require.Equal(t, sysID, systemIdentifier(t, l))
	connect(t, l.RuntimeURL())

	// A crashed postmaster (SIGKILL) leaves a stale postmaster.pid that does
	// not block the next start.
	pid = postmasterPID(t, l)
	require.NoError(t, syscall.Kill(pid, syscall.SIGKILL))
	require.Eventually(t, func() bool { return postgresProcess(pid) != processPostgres }, 10*time.Second, 20*time.Millisecond)
	require.FileExists(t, filepath.Join(l.layout.pgdata, "postmaster.pid"))
	require.NoError(t, l.Close(ctx))
	l = startLocal(t, dataDir)
	require.True(t, l.Started())
	connect(t, l.RuntimeURL())
	pid = postmasterPID(t, l)
	require.NoError(t, l.Close(ctx))
	requireStopped(t, l, pid)

	// A start that fails names the reason and the log, in one line, and
	// leaves no postmaster behind.
	auto := filepath.Join(dataDir, "postgres", "postgresql.auto.conf")
	orig, err := os.ReadFile(auto)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(auto, append(orig, "shared_buffers = 'lots'\n"...), 0o600))
	_, err = StartLocal(ctx, LocalOptions{DataDir: dataDir, Logger: testLogger(t)})
	require.Error(t, err)
	t.Log(err)
	require.Contains(t, err.Error(), "start PostgreSQL: ")
	require.Contains(t, err.Error(), "shared_buffers")
	require.Contains(t, err.Error(), filepath.Join(dataDir, "postgres.log"))
	require.NotContains(t, err.Error(), "\n")
	require.NoFileExists(t, filepath.Join(dataDir, "postgres", "postmaster.pid"))
	require.NoError(t, os.WriteFile(auto, orig, 0o600))
	l = startLocal(t, dataDir)
	connect(t, l.RuntimeURL())
}

func TestLocalReuse(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dataDir := filepath.Join(testDir(t), "data")

	first := startLocal(t, dataDir)
	require.True(t, first.Started())
	second := startLocal(t, dataDir)
	require.False(t, second.Started(), "the running cluster is reused")
	require.Equal(t, first.Port(), second.Port())
	pid := postmasterPID(t, second)

	// Closing the first keeps the cluster up for the second, although the
	// first started it.
	require.NoError(t, first.Close(ctx))
	conn := connect(t, second.RuntimeURL())
	require.NoError(t, conn.Ping(ctx))
	require.NoError(t, conn.Close(ctx))
	require.NoError(t, second.Close(ctx))
	requireStopped(t, second, pid)

	// A starter killed without closing leaves the postmaster running; the
	// next user reuses it and, being the last, stops it.
	crashed := startLocal(t, dataDir)
	require.True(t, crashed.Started())
	pid = postmasterPID(t, crashed)
	crashed.users.Close() // what the kernel does when the process dies
	crashed.users = nil
	next := startLocal(t, dataDir)
	require.False(t, next.Started())
	require.Equal(t, pid, postmasterPID(t, next))
	require.NoError(t, next.Close(ctx))
	requireStopped(t, next, pid)
}

func TestLockServe(t *testing.T) {
	t.Parallel()
	dataDir := filepath.Join(testDir(t), "data")
	unlock, err := LockServe(dataDir)
	require.NoError(t, err)

	_, err = LockServe(dataDir)
	require.EqualError(t, err, fmt.Sprintf("another groundwork serve is already running on data dir %s (pid %d)", dataDir, os.Getpid()))

	unlock()
	unlock() // twice is harmless
	unlock, err = LockServe(dataDir)
	require.NoError(t, err)
	unlock()
}

func TestStartLocalBadDataDir(t *testing.T) {
	t.Parallel()
	dir := testDir(t)
	file := filepath.Join(dir, "file")
	require.NoError(t, os.WriteFile(file, nil, 0o644))
	long := filepath.Join(dir, strings.Repeat("x", 100))

	tests := []struct {
		name, dataDir, wantErr string
	}{
		{"under a regular file", filepath.Join(file, "data"), "create data dir " + filepath.Join(file, "data") + ": not a directory"},
		{"a regular file", file, "data dir " + file + ": not a directory"},
		{"relative", "var/data", `data dir "var/data": must be an absolute path`},
		{"too long for a socket", long, "path too long for PostgreSQL's unix socket"},
	}
	if os.Geteuid() != 0 { // root may write anywhere
		readOnly := filepath.Join(dir, "ro")
		require.NoError(t, os.Mkdir(readOnly, 0o555))
		tests = append(tests, struct{ name, dataDir, wantErr string }{
			"unwritable", filepath.Join(readOnly, "data"), "create data dir " + filepath.Join(readOnly, "data") + ": permission denied",
		})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := StartLocal(context.Background(), LocalOptions{DataDir: tt.dataDir})
			require.ErrorContains(t, err, tt.wantErr)
			require.NotContains(t, err.Error(), "\n")
		})
	}
	_, err := os.Stat(filepath.Join(file, "data"))
	require.True(t, errors.Is(err, syscall.ENOTDIR))
	require.NoDirExists(t, long, "nothing left behind")
}

// TestLocalFallback is not parallel: it points fallbackBase elsewhere.
func TestLocalFallback(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("the fallback place is for root, whose cluster runs as another user")
	}
	base := filepath.Join(testDir(t), "clusters")
	old := fallbackBase
	fallbackBase = base
	t.Cleanup(func() { fallbackBase = old })

	private := filepath.Join(testDir(t), "private")
	require.NoError(t, os.Mkdir(private, 0o700))
	dataDir := filepath.Join(private, "data")

	l := startLocal(t, dataDir)
	require.True(t, l.layout.fallback)
	require.True(t, strings.HasPrefix(l.layout.pgdata, base+"/data-"), l.layout.pgdata)
	require.FileExists(t, filepath.Join(l.layout.pgdata, "PG_VERSION"))
	require.NoDirExists(t, filepath.Join(dataDir, "postgres"))
	require.FileExists(t, filepath.Join(dataDir, credentialsFile))
	connect(t, l.RuntimeURL())
	pgdata := l.layout.pgdata
	require.NoError(t, l.Close(context.Background()))

	// The same data dir finds the same fallback cluster again.
	l = startLocal(t, dataDir)
	require.Equal(t, pgdata, l.layout.pgdata)
	connect(t, l.OwnerURL())
	require.NoError(t, l.Close(context.Background()))

	// Once the data dir is reachable (some command made a parent 0755),
	// the cluster with the data stays where it is: no new, empty one.
	require.NoError(t, os.Chmod(private, 0o755))
	l = startLocal(t, dataDir)
	require.Equal(t, pgdata, l.layout.pgdata)
	require.NoDirExists(t, filepath.Join(dataDir, "postgres"))
	connect(t, l.OwnerURL())
}

func TestFindBinaries(t *testing.T) {
	dir, err := FindBinaries()
	require.NoError(t, err)
	for _, name := range serverBinaries {
		require.FileExists(t, filepath.Join(dir, name))
	}

	// Without PATH it looks in /usr/lib/postgresql/*/bin.
	t.Setenv("PATH", "")
	if dirs := debianBinDirs(); len(dirs) > 0 {
		dir, err = FindBinaries()
		require.NoError(t, err)
		require.Equal(t, dirs[0], dir)
	}
	old := debianLibDir
	debianLibDir = filepath.Join(testDir(t), "none")
	t.Cleanup(func() { debianLibDir = old })
	_, err = FindBinaries()
	require.ErrorContains(t, err, `install them with "apt-get install postgresql"`)
}
