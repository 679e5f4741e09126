package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// This file runs the cluster's life cycle: initdb, configuration, pg_ctl
// start and stop.

// configFile is the configuration file Groundwork manages inside PGDATA,
// included at the end of postgresql.conf. ALTER SYSTEM settings still win.
const configFile = "groundwork.conf"

// initialise runs initdb when pgdata holds no cluster yet. It initialises a
// temporary directory next to pgdata and renames it into place, so a crash
// leaves either no cluster or a complete one.
func (l *Local) initialise(ctx context.Context) error {
	pgdata := l.layout.pgdata
	if _, err := os.Stat(filepath.Join(pgdata, "PG_VERSION")); err == nil {
		return l.checkOwner()
	}
	if entries, err := os.ReadDir(pgdata); err == nil {
		if len(entries) > 0 {
			return fmt.Errorf("%s exists but holds no PostgreSQL cluster (no PG_VERSION); move it away", pgdata)
		}
		if err := os.Remove(pgdata); err != nil {
			return fmt.Errorf("remove empty %s: %w", pgdata, pathErr(err))
		}
	}
	tmp := pgdata + ".initdb"
	if err := os.RemoveAll(tmp); err != nil {
		return fmt.Errorf("remove leftover %s: %w", tmp, pathErr(err))
	}
	if err := os.Mkdir(tmp, 0o700); err != nil {
		return fmt.Errorf("create cluster dir %s: %w", tmp, pathErr(err))
	}
	done := false
	defer func() {
		if !done {
			os.RemoveAll(tmp)
		}
	}()
	if err := l.user.chown(tmp); err != nil {
		return err
	}
	l.logger.Info("initialising PostgreSQL cluster", "pgdata", pgdata, "binaries", l.bin)
	out, err := l.command(ctx, "initdb", "-D", tmp, "-U", superuserRole,
		"--auth-local=trust", "--auth-host=scram-sha-256",
		"--encoding=UTF8", "--locale=C.UTF-8").CombinedOutput()
	if err != nil {
		return fmt.Errorf("initialise PostgreSQL cluster in %s: %s", pgdata, summary(string(out), err))
	}
	port, err := freePort()
	if err != nil {
		return err
	}
	if err := l.writeConfig(tmp, port); err != nil {
		return err
	}
	conf, err := os.OpenFile(filepath.Join(tmp, "postgresql.conf"), os.O_WRONLY|os.O_APPEND, 0)
	if err == nil {
		_, err = fmt.Fprintf(conf, "\n# Groundwork's settings.\ninclude = '%s'\n", configFile)
		err = errors.Join(err, conf.Close())
	}
	if err != nil {
		return fmt.Errorf("configure cluster: %w", err)
	}
	if err := os.Rename(tmp, pgdata); err != nil {
		return fmt.Errorf("move new cluster into %s: %w", pgdata, pathErr(err))
	}
	done = true
	syncDir(filepath.Dir(pgdata))
	return nil
}

// checkOwner makes sure an existing cluster belongs to the user who will
// run it: as root it hands the cluster over, otherwise it says who owns it.
func (l *Local) checkOwner() error {
	fi, err := os.Stat(l.layout.pgdata)
	if err != nil {
		return fmt.Errorf("inspect cluster: %w", err)
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return nil
	}
	if l.user == nil {
		if euid := os.Geteuid(); int(st.Uid) != euid {
			return fmt.Errorf("cluster %s belongs to uid %d, not to this user (uid %d); run groundwork as its owner", l.layout.pgdata, st.Uid, euid)
		}
		return nil
	}
	if int(st.Uid) == l.user.uid {
		return nil
	}
	l.logger.Info("handing the cluster over to its user", "pgdata", l.layout.pgdata, "user", l.user.name)
	return l.user.chownAll(l.layout.pgdata)
}

// writeConfig writes groundwork.conf into dir (a cluster directory whose
// final place is l.layout.pgdata).
func (l *Local) writeConfig(dir string, port int) error {
	quote := func(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }
	conf := "# Managed by groundwork: rewritten whenever it starts this cluster.\n" +
		"# Put your own settings in postgresql.auto.conf (ALTER SYSTEM).\n" +
		"listen_addresses = '127.0.0.1'\n" +
		"port = " + strconv.Itoa(port) + "\n" +
		"unix_socket_directories = " + quote(l.layout.pgdata) + "\n" +
		"unix_socket_permissions = 0700\n" +
		"password_encryption = 'scram-sha-256'\n" +
		"fsync = on\n" +
		"max_connections = 100\n" +
		l.statStatementsConfig() +
		"# Settings other Groundwork features manage (WriteExtraConfig).\n" +
		"include_if_exists = " + quote(ExtraConfigFile) + "\n"
	return l.writeFileAs(filepath.Join(dir, configFile), []byte(conf))
}

// statStatementsConfig preloads pg_stat_statements (the operator console's
// slow SQL) when the binaries' library directory has it, and is empty
// otherwise: preloading a library that is missing would stop the server
// from starting.
func (l *Local) statStatementsConfig() string {
	if _, err := os.Stat(filepath.Join(filepath.Dir(l.bin), "lib", "pg_stat_statements.so")); err != nil {
		return ""
	}
	return "shared_preload_libraries = 'pg_stat_statements'\n" +
		"pg_stat_statements.track = top\n"
}

// ExtraConfigFile, inside PGDATA, holds settings a Groundwork feature manages
// (WAL archiving for point-in-time recovery). groundwork.conf includes it
// when it exists; ALTER SYSTEM settings still win.
const ExtraConfigFile = "groundwork-extra.conf"

// PGData is the cluster's data directory; it also holds the unix socket.
func (l *Local) PGData() string { return l.layout.pgdata }

// WriteExtraConfig replaces ExtraConfigFile in PGDATA with conf, owned by
// the cluster's user. It takes effect on the next reload (pg_reload_conf) or,
// for settings that need it, on Restart.
func (l *Local) WriteExtraConfig(conf string) error {
	return l.writeFileAs(filepath.Join(l.layout.pgdata, ExtraConfigFile), []byte(conf))
}

// Restart restarts the postmaster in place (pg_ctl restart -m fast), on the
// same port, for settings that only take effect at server start. Other
// processes sharing the cluster lose their connections and reconnect.
func (l *Local) Restart(ctx context.Context) error {
	launch, err := lockFile(ctx, filepath.Join(l.dataDir, launchLockFile), syscall.LOCK_EX)
	if err != nil {
		return err
	}
	defer launch.Close()
	logStart, err := l.prepareLog()
	if err != nil {
		return err
	}
	l.logger.Info("restarting PostgreSQL", "pgdata", l.layout.pgdata)
	out, err := l.command(ctx, "pg_ctl", "restart", "-w", "-t", "120", "-s", "-m", "fast",
		"-D", l.layout.pgdata, "-l", l.layout.logPath).CombinedOutput()
	if err != nil {
		reason := summary(string(out), err)
		if log := l.readLog(logStart); strings.TrimSpace(log) != "" {
			reason = summary(log, nil)
		}
		return fmt.Errorf("restart PostgreSQL: %s (log: %s)", reason, l.layout.logPath)
	}
	return l.waitReady(ctx, 30*time.Second)
}

var portSetting = regexp.MustCompile(`(?m)^port = (\d+)$`)

// configuredPort returns the port in groundwork.conf, or 0.
func (l *Local) configuredPort() int {
	b, _ := os.ReadFile(filepath.Join(l.layout.pgdata, configFile))
	if m := portSetting.FindSubmatch(b); m != nil {
		port, _ := strconv.Atoi(string(m[1]))
		return port
	}
	return 0
}

// writeFileAs writes path atomically, 0600, owned by the cluster's user.
func (l *Local) writeFileAs(path string, data []byte) error {
	tmp := path + ".tmp"
	err := os.WriteFile(tmp, data, 0o600)
	if err == nil {
		err = l.user.chown(tmp)
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, pathErr(err))
	}
	return nil
}

// start starts the postmaster with pg_ctl on its configured port, or on a
// free one when that is taken, and waits until it accepts connections.
func (l *Local) start(ctx context.Context) error {
	port := l.configuredPort()
	if port == 0 || !portFree(port) {
		free, err := freePort()
		if err != nil {
			return err
		}
		if port != 0 {
			l.logger.Warn("PostgreSQL's port is taken; moving the cluster to another", "old_port", port, "port", free)
		}
		port = free
	}
	return l.launch(ctx, port)
}

// launch writes groundwork.conf for port and starts the postmaster on it
// with pg_ctl, waiting until it accepts connections. A postmaster that did
// not come up is stopped again. The caller holds the launch lock.
func (l *Local) launch(ctx context.Context, port int) error {
	if err := l.writeConfig(l.layout.pgdata, port); err != nil {
		return err
	}
	if l.port != port { // a restart keeps the port: no write that readers of URL would race with
		l.port = port
	}
	logStart, err := l.prepareLog()
	if err != nil {
		return err
	}
	l.logger.Info("starting PostgreSQL", "pgdata", l.layout.pgdata, "port", port, "log", l.layout.logPath)
	out, err := l.command(ctx, "pg_ctl", "start", "-w", "-t", "120", "-s",
		"-D", l.layout.pgdata, "-l", l.layout.logPath).CombinedOutput()
	var reason string
	if err != nil {
		if log := l.readLog(logStart); strings.TrimSpace(log) != "" {
			reason = summary(log, nil)
		} else {
			reason = summary(string(out), err)
		}
	} else if err = l.waitReady(ctx, 30*time.Second); err != nil {
		reason = "not accepting connections: " + err.Error()
	}
	if err != nil {
		if pid, _, _ := l.runningPostmaster(); pid > 0 {
			_ = l.stop(context.WithoutCancel(ctx), "immediate")
		}
		return fmt.Errorf("start PostgreSQL: %s (log: %s)", reason, l.layout.logPath)
	}
	pid, _, _ := l.runningPostmaster()
	l.logger.Info("PostgreSQL started", "pid", pid, "port", port)
	return nil
}

// maxLogSize is the size past which the server log is rotated at start.
const maxLogSize = 16 << 20

// prepareLog makes sure the server log exists, belongs to the cluster's user
// and is not too large, and returns its current size.
func (l *Local) prepareLog() (int64, error) {
	path := l.layout.logPath
	if fi, err := os.Stat(path); err == nil && fi.Size() > maxLogSize {
		_ = os.Rename(path, path+".1")
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return 0, fmt.Errorf("open server log %s: %w", path, pathErr(err))
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return 0, fmt.Errorf("open server log %s: %w", path, err)
	}
	return fi.Size(), l.user.chown(path)
}

// readLog returns the server log from offset on (at most its last 64 KiB).
func (l *Local) readLog(offset int64) string {
	f, err := os.Open(l.layout.logPath)
	if err != nil {
		return ""
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && fi.Size()-offset > 64<<10 {
		offset = fi.Size() - 64<<10
	}
	b, _ := io.ReadAll(io.NewSectionReader(f, offset, 64<<10))
	return string(b)
}

// stop stops the postmaster with pg_ctl in the given shutdown mode, falling
// back to an immediate shutdown when a fast one does not finish.
func (l *Local) stop(ctx context.Context, mode string) error {
	pid, _, _ := l.runningPostmaster()
	out, err := l.command(ctx, "pg_ctl", "stop", "-w", "-t", "60", "-s", "-m", mode, "-D", l.layout.pgdata).CombinedOutput()
	if err == nil {
		// The postmaster removes postmaster.pid, on which pg_ctl waits, just
		// before it exits: wait for the process itself, so that a stopped
		// cluster has no server process left.
		waitExited(ctx, pid, 10*time.Second)
	}
	if err != nil && mode != "immediate" {
		if pid, _, _ := l.runningPostmaster(); pid > 0 {
			l.logger.Warn("PostgreSQL did not stop; stopping it immediately", "pid", pid, "error", summary(string(out), err))
			return l.stop(ctx, "immediate")
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("stop PostgreSQL: %s", summary(string(out), err))
	}
	return nil
}

// waitReady waits until the superuser can connect over the unix socket.
func (l *Local) waitReady(ctx context.Context, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		attempt, cancelAttempt := context.WithTimeout(ctx, 5*time.Second)
		conn, err := pgx.Connect(attempt, l.SuperuserURL("postgres"))
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

// command prepares one of the PostgreSQL programs. It runs as the cluster's
// user when we are root, in its own process group so that a terminal's
// Ctrl-C reaches Groundwork (which then stops the cluster) and not the
// postmaster, and without PG* variables that could redirect it.
func (l *Local) command(ctx context.Context, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, filepath.Join(l.bin, name), args...)
	cmd.Dir = "/"
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "PG") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	attr := &syscall.SysProcAttr{Setpgid: true}
	if l.user != nil {
		groups := make([]uint32, len(l.user.groups))
		for i, g := range l.user.groups {
			groups[i] = uint32(g)
		}
		attr.Credential = &syscall.Credential{Uid: uint32(l.user.uid), Gid: uint32(l.user.gid), Groups: groups}
	}
	cmd.SysProcAttr = attr
	cmd.WaitDelay = 10 * time.Second
	return cmd
}

// freePort returns a loopback TCP port that is free right now.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// portFree reports whether port can be listened on at 127.0.0.1.
func portFree(port int) bool {
	ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
	if err != nil {
		return false
	}
	ln.Close()
	return true
}

// syncDir flushes a directory's entries (after a rename) to disk.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
}

// summary explains a failure from PostgreSQL output in one line: the last
// FATAL, PANIC or ERROR message with up to two messages of the same process
// that led to it, else the last line, else err.
func summary(out string, err error) string {
	var lines []string
	for line := range strings.Lines(out) {
		if line = strings.TrimSpace(line); line != "" {
			lines = append(lines, line)
		}
	}
	last := -1
	for i := len(lines) - 1; i >= 0 && last < 0; i-- {
		if _, ok := logMessage(lines[i], "FATAL:", "PANIC:", "ERROR:", "error:"); ok {
			last = i
		}
	}
	if last < 0 {
		return lastLine(out, err)
	}
	msg, _ := logMessage(lines[last], "FATAL:", "PANIC:", "ERROR:", "error:")
	msgs := []string{msg}
	pid := processTag(lines[last])
	for i := last - 1; i >= 0 && i >= last-20 && len(msgs) < 3 && pid != ""; i-- {
		if processTag(lines[i]) != pid {
			continue
		}
		m, ok := logMessage(lines[i], "LOG:", "WARNING:", "ERROR:")
		if ok && !strings.Contains(m, "starting PostgreSQL") && !strings.Contains(m, "listening on") {
			msgs = append([]string{m}, msgs...)
		}
	}
	return strings.Join(msgs, "; ")
}

// logMessage returns the part of a log line from the first of markers on,
// with the marker's padding squeezed.
func logMessage(line string, markers ...string) (string, bool) {
	for _, m := range markers {
		if i := strings.Index(line, m); i >= 0 {
			return m + " " + strings.TrimSpace(line[i+len(m):]), true
		}
	}
	return "", false
}

// processTag returns the "[pid]" of a server log line, or "".
func processTag(line string) string {
	open := strings.IndexByte(line, '[')
	end := strings.IndexByte(line, ']')
	if open < 0 || end < open {
		return ""
	}
	return line[open : end+1]
}

// waitExited waits up to timeout until pid is no longer a PostgreSQL server
// process (gone, or a zombie waiting to be reaped by its parent).
func waitExited(ctx context.Context, pid int, timeout time.Duration) {
	deadline := time.Now().Add(timeout)
	for pid > 0 && postgresProcess(pid) == processPostgres && time.Now().Before(deadline) && ctx.Err() == nil {
		time.Sleep(10 * time.Millisecond)
	}
}
