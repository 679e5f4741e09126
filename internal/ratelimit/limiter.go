package ratelimit

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math"
	"time"

	"github.com/groundwork-dev/groundwork/internal/gw"
)

// Decision is the outcome of one Allow.
type Decision struct {
	// Policy is the policy that was asked.
	Policy Policy
	// Limit is the policy's limit; the zero Limit means unlimited, and then
	// nothing else in the Decision is meaningful.
	Limit Limit
	// Allowed reports whether the event may happen; if so, it was counted.
	Allowed bool
	// Remaining is how many more events are allowed right now.
	Remaining int
	// RetryAfter is, when not Allowed, how long until the next event is.
	RetryAfter time.Duration
	// ResetAfter is how long until the whole budget is back.
	ResetAfter time.Duration
}

// RetryAfterSeconds is RetryAfter in whole seconds, rounded up, at least 1:
// the value of a Retry-After header.
func (d Decision) RetryAfterSeconds() int { return ceilSeconds(d.RetryAfter, 1) }

// ResetAfterSeconds is ResetAfter in whole seconds, rounded up.
func (d Decision) ResetAfterSeconds() int { return ceilSeconds(d.ResetAfter, 0) }

func ceilSeconds(d time.Duration, least int) int {
	return max(least, int(math.Ceil(d.Seconds())))
}

// Backend keeps the GCRA state of every key. Memory and Redis are the two
// implementations.
type Backend interface {
	// Take counts n events against key's budget under l if all n are allowed
	// now, and reports the budget's state in the Allowed, Remaining,
	// RetryAfter and ResetAfter fields of a Decision. A negative n gives
	// events back, never beyond the full budget. An n of 0 counts nothing
	// and reports whether one more event would be allowed (a peek). key is unique within
	// policy; a key's limit must not change while its state is kept.
	Take(ctx context.Context, policy Policy, key string, l Limit, n int) (Decision, error)
	// Close releases the backend's resources.
	Close() error
}

// Limiter applies Policies on a Backend. A nil *Limiter allows everything.
// Its methods are safe for concurrent use.
type Limiter struct {
	backend  Backend
	policies Policies
	metrics  *Metrics
}

// New returns a Limiter that applies policies on b and counts rejections
// and backend errors in m (nil counts nothing).
func New(b Backend, policies Policies, m *Metrics) *Limiter {
	return &Limiter{backend: b, policies: policies, metrics: m}
}

// Open returns a Limiter on the Redis server at redisURL, shared by every
// instance that uses the same server, or, when redisURL is "", in this
// process's memory (NewMemory with DefaultMaxKeys and the system clock). It
// does not contact Redis: an unreachable server shows as errors from Allow.
func Open(redisURL string, policies Policies, m *Metrics) (*Limiter, error) {
	if redisURL == "" {
		return New(NewMemory(DefaultMaxKeys, gw.SystemClock{}), policies, m), nil
	}
	r, err := NewRedis(redisURL)
	if err != nil {
		return nil, err
	}
	return New(r, policies, m), nil
}

// Limit returns policy's limit; the zero Limit means unlimited.
func (l *Limiter) Limit(policy Policy) Limit {
	if l == nil {
		return Limit{}
	}
	return l.policies[policy]
}

// Allow counts one event of policy for key if the policy's budget for key
// allows it. Keys are hashed before they reach the backend, so e-mail
// addresses and tokens are never stored. An unlimited policy always allows.
//
// If the backend fails, Allow returns the error with a Decision that allows
// the event: the caller decides whether to fail open (Groundwork does) and
// reports the error; the failure is counted in groundwork_ratelimit_errors_total.
// A rejection is counted in groundwork_ratelimit_rejected_total.
func (l *Limiter) Allow(ctx context.Context, policy Policy, key string) (Decision, error) {
	return l.take(ctx, policy, key, 1)
}

// take is Allow for n events (1) or Peek (0).
func (l *Limiter) take(ctx context.Context, policy Policy, key string, n int) (Decision, error) {
	lim := l.Limit(policy)
	if lim.Unlimited() {
		return Decision{Policy: policy, Allowed: true}, nil
	}
	d, err := l.backend.Take(ctx, policy, hashKey(key), lim, n)
	d.Policy, d.Limit = policy, lim
	if err != nil {
		l.metrics.errored(policy)
		return Decision{Policy: policy, Limit: lim, Allowed: true}, fmt.Errorf("rate limit %s: %w", policy, err)
	}
	if !d.Allowed {
		l.metrics.rejected(policy)
	}
	return d, nil
}

// Peek reports, like Allow, whether one more event of policy and key is
// allowed now, without counting it. It suits attempts whose failures are
// counted only once they are known (Count), where many may be in flight at
// once: a peek lets all of them through while the budget lasts. Backend
// failures and rejections are counted like Allow's.
func (l *Limiter) Peek(ctx context.Context, policy Policy, key string) (Decision, error) {
	return l.take(ctx, policy, key, 0)
}

// Count counts one event of policy and key that has already happened (a
// failure found after a Peek); a spent budget stays spent.
func (l *Limiter) Count(ctx context.Context, policy Policy, key string) error {
	lim := l.Limit(policy)
	if lim.Unlimited() {
		return nil
	}
	if _, err := l.backend.Take(ctx, policy, hashKey(key), lim, 1); err != nil {
		l.metrics.errored(policy)
		return fmt.Errorf("rate limit %s: %w", policy, err)
	}
	return nil
}

// Refund gives back one event that Allow counted for policy and key, for an
// attempt that turned out not to count (e.g. a successful log-in when only
// failures are limited). A backend failure is counted like Allow's.
func (l *Limiter) Refund(ctx context.Context, policy Policy, key string) error {
	lim := l.Limit(policy)
	if lim.Unlimited() {
		return nil
	}
	if _, err := l.backend.Take(ctx, policy, hashKey(key), lim, -1); err != nil {
		l.metrics.errored(policy)
		return fmt.Errorf("rate limit %s refund: %w", policy, err)
	}
	return nil
}

// Close closes the backend.
func (l *Limiter) Close() error {
	if l == nil {
		return nil
	}
	return l.backend.Close()
}

// hashKey returns a fixed-length, non-reversible stand-in for key: the hex
// of the first 16 bytes of its SHA-256.
func hashKey(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:16])
}
