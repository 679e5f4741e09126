package postgres

import (
	"context"
	"errors"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/groundwork-dev/groundwork/internal/gw"
	"github.com/groundwork-dev/groundwork/internal/gwtest"
)

// TestSupervisor drives the supervision loop with a stand-in postmaster and
// a hand-moved clock: a dead postmaster is restarted, failed restarts are
// retried, Healthy fails only once the outage outlasts the recovery timeout
// by the clock, and recovers with the postmaster.
func TestSupervisor(t *testing.T) {
	t.Parallel()
	clock := gwtest.NewClock(time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC))
	var alive, restartWorks atomic.Bool
	alive.Store(true)
	attempts := make(chan struct{}, 100)
	restart := func(context.Context) (bool, error) {
		attempts <- struct{}{}
		if !restartWorks.Load() {
			return true, errors.New("could not bind IPv4 address: Address already in use")
		}
		alive.Store(true)
		return true, nil
	}
	var alerts atomic.Int32
	s := newSupervisor(SuperviseOptions{RecoveryTimeout: time.Minute, Clock: clock,
		Alert: func(context.Context, error) { alerts.Add(1) }}, nil, alive.Load, restart)
	s.poll, s.minBackoff, s.maxBackoff = time.Millisecond, time.Millisecond, 2*time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	go s.run(ctx)
	t.Cleanup(func() { cancel(); s.Wait() })

	require.NoError(t, s.Healthy(ctx))
	alive.Store(false) // the postmaster dies; restarts fail
	for range 3 {
		<-attempts
	}
	require.NoError(t, s.Healthy(ctx), "down, but not for longer than the recovery timeout")
	clock.Advance(time.Minute + time.Second)
	err := s.Healthy(ctx)
	require.ErrorContains(t, err, "embedded PostgreSQL has been down for 1m1s")
	require.ErrorContains(t, err, "Address already in use", "with why the last restart failed")

	restartWorks.Store(true)
	require.Eventually(t, func() bool { return s.Healthy(ctx) == nil }, 10*time.Second, time.Millisecond)
	require.EqualValues(t, 1, alerts.Load(), "one alert for the outage")

	cancel()
	s.Wait()
}

// TestSuperviseRestartsKilledPostmaster: a postmaster killed with SIGKILL is
// started again on the same port; a connection it had fails with
// EUNAVAILABLE (not an internal error), and new connections work again.
func TestSuperviseRestartsKilledPostmaster(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	l := startLocal(t, testDir(t))
	sctx, cancel := context.WithCancel(ctx)
	s := l.Supervise(sctx, SuperviseOptions{})
	t.Cleanup(func() { cancel(); s.Wait() }) // before startLocal's Close
	conn := connect(t, l.RuntimeURL())
	port := l.Port()
	pid := postmasterPID(t, l)

	require.NoError(t, syscall.Kill(pid, syscall.SIGKILL))
	// A backend notices its postmaster's death only when it next waits, so
	// the connection may answer a query or two first.
	var err error
	require.Eventually(t, func() bool {
		_, err = conn.Exec(ctx, `SELECT 1`)
		return err != nil
	}, 30*time.Second, 10*time.Millisecond)
	gwtest.RequireCode(t, gw.EUNAVAILABLE, Translate(err))
	require.True(t, Unavailable(err), "%v", err)

	require.Eventually(t, func() bool {
		c, err := pgx.Connect(ctx, l.RuntimeURL())
		if err != nil {
			return false
		}
		defer c.Close(ctx)
		var one int
		return c.QueryRow(ctx, `SELECT 1`).Scan(&one) == nil && one == 1
	}, 60*time.Second, 50*time.Millisecond)
	require.NotEqual(t, pid, postmasterPID(t, l), "a new postmaster")
	require.Equal(t, port, l.Port(), "on the same port")
	require.NoError(t, s.Healthy(ctx))
}
