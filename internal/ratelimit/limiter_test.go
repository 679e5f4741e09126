package ratelimit

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"

	"github.com/groundwork-dev/groundwork/internal/redistest"
)

// backends returns a fresh backend of each kind: memory, and Redis on a
// real server.
func backends(t *testing.T) map[string]func(t *testing.T) Backend {
	return map[string]func(t *testing.T) Backend{
		"memory": func(t *testing.T) Backend { return NewMemory(100) },
		"redis": func(t *testing.T) Backend {
			r, err := NewRedis(redistest.Start(t).URL())
			require.NoError(t, err)
			t.Cleanup(func() { _ = r.Close() })
			return r
		},
	}
}

func TestLimiterBudget(t *testing.T) {
	t.Parallel()
	for name, newBackend := range backends(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			reg := prometheus.NewRegistry()
			l := New(newBackend(t), Policies{LoginIP: {Count: 3, Period: time.Hour}, Search: {Count: 1, Period: time.Hour}}, NewMetrics(reg))

			for i := range 3 {
				d, err := l.Allow(ctx, LoginIP, "192.0.2.1")
				require.NoError(t, err)
				require.True(t, d.Allowed, "event %d", i+1)
				require.Equal(t, 2-i, d.Remaining)
				require.Equal(t, LoginIP, d.Policy)
				require.Equal(t, Limit{3, time.Hour}, d.Limit)
			}
			d, err := l.Allow(ctx, LoginIP, "192.0.2.1")
			require.NoError(t, err)
			require.False(t, d.Allowed, "the 4th event is over the limit")
			require.Zero(t, d.Remaining)
			// One event comes back every 20 minutes.
			require.InDelta(t, (20 * time.Minute).Seconds(), d.RetryAfter.Seconds(), 5)
			require.Equal(t, 1200, d.RetryAfterSeconds())
			require.InDelta(t, time.Hour.Seconds(), d.ResetAfter.Seconds(), 5)
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
	for name, newBackend := range backends(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			l := New(newBackend(t), Policies{LoginAccount: {Count: 2, Period: time.Hour}}, nil)
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
	m := NewMemory(10)
	now := time.Unix(1_700_000_000, 0)
	m.now = func() time.Time { return now }
	l := New(m, Policies{LoginIP: {Count: 2, Period: time.Minute}}, nil)
	ctx := context.Background()
	for range 2 {
		d, _ := l.Allow(ctx, LoginIP, "k")
		require.True(t, d.Allowed)
	}
	d, _ := l.Allow(ctx, LoginIP, "k")
	require.False(t, d.Allowed)
	require.Equal(t, 30*time.Second, d.RetryAfter)
	now = now.Add(29 * time.Second)
	d, _ = l.Allow(ctx, LoginIP, "k")
	require.False(t, d.Allowed)
	require.Equal(t, time.Second, d.RetryAfter)
	now = now.Add(time.Second)
	d, _ = l.Allow(ctx, LoginIP, "k")
	require.True(t, d.Allowed, "one event came back after Period/Count")
}

func TestMemoryEvictsLeastRecentlyUsed(t *testing.T) {
	t.Parallel()
	m := NewMemory(2)
	l := New(m, Policies{LoginIP: {Count: 1, Period: time.Hour}, SignupIP: {Count: 1, Period: time.Hour}}, nil)
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
	policies := Policies{SignupIP: {Count: 4, Period: time.Hour}}
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
// event (the caller fails open) and counts the error.
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
	start := time.Now()
	d, err = l.Allow(ctx, LoginIP, "k")
	require.Error(t, err)
	require.Contains(t, err.Error(), "rate limit login-ip")
	require.True(t, d.Allowed, "fail open")
	require.Less(t, time.Since(start), 3*time.Second, "gives up quickly")
	require.Equal(t, 1.0, testutil.ToFloat64(l.metrics.errorsTotal.WithLabelValues(string(LoginIP))))
	require.Error(t, l.Refund(ctx, LoginIP, "k"))
	require.Equal(t, 2.0, testutil.ToFloat64(l.metrics.errorsTotal.WithLabelValues(string(LoginIP))))
}

func TestOpenRejectsBadURL(t *testing.T) {
	t.Parallel()
	_, err := Open("http://localhost:6379", DefaultPolicies(), nil)
	require.Error(t, err)
}
