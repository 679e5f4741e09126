package postgres

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// This file finds the postmaster running on a cluster, and tells a live one
// from the stale postmaster.pid of a crashed one.

// runningPostmaster returns the pid and port of the postmaster running on
// the cluster, or 0 when none does. A postmaster.pid left by a crash whose
// pid is now a zombie or another program is removed, since PostgreSQL would
// refuse to start over it. The caller holds the launch lock.
func (l *Local) runningPostmaster() (pid, port int, err error) {
	path := filepath.Join(l.layout.pgdata, "postmaster.pid")
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, 0, nil
	}
	if err != nil {
		return 0, 0, fmt.Errorf("read %s: %w", path, pathErr(err))
	}
	lines := strings.Split(string(b), "\n")
	pid, _ = strconv.Atoi(strings.TrimSpace(lines[0]))
	if pid < 0 {
		pid = -pid // a single-user backend
	}
	switch postgresProcess(pid) {
	case processGone:
		return 0, 0, nil // stale; PostgreSQL replaces it on start
	case processZombie, processOther:
		// Dead but not reaped (an init that does not reap orphans, as in
		// some containers), or its pid reused since: PostgreSQL would take
		// it for alive and refuse to start.
		return 0, 0, l.removeStalePID(path, pid)
	}
	if len(lines) >= 4 {
		port, _ = strconv.Atoi(strings.TrimSpace(lines[3]))
	}
	if port == 0 {
		port = l.configuredPort()
	}
	return pid, port, nil
}

// removeStalePID removes the postmaster.pid of a postmaster that died,
// once none of its children still runs in the data directory.
func (l *Local) removeStalePID(path string, pid int) error {
	for range 100 {
		if !processesIn(l.layout.pgdata) {
			l.logger.Info("removing stale postmaster.pid", "path", path, "pid", pid)
			// The socket lock files name the same dead pid.
			locks, _ := filepath.Glob(filepath.Join(l.layout.pgdata, ".s.PGSQL.*.lock"))
			for _, p := range append(locks, path) {
				if b, err := os.ReadFile(p); err == nil && strings.TrimSpace(strings.SplitN(string(b), "\n", 2)[0]) == strconv.Itoa(pid) {
					if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
						return fmt.Errorf("remove stale %s: %w", p, pathErr(err))
					}
				}
			}
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("PostgreSQL (pid %d) died, but its processes still run in %s; stop them and try again", pid, l.layout.pgdata)
}

// processesIn reports whether a live process has dir as its working
// directory, as every PostgreSQL server process has its data directory.
func processesIn(dir string) bool {
	if real, err := filepath.EvalSymlinks(dir); err == nil {
		dir = real
	}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		if cwd, err := os.Readlink("/proc/" + e.Name() + "/cwd"); err == nil && cwd == dir {
			return true
		}
	}
	return false
}

type processKind int

const (
	processGone     processKind = iota // no such process
	processZombie                      // exited, not yet reaped
	processOther                       // a process that is not PostgreSQL
	processPostgres                    // a PostgreSQL server process
)

// postgresProcess tells whether pid is a live PostgreSQL server process.
func postgresProcess(pid int) processKind {
	if pid <= 0 {
		return processOther
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		if _, err := os.Stat("/proc/self/stat"); err != nil { // no procfs: ask the kernel
			if err := syscall.Kill(pid, 0); err == nil || errors.Is(err, syscall.EPERM) {
				return processPostgres
			}
		}
		return processGone
	}
	// "pid (comm) state ...", where comm may itself contain ") ".
	s := string(b)
	open, end := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
	if open < 0 || end < open || end+2 >= len(s) {
		return processOther
	}
	if state := s[end+2]; state == 'Z' || state == 'X' {
		return processZombie
	}
	if comm := s[open+1 : end]; comm != "postgres" && comm != "postmaster" {
		return processOther
	}
	return processPostgres
}
