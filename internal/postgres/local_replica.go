package postgres

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// LocalReplica is a streaming read replica of a Local cluster, for tests of
// what reads from a replica (DATABASE_REPLICA_URL): a physical copy taken
// with pg_basebackup -R, running as a hot standby on a port of its own.
type LocalReplica struct {
	primary *Local
	dir     string
	port    int
}

// StartReplica copies l into dir (which must not exist or be empty, and
// whose parents the cluster's user can traverse) with pg_basebackup -R
// over l's unix socket (the replication line initdb writes for local
// connections), and starts it as a hot standby streaming from l on a free
// loopback port. Stop it with Stop.
func (l *Local) StartReplica(ctx context.Context, dir string) (*LocalReplica, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create replica dir: %w", pathErr(err))
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create replica dir: %w", pathErr(err))
	}
	if err := l.user.chown(dir); err != nil {
		return nil, err
	}
	out, err := l.command(ctx, "pg_basebackup", "-D", dir, "-R", "-X", "stream", "-c", "fast",
		"-h", l.layout.pgdata, "-p", strconv.Itoa(l.port), "-U", superuserRole).CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("pg_basebackup: %s", summary(string(out), err))
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	quote := func(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }
	// postgresql.auto.conf (where -R wrote primary_conninfo) wins over the
	// copied groundwork.conf: the replica's own port and socket.
	conf := "\nport = " + strconv.Itoa(port) + "\nunix_socket_directories = " + quote(dir) + "\nhot_standby = on\n"
	f, err := os.OpenFile(filepath.Join(dir, "postgresql.auto.conf"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return nil, fmt.Errorf("configure replica: %w", pathErr(err))
	}
	_, err = f.WriteString(conf)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("configure replica: %w", err)
	}
	r := &LocalReplica{primary: l, dir: dir, port: port}
	out, err = l.command(ctx, "pg_ctl", "start", "-w", "-t", "60", "-s", "-D", dir,
		"-l", filepath.Join(dir, "replica.log")).CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("start replica: %s", summary(string(out), err))
	}
	if err := r.waitReady(ctx, time.Minute); err != nil {
		_ = r.Stop(context.WithoutCancel(ctx))
		return nil, fmt.Errorf("start replica: %w", err)
	}
	return r, nil
}

// URL is the replica's connection URL of role to database db over its unix
// socket, with the role's password as for Local.URL.
func (r *LocalReplica) URL(role, db string) string {
	u, _ := url.Parse(r.primary.URL(role, db))
	q := u.Query()
	q.Set("host", r.dir)
	q.Set("port", strconv.Itoa(r.port))
	u.RawQuery = q.Encode()
	return u.String()
}

// SuperuserURL connects to database db of the replica as the superuser.
func (r *LocalReplica) SuperuserURL(db string) string { return r.URL(superuserRole, db) }

// Stop stops the replica (fast) and leaves its directory.
func (r *LocalReplica) Stop(ctx context.Context) error {
	out, err := r.primary.command(ctx, "pg_ctl", "stop", "-w", "-t", "60", "-s", "-m", "fast", "-D", r.dir).CombinedOutput()
	if err != nil {
		return fmt.Errorf("stop replica: %s", summary(string(out), err))
	}
	return nil
}

// waitReady waits until the superuser can connect to the replica.
func (r *LocalReplica) waitReady(ctx context.Context, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		attempt, cancelAttempt := context.WithTimeout(ctx, 5*time.Second)
		conn, err := pgx.Connect(attempt, r.SuperuserURL("postgres"))
		cancelAttempt()
		if err == nil {
			return conn.Close(ctx)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("connect: %w", err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}
