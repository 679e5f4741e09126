package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// Role and database names of the embedded cluster. An external server set up
// with RoleSetupSQL uses the same names.
const (
	// OwnerRole owns the application database and runs migrations.
	OwnerRole = "groundwork_owner"
	// RuntimeRole is the role the application connects as: NOSUPERUSER
	// NOBYPASSRLS NOCREATEDB NOCREATEROLE, with data rights but no DDL rights.
	RuntimeRole = "groundwork_app"
	// DatabaseName is the name of the application database.
	DatabaseName = "groundwork"
)

// superuserRole is the bootstrap superuser created by initdb. It has no
// password, so it can only log in over the unix socket.
const superuserRole = "postgres"

// Files Groundwork keeps directly under the data dir, owned by the invoking
// user. The cluster itself lives in DataDir/postgres (or a fallback place).
const (
	launchLockFile  = "postgres.launch.lock"
	usersLockFile   = "postgres.users.lock"
	serveLockFile   = "serve.lock"
	credentialsFile = "postgres-credentials.json"
)

// LocalOptions configures StartLocal.
type LocalOptions struct {
	// DataDir is Groundwork's data directory (GROUNDWORK_DATA_DIR), an
	// absolute path; the cluster lives in DataDir/postgres. It is created
	// when missing.
	DataDir string
	// Logger receives progress messages and warnings; nil discards them.
	Logger *slog.Logger
}

// Local is a private PostgreSQL cluster under a data dir, started from the
// system's PostgreSQL binaries, or an already running one reused. Several
// processes may share it; the last one to Close stops it.
type Local struct {
	dataDir string
	layout  clusterLayout
	bin     string
	user    *osUser // the unprivileged user running the cluster; nil when not root
	creds   credentials
	logger  *slog.Logger
	port    int
	started bool

	mu    sync.Mutex
	users *os.File // holds the shared users lock; nil once closed
}

// StartLocal starts the cluster under opts.DataDir, initialising it first
// when needed, or reuses it when another process already runs it. It returns
// once the cluster accepts connections as OwnerRole and RuntimeRole.
func StartLocal(ctx context.Context, opts LocalOptions) (*Local, error) {
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if !filepath.IsAbs(opts.DataDir) {
		return nil, fmt.Errorf("data dir %q: must be an absolute path", opts.DataDir)
	}
	dataDir := filepath.Clean(opts.DataDir)
	if err := checkSocketPath(dataDir, filepath.Join(dataDir, "postgres")); err != nil {
		return nil, err
	}
	if err := ensureDataDir(dataDir); err != nil {
		return nil, err
	}
	launch, err := lockFile(ctx, filepath.Join(dataDir, launchLockFile), syscall.LOCK_EX)
	if err != nil {
		return nil, err
	}
	defer launch.Close()

	l := &Local{dataDir: dataDir, logger: logger}
	if l.user, err = clusterUser(ctx, logger); err != nil {
		return nil, err
	}
	if l.layout, err = chooseLayout(dataDir, l.user, logger); err != nil {
		return nil, err
	}
	if l.bin, err = binariesFor(l.layout.pgdata); err != nil {
		return nil, err
	}
	if l.creds, err = loadCredentials(dataDir, logger); err != nil {
		return nil, err
	}
	if err := l.initialise(ctx); err != nil {
		return nil, err
	}
	pid, port, err := l.runningPostmaster()
	if err != nil {
		return nil, err
	}
	if pid > 0 {
		l.port = port
		logger.Info("reusing running PostgreSQL", "pgdata", l.layout.pgdata, "pid", pid, "port", port)
		if err := l.waitReady(ctx, time.Minute); err != nil {
			return nil, fmt.Errorf("PostgreSQL (pid %d) runs on %s but does not accept connections: %w", pid, l.layout.pgdata, err)
		}
	} else {
		if err := l.start(ctx); err != nil {
			return nil, err
		}
		l.started = true
	}
	if err := l.ensureSetup(ctx); err != nil {
		l.stopIfUnused(ctx)
		return nil, err
	}
	users, err := lockFile(ctx, filepath.Join(dataDir, usersLockFile), syscall.LOCK_SH)
	if err != nil {
		l.stopIfUnused(ctx)
		return nil, err
	}
	l.users = users
	return l, nil
}

// OwnerURL is the connection URL of OwnerRole to DatabaseName over the unix
// socket. It carries the role's password.
func (l *Local) OwnerURL() string { return l.URL(OwnerRole, DatabaseName) }

// RuntimeURL is the connection URL of RuntimeRole to DatabaseName over the
// unix socket. It carries the role's password.
func (l *Local) RuntimeURL() string { return l.URL(RuntimeRole, DatabaseName) }

// SuperuserURL is the connection URL of the bootstrap superuser to database
// db over the unix socket, for test harnesses and maintenance; the
// application never uses it.
func (l *Local) SuperuserURL(db string) string { return l.URL(superuserRole, db) }

// URL is the connection URL of role to database db over the unix socket. For
// OwnerRole and RuntimeRole it carries the role's password, so the same
// credentials also work over TCP on Port.
func (l *Local) URL(role, db string) string {
	u := url.URL{Scheme: "postgres", User: url.User(role), Path: "/" + db}
	switch role {
	case OwnerRole:
		u.User = url.UserPassword(role, l.creds.OwnerPassword)
	case RuntimeRole:
		u.User = url.UserPassword(role, l.creds.RuntimePassword)
	}
	q := url.Values{}
	q.Set("host", l.layout.pgdata)
	q.Set("port", strconv.Itoa(l.port))
	q.Set("sslmode", "disable")
	u.RawQuery = q.Encode()
	return u.String()
}

// Port is the loopback TCP port the cluster listens on (127.0.0.1).
func (l *Local) Port() int { return l.port }

// Started reports whether this process started the postmaster; false means
// it reused one that was already running.
func (l *Local) Started() bool { return l.started }

// Close releases the cluster. The last process using it stops it (pg_ctl
// stop -m fast), whichever process started it. Closing twice is a no-op.
func (l *Local) Close(ctx context.Context) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.users == nil {
		return nil
	}
	launch, err := lockFile(ctx, filepath.Join(l.dataDir, launchLockFile), syscall.LOCK_EX)
	if err != nil {
		// Without the launch lock we cannot tell whether we are the last
		// user; release our share and leave the cluster to the next user.
		l.users.Close()
		l.users = nil
		return err
	}
	defer launch.Close()
	l.users.Close()
	l.users = nil
	return l.stopIfUnused(ctx)
}

// stopIfUnused stops the cluster when no process holds the users lock. The
// caller holds the launch lock.
func (l *Local) stopIfUnused(ctx context.Context) error {
	last, err := tryLockFile(filepath.Join(l.dataDir, usersLockFile), syscall.LOCK_EX)
	if err != nil {
		return err
	}
	if last == nil {
		return nil // another process still uses the cluster
	}
	defer last.Close()
	pid, _, err := l.runningPostmaster()
	if err != nil || pid == 0 {
		return err
	}
	l.logger.Info("stopping PostgreSQL", "pgdata", l.layout.pgdata, "pid", pid)
	return l.stop(context.WithoutCancel(ctx), "fast")
}

// ensureDataDir creates dataDir (0755, so that the cluster's user can reach
// DataDir/postgres) unless it exists.
func ensureDataDir(dataDir string) error {
	fi, err := os.Stat(dataDir)
	if err == nil {
		if !fi.IsDir() {
			return fmt.Errorf("data dir %s: not a directory", dataDir)
		}
		return nil
	}
	if err := os.MkdirAll(dataDir, 0o755); err != nil {
		return fmt.Errorf("create data dir %s: %w", dataDir, pathErr(err))
	}
	if err := os.Chmod(dataDir, 0o755); err != nil { // in spite of a strict umask
		return fmt.Errorf("create data dir %s: %w", dataDir, pathErr(err))
	}
	return nil
}

// pathErr strips the operation and path from an *os.PathError, for messages
// that name the path themselves.
func pathErr(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
