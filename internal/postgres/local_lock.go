package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// LockServe takes the exclusive, non-blocking serve lock of dataDir
// (dataDir/serve.lock), so that one `groundwork serve` runs per data dir, and
// records the process ID in it. It returns an error naming the holder when
// another process holds the lock. Call unlock to release it.
func LockServe(dataDir string) (unlock func(), err error) {
	if err := ensureDataDir(dataDir); err != nil {
		return nil, err
	}
	path := filepath.Join(dataDir, serveLockFile)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open serve lock %s: %w", path, pathErr(err))
	}
	if err := flockBriefly(f, syscall.LOCK_EX); err != nil {
		pid := readPID(f)
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			msg := "another groundwork serve is already running on data dir " + dataDir
			if pid > 0 {
				msg += fmt.Sprintf(" (pid %d)", pid)
			}
			return nil, errors.New(msg)
		}
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			_ = f.Truncate(0)
			f.Close()
		})
	}, nil
}

// readPID reads the process ID recorded in a lock file, or 0.
func readPID(f *os.File) int {
	b, err := io.ReadAll(io.NewSectionReader(f, 0, 64))
	if err != nil {
		return 0
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	return pid
}

// lockFile opens path and takes a flock of kind how (LOCK_EX or LOCK_SH),
// waiting until it is free or ctx ends. Closing the file releases the lock.
// Each call opens its own file description, so two locks taken in one
// process conflict just as they would across processes.
func lockFile(ctx context.Context, path string, how int) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open lock %s: %w", path, pathErr(err))
	}
	for {
		err := flock(f, how|syscall.LOCK_NB)
		if err == nil {
			return f, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("wait for lock %s: %w", path, context.Cause(ctx))
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// tryLockFile is lockFile without waiting (beyond flockBriefly): it returns
// nil, nil when the lock is held elsewhere.
func tryLockFile(path string, how int) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open lock %s: %w", path, pathErr(err))
	}
	if err := flockBriefly(f, how); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, nil
		}
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	return f, nil
}

// flockBriefly tries a non-blocking flock for a short while before giving
// up with EWOULDBLOCK. A child forked by this process holds copies of our
// descriptors, and so our locks, until it execs; a lock we just released
// can look taken for that moment.
func flockBriefly(f *os.File, how int) error {
	deadline := time.Now().Add(250 * time.Millisecond)
	for {
		err := flock(f, how|syscall.LOCK_NB)
		if !errors.Is(err, syscall.EWOULDBLOCK) || time.Now().After(deadline) {
			return err
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// flock calls flock(2), retrying when interrupted by a signal.
func flock(f *os.File, how int) error {
	raw, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var ferr error
	err = raw.Control(func(fd uintptr) {
		for {
			ferr = syscall.Flock(int(fd), how)
			if !errors.Is(ferr, syscall.EINTR) {
				return
			}
		}
	})
	if err != nil {
		return err
	}
	return ferr
}
