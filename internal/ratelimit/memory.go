package ratelimit

import (
	"context"
	"math"
	"sync"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"golang.org/x/time/rate"

	"github.com/groundwork-dev/groundwork/internal/gw"
)

// DefaultMaxKeys is how many keys Open's Memory backend keeps per policy.
const DefaultMaxKeys = 50_000

// Memory is the in-process Backend, for a single instance (the default).
//
// It does not implement GCRA itself: each key gets a golang.org/x/time/rate
// Limiter, the Go team's token bucket. A bucket of Count tokens refilled at
// Count per Period is the same algorithm as GCRA with burst Count and one
// emission every Period/Count (a bucket's tokens are GCRA's distance from its
// theoretical arrival time), so limits behave the same on Memory and on
// Redis. Buckets live in one bounded LRU per policy (hashicorp/golang-lru),
// so memory stays bounded under a flood of keys, and a flood in one policy
// cannot evict another policy's buckets. A bucket left idle for a Period is
// full, the same as a missing one, so evicting idle buckets loses nothing.
type Memory struct {
	maxKeys int
	mu      sync.Mutex
	buckets map[Policy]*lru.Cache[string, *rate.Limiter]
	clock   gw.Clock
}

// NewMemory returns a Memory backend that keeps up to maxKeys keys per
// policy, evicting the least recently used beyond that, and refills budgets
// by clock (nil means gw.SystemClock; tests pass a clock they move by hand).
func NewMemory(maxKeys int, clock gw.Clock) *Memory {
	if clock == nil {
		clock = gw.SystemClock{}
	}
	return &Memory{maxKeys: max(1, maxKeys), buckets: map[Policy]*lru.Cache[string, *rate.Limiter]{}, clock: clock}
}

// Take implements Backend.
func (m *Memory) Take(_ context.Context, policy Policy, key string, l Limit, n int) (Decision, error) {
	now := m.clock.Now()
	b := m.bucket(policy, key, l)
	allowed := b.AllowN(now, n) // n < 0 gives tokens back; the bucket caps them at its burst
	tokens := b.TokensAt(now)
	if n == 0 { // a peek: is one whole token there?
		allowed, n = tokens >= 1, 1
	}
	d := Decision{Allowed: allowed, ResetAfter: tokenTime(l, float64(l.Count)-tokens)}
	if allowed {
		d.Remaining = max(0, int(tokens))
	} else {
		d.RetryAfter = tokenTime(l, float64(n)-tokens)
	}
	return d, nil
}

// tokenTime is how long l takes to refill tokens.
func tokenTime(l Limit, tokens float64) time.Duration {
	if tokens <= 0 {
		return 0
	}
	return time.Duration(math.Round(tokens * float64(l.emission())))
}

// bucket returns key's bucket in policy, creating a full one if it has none.
func (m *Memory) bucket(policy Policy, key string, l Limit) *rate.Limiter {
	m.mu.Lock()
	c := m.buckets[policy]
	if c == nil {
		c, _ = lru.New[string, *rate.Limiter](m.maxKeys) // errors only for a size <= 0
		m.buckets[policy] = c
	}
	m.mu.Unlock()
	if b, ok := c.Get(key); ok {
		return b
	}
	b := rate.NewLimiter(rate.Limit(float64(l.Count)/l.Period.Seconds()), l.Count)
	if prev, ok, _ := c.PeekOrAdd(key, b); ok {
		return prev
	}
	return b
}

// Close implements Backend; it drops every bucket.
func (m *Memory) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	clear(m.buckets)
	return nil
}
