package ratelimit

import (
	"context"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"

	"github.com/groundwork-dev/groundwork/internal/gwtest"
	"github.com/groundwork-dev/groundwork/internal/redistest"
)

// backendKind makes a fresh backend of one kind for a test.
type backendKind struct {
	new func(t *testing.T) Backend
	// frozen is true for the memory backend, timed by a gwtest.Clock that
	// the test does not move: no budget refills during the test, so every
	// Decision is exact. Redis times by its own clock, which cannot be
	// injected: there, waits shrink by the time the test has taken.
	frozen bool
}

// backends returns each kind of backend: memory, on a frozen clock, and
// Redis on a real server.
func backends() map[string]backendKind {
	return map[string]backendKind{
		"memory": {new: func(t *testing.T) Backend { return NewMemory(100, gwtest.NewClock(time.Unix(1_700_000_000, 0))) }, frozen: true},
		"redis": {new: func(t *testing.T) Backend {
			r, err := NewRedis(redistest.Start(t).URL())
			require.NoError(t, err)
			t.Cleanup(func() { _ = r.Close() })
			return r
		}},
	}
}

// requireWait checks a wait the backend reported (RetryAfter, ResetAfter):
// exactly want on a frozen clock; on Redis's clock, want less at most the
// time since start, when the test began using the budget. It never depends
// on how fast the test runs: a slow test widens the range, and the test's
// limits are long enough that nothing refills completely meanwhile.
func requireWait(t *testing.T, frozen bool, want, got time.Duration, start time.Time, msg string) {
	t.Helper()
	if frozen {
		require.Equal(t, want, got, msg)
		return
	}
	// Redis reports its float seconds with 14 significant digits, and its
	// clock and ours may disagree by a little: allow for both.
	const slack = time.Second
	require.LessOrEqual(t, got, want+time.Millisecond, msg)
	require.GreaterOrEqual(t, got, want-time.Since(start)-slack, msg)
}

func TestLimiterBudget(t *testing.T) {
	t.Parallel()
	for name, kind := range backends() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			reg := prometheus.NewRegistry()
			// Periods long enough that no event comes back while even the
			// slowest run lasts (go test's -timeout is 30m in make test).
			l := New(kind.new(t), Policies{LoginIP: {Count: 3, Period: 3 * time.Hour}, Search: {Count: 1, Period: time.Hour}}, NewMetrics(reg))

			start := time.Now()
			for i := range 3 {
				d, err := l.Allow(ctx, LoginIP, "192.0.2.1")
				require.NoError(t, err)
				require.True(t, d.Allowed, "event %d", i+1)
				require.Equal(t, 2-i, d.Remaining)
				require.Equal(t, LoginIP, d.Policy)
				require.Equal(t, Limit{3, 3 * time.Hour}, d.Limit)
			}
			d, err := l.Allow(ctx, LoginIP, "192.0.2.1")
			require.NoError(t, err)
			require.False(t, d.Allowed, "the 4th event is over the limit")
			require.Zero(t, d.Remaining)
			// One event comes back every hour; all three in three hours.
			requireWait(t, kind.frozen, time.Hour, d.RetryAfter, start, "RetryAfter")
			requireWait(t, kind.frozen, 3*time.Hour, d.ResetAfter, start, "ResetAfter")
			if kind.frozen {
				require.Equal(t, 3600, d.RetryAfterSeconds())
			} else {
				require.Equal(t, int(math.Ceil(d.RetryAfter.Seconds())), d.RetryAfterSeconds())
				require.LessOrEqual(t, d.RetryAfterSeconds(), 3600)
			}
			require.Equal(t, 1.0, testutil.ToFloat64(l.metrics.rejectedTotal.WithLabelValues(string(LoginIP))))

			// Other keys and other policies have their own budgets.
			d, err = l.Allow(ctx, LoginIP, "192.0.2.2")
			require.NoError(t, err)
			require.True(t, d.Allowed)
			d, err = l.Allow(ctx, Search, "192.0.2.1")
			require.NoError(t, err)
			require.True(t, d.Allowed)

			// Unlimited policies always allow.
			d, err = l.Allow(ctx, SignupIP, "192.0.2.1")
			require.NoError(t, err)
			require.True(t, d.Allowed)
			require.True(t, d.Limit.Unlimited())
		})
	}
}

func TestLimiterRefund(t *testing.T) {
	t.Parallel()
	for name, kind := range backends() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			l := New(kind.new(t), Policies{LoginAccount: {Count: 2, Period: 2 * time.Hour}}, nil)
			// Take both, give one back: one more is allowed, then none.
			for range 2 {
				d, err := l.Allow(ctx, LoginAccount, "ada@example.com")
				require.NoError(t, err)
				require.True(t, d.Allowed)
			}
			require.NoError(t, l.Refund(ctx, LoginAccount, "ada@example.com"))
			d, err := l.Allow(ctx, LoginAccount, "ada@example.com")
			require.NoError(t, err)
			require.True(t, d.Allowed, "the refunded event is available again")
			d, err = l.Allow(ctx, LoginAccount, "ada@example.com")
			require.NoError(t, err)
			require.False(t, d.Allowed)

			// A refund never raises the budget above its limit.
			for range 3 {
				require.NoError(t, l.Refund(ctx, LoginAccount, "bob@example.com"))
			}
			for i := range 3 {
				d, err := l.Allow(ctx, LoginAccount, "bob@example.com")
				require.NoError(t, err)
				require.Equal(t, i < 2, d.Allowed, "event %d", i+1)
			}
		})
	}
}

func TestMemoryRefills(t *testing.T) {
	t.Parallel()
	clock := gwtest.NewClock(time.Unix(1_700_000_000, 0))
	l := New(NewMemory(10, clock), Policies{LoginIP: {Count: 2, Period: time.Minute}}, nil)
	ctx := context.Background()
	for range 2 {
		d, _ := l.Allow(ctx, LoginIP, "k")
		require.True(t, d.Allowed)
	}
	d, _ := l.Allow(ctx, LoginIP, "k")
	require.False(t, d.Allowed)
	require.Equal(t, 30*time.Second, d.RetryAfter)
	clock.Advance(29 * time.Second)
	d, _ = l.Allow(ctx, LoginIP, "k")
	require.False(t, d.Allowed)
	require.Equal(t, time.Second, d.RetryAfter)
	clock.Advance(time.Second)
	d, _ = l.Allow(ctx, LoginIP, "k")
	require.True(t, d.Allowed, "one event came back after Period/Count")
}

func TestMemoryEvictsLeastRecentlyUsed(t *testing.T) {
	t.Parallel()
	l := New(NewMemory(2, gwtest.NewClock(time.Unix(1_700_000_000, 0))), Policies{LoginIP: {Count: 1, Period: time.Hour}, SignupIP: {Count: 1, Period: time.Hour}}, nil)
	ctx := context.Background()
	for _, k := range []string{"a", "b", "c"} {
		d, _ := l.Allow(ctx, LoginIP, k)
		require.True(t, d.Allowed)
	}
	d, _ := l.Allow(ctx, LoginIP, "a")
	require.True(t, d.Allowed, "a was evicted: its bucket is new")
	d, _ = l.Allow(ctx, SignupIP, "x")
	require.True(t, d.Allowed)
	d, _ = l.Allow(ctx, SignupIP, "x")
	require.False(t, d.Allowed, "each policy has its own LRU")
}

func TestNilLimiterAllows(t *testing.T) {
	t.Parallel()
	var l *Limiter
	d, err := l.Allow(context.Background(), LoginIP, "k")
	require.NoError(t, err)
	require.True(t, d.Allowed)
	require.NoError(t, l.Refund(context.Background(), LoginIP, "k"))
	require.NoError(t, l.Close())
}

// TestRedisSharedBetweenLimiters: two limiters, as in two instances, on one
// Redis share one budget.
func TestRedisSharedBetweenLimiters(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	policies := Policies{SignupIP: {Count: 4, Period: 24 * time.Hour}} // nothing comes back during the test
	var ls []*Limiter
	for range 2 {
		l, err := Open(srv.URL(), policies, nil)
		require.NoError(t, err)
		t.Cleanup(func() { _ = l.Close() })
		ls = append(ls, l)
	}
	ctx := context.Background()
	var mu sync.Mutex
	allowed := 0
	var wg sync.WaitGroup
	for i := range 10 {
		wg.Go(func() {
			d, err := ls[i%2].Allow(ctx, SignupIP, "198.51.100.7")
			require.NoError(t, err)
			if d.Allowed {
				mu.Lock()
				allowed++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	require.Equal(t, 4, allowed, "exactly the budget is allowed across both instances")
}

// TestRedisDown: with Redis gone, Allow reports the error, allows the
// event (the caller fails open) and counts the error. How soon it gives up
// is TestNewRedisGivesUpQuickly's (timeouts, not a stopwatch).
func TestRedisDown(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	reg := prometheus.NewRegistry()
	l, err := Open(srv.URL(), Policies{LoginIP: {Count: 1, Period: time.Hour}}, NewMetrics(reg))
	require.NoError(t, err)
	t.Cleanup(func() { _ = l.Close() })
	ctx := context.Background()
	d, err := l.Allow(ctx, LoginIP, "k")
	require.NoError(t, err)
	require.True(t, d.Allowed)

	srv.Stop()
	d, err = l.Allow(ctx, LoginIP, "k")
	require.Error(t, err)
	require.Contains(t, err.Error(), "rate limit login-ip")
	require.True(t, d.Allowed, "fail open")
	require.Equal(t, 1.0, testutil.ToFloat64(l.metrics.errorsTotal.WithLabelValues(string(LoginIP))))
	require.Error(t, l.Refund(ctx, LoginIP, "k"))
	require.Equal(t, 2.0, testutil.ToFloat64(l.metrics.errorsTotal.WithLabelValues(string(LoginIP))))
}

// TestNewRedisGivesUpQuickly: a decision waiting on an unreachable Redis
// delays a request, so the client has short timeouts and one retry unless
// the URL says otherwise. Checked on the client's options rather than by
// timing a failure, which a busy machine would make slow.
func TestNewRedisGivesUpQuickly(t *testing.T) {
	t.Parallel()
	r, err := NewRedis("redis://127.0.0.1:1/0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = r.Close() })
	opt := r.client.Options()
	require.Equal(t, time.Second, opt.DialTimeout)
	require.Equal(t, 500*time.Millisecond, opt.ReadTimeout)
	require.Equal(t, 500*time.Millisecond, opt.WriteTimeout)
	require.Equal(t, 1, opt.MaxRetries)
	require.Equal(t, 1, opt.DialerRetries)

	r, err = NewRedis("redis://127.0.0.1:1/0?dial_timeout=3s&read_timeout=2s&max_retries=4")
	require.NoError(t, err)
	t.Cleanup(func() { _ = r.Close() })
	opt = r.client.Options()
	require.Equal(t, 3*time.Second, opt.DialTimeout, "the URL overrides the defaults")
	require.Equal(t, 2*time.Second, opt.ReadTimeout)
	require.Equal(t, 4, opt.MaxRetries)
}

func TestOpenRejectsBadURL(t *testing.T) {
	t.Parallel()
	_, err := Open("http://localhost:6379", DefaultPolicies(), nil)
	require.Error(t, err)
}

func TestLimiterPeekAndCount(t *testing.T) {
	t.Parallel()
	for name, kind := range backends() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			start := time.Now()
			l := New(kind.new(t), Policies{APIAuthIP: {Count: 2, Period: 2 * time.Hour}}, nil)
			// Peeks count nothing, however many.
			for range 5 {
				d, err := l.Peek(ctx, APIAuthIP, "192.0.2.1")
				require.NoError(t, err)
				require.True(t, d.Allowed)
				require.Equal(t, 2, d.Remaining)
			}
			// Counted events spend the budget; a peek then says no, with
			// the wait for the next event.
			require.NoError(t, l.Count(ctx, APIAuthIP, "192.0.2.1"))
			d, err := l.Peek(ctx, APIAuthIP, "192.0.2.1")
			require.NoError(t, err)
			require.True(t, d.Allowed)
			require.Equal(t, 1, d.Remaining)
			require.NoError(t, l.Count(ctx, APIAuthIP, "192.0.2.1"))
			d, err = l.Peek(ctx, APIAuthIP, "192.0.2.1")
			require.NoError(t, err)
			require.False(t, d.Allowed)
			requireWait(t, kind.frozen, time.Hour, d.RetryAfter, start, "retry after")
			// Counting on a spent budget is no error; it stays spent.
			require.NoError(t, l.Count(ctx, APIAuthIP, "192.0.2.1"))
			d, err = l.Allow(ctx, APIAuthIP, "192.0.2.1")
			require.NoError(t, err)
			require.False(t, d.Allowed)
			// Another key is untouched.
			d, err = l.Peek(ctx, APIAuthIP, "192.0.2.2")
			require.NoError(t, err)
			require.True(t, d.Allowed)
		})
	}
}
