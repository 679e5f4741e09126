package postgres

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/groundwork-dev/groundwork/internal/gw"
)

// This file keeps the embedded cluster running under serve: a postmaster
// that dies (killed, out of memory) is started again, with backoff, and a
// cluster that stays down too long makes Supervisor.Healthy fail so that an
// orchestrator restarts the whole process — the arrangement of systemd's
// Restart=on-failure under a liveness probe.

// Timing of the supervision loop.
const (
	// supervisePoll is how often the postmaster is looked for; a check reads
	// postmaster.pid and /proc, without touching the server.
	supervisePoll = time.Second
	// restartMinBackoff and restartMaxBackoff bound the wait between failed
	// restarts, which doubles from the one to the other.
	restartMinBackoff = time.Second
	restartMaxBackoff = 30 * time.Second
	// orphanWait bounds the wait for the server processes of a killed
	// postmaster to exit (they notice its death at once and quit); while they
	// hold its shared memory, a new postmaster would refuse to start.
	orphanWait = 10 * time.Second
)

// SuperviseOptions configures Local.Supervise.
type SuperviseOptions struct {
	// RecoveryTimeout is how long the postmaster may stay down before
	// Healthy fails (GROUNDWORK_DB_RECOVERY_TIMEOUT). Zero means a minute.
	RecoveryTimeout time.Duration
	// Clock measures RecoveryTimeout. Nil means the system clock.
	Clock gw.Clock
	// Alert, if set, is told once per outage that the postmaster died (error
	// tracking). The outage is logged either way.
	Alert func(ctx context.Context, err error)
}

// Supervisor watches the embedded cluster's postmaster and restarts it when
// it has died; see Local.Supervise. Its methods are safe for concurrent use.
type Supervisor struct {
	logger  *slog.Logger
	clock   gw.Clock
	timeout time.Duration
	alert   func(ctx context.Context, err error)
	// alive reports whether the postmaster runs; restart starts it if it
	// still does not, and says whether it had to.
	alive   func() bool
	restart func(ctx context.Context) (wasDown bool, err error)
	// poll, minBackoff and maxBackoff time the loop (tests shorten them).
	poll, minBackoff, maxBackoff time.Duration

	mu        sync.Mutex
	downSince time.Time // when the postmaster was found gone; zero while it runs
	cause     error     // the last failed restart of this outage
	alerted   bool      // Alert was told of this outage

	done chan struct{}
}

// Supervise watches the postmaster until ctx ends, looking every second,
// and starts it again, on the same port, when it is gone — unless another
// process sharing the cluster already did. Failed restarts are retried
// after 1s, 2s, 4s… up to 30s. Call Wait after cancelling ctx, and before
// Close.
func (l *Local) Supervise(ctx context.Context, opts SuperviseOptions) *Supervisor {
	s := newSupervisor(opts, l.logger, l.postmasterAlive, l.restartIfDown)
	go s.run(ctx)
	return s
}

func newSupervisor(opts SuperviseOptions, logger *slog.Logger, alive func() bool, restart func(context.Context) (bool, error)) *Supervisor {
	s := &Supervisor{
		logger: logger, clock: opts.Clock, timeout: opts.RecoveryTimeout, alert: opts.Alert,
		alive: alive, restart: restart,
		poll: supervisePoll, minBackoff: restartMinBackoff, maxBackoff: restartMaxBackoff,
		done: make(chan struct{}),
	}
	if s.clock == nil {
		s.clock = gw.SystemClock{}
	}
	if s.timeout <= 0 {
		s.timeout = time.Minute
	}
	if s.logger == nil {
		s.logger = slog.New(slog.DiscardHandler)
	}
	return s
}

// run is the supervision loop.
func (s *Supervisor) run(ctx context.Context) {
	defer close(s.done)
	backoff := s.minBackoff
	timer := time.NewTimer(s.poll)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		}
		wait := s.poll
		if !s.alive() {
			s.markDown()
			wasDown, err := s.restart(ctx)
			if ctx.Err() != nil {
				return
			}
			if err != nil {
				s.failed(ctx, err, backoff)
				wait, backoff = backoff, min(2*backoff, s.maxBackoff)
			} else {
				s.markUp(ctx, wasDown)
				backoff = s.minBackoff
			}
		}
		timer.Reset(wait)
	}
}

// Wait returns once the supervision loop has stopped (its ctx ended).
func (s *Supervisor) Wait() { <-s.done }

// Healthy returns nil unless the postmaster has been down for longer than
// the recovery timeout; then an error saying for how long, and why the last
// restart failed. It has the shape of web.Deps.Live.
func (s *Supervisor) Healthy(context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.downSince.IsZero() {
		return nil
	}
	down := s.clock.Now().Sub(s.downSince)
	if down <= s.timeout {
		return nil
	}
	msg := fmt.Sprintf("embedded PostgreSQL has been down for %s, longer than the recovery timeout (%s)", down.Round(time.Second), s.timeout)
	if s.cause != nil {
		return fmt.Errorf("%s: %w", msg, s.cause)
	}
	return errors.New(msg)
}

// markDown notes that the postmaster was found gone, if it was running.
func (s *Supervisor) markDown() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.downSince.IsZero() {
		s.downSince = s.clock.Now()
	}
}

// failed notes a failed restart; the first of an outage is alerted.
func (s *Supervisor) failed(ctx context.Context, err error, retryIn time.Duration) {
	s.mu.Lock()
	s.cause = err
	first := !s.alerted
	s.alerted = true
	down := s.clock.Now().Sub(s.downSince)
	s.mu.Unlock()
	s.logger.ErrorContext(ctx, "embedded PostgreSQL is down and could not be restarted; retrying",
		"error", err, "retry_in", retryIn.String(), "down_for", down.Round(time.Millisecond).String())
	if first && s.alert != nil {
		s.alert(ctx, fmt.Errorf("restart embedded PostgreSQL: %w", err))
	}
}

// markUp notes that the postmaster runs; wasDown says it had to be started.
func (s *Supervisor) markUp(ctx context.Context, wasDown bool) {
	s.mu.Lock()
	since, alerted := s.downSince, s.alerted
	s.downSince, s.cause, s.alerted = time.Time{}, nil, false
	s.mu.Unlock()
	if !wasDown {
		return // another process had already started it, or it never stopped
	}
	down := s.clock.Now().Sub(since)
	s.logger.WarnContext(ctx, "embedded PostgreSQL restarted", "down_for", down.Round(time.Millisecond).String())
	if !alerted && s.alert != nil {
		s.alert(ctx, errors.New("embedded PostgreSQL had stopped unexpectedly; serve restarted it"))
	}
}

// postmasterAlive reports whether the pid in postmaster.pid is a live
// PostgreSQL process. It takes no lock and changes nothing: a cheap check,
// which restartIfDown confirms under the launch lock.
func (l *Local) postmasterAlive() bool {
	b, err := os.ReadFile(filepath.Join(l.layout.pgdata, "postmaster.pid"))
	if err != nil {
		return false
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(strings.SplitN(string(b), "\n", 2)[0]))
	return postgresProcess(pid) == processPostgres
}

// restartIfDown starts the postmaster on its port unless one runs, under
// the launch lock (another process sharing the cluster may be starting or
// restarting it). It reports whether it had to start it.
func (l *Local) restartIfDown(ctx context.Context) (bool, error) {
	launch, err := lockFile(ctx, filepath.Join(l.dataDir, launchLockFile), syscall.LOCK_EX)
	if err != nil {
		return false, err
	}
	defer launch.Close()
	pid, _, err := l.runningPostmaster()
	if err != nil {
		return true, err
	}
	if pid > 0 {
		return false, nil
	}
	l.logger.ErrorContext(ctx, "embedded PostgreSQL is not running; restarting it", "pgdata", l.layout.pgdata, "port", l.port)
	for deadline := time.Now().Add(orphanWait); processesIn(l.layout.pgdata) && time.Now().Before(deadline); {
		select {
		case <-ctx.Done():
			return true, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	return true, l.launch(ctx, l.port)
}
