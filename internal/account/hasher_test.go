package account

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/groundwork-dev/groundwork/internal/gw"
)

// slotHolder occupies hashing slots of a hasher from the test: each hold
// runs a computation that blocks until the test releases it, and returns
// only once that computation holds its slot.
type slotHolder struct {
	t       *testing.T
	h       *hasher
	release chan struct{}
	done    sync.WaitGroup
}

// holdSlots returns a slotHolder for h that frees every slot it holds when
// the test ends, if the test has not freed them itself.
func holdSlots(t *testing.T, h *hasher) *slotHolder {
	sh := &slotHolder{t: t, h: h, release: make(chan struct{})}
	t.Cleanup(sh.releaseAll)
	return sh
}

// hold takes one slot and keeps it until releaseAll. It fails the test if
// the slot is refused.
func (sh *slotHolder) hold() {
	sh.t.Helper()
	entered := make(chan struct{})
	errc := make(chan error, 1)
	sh.done.Go(func() {
		errc <- sh.h.do(context.Background(), func() error {
			close(entered)
			<-sh.release
			return nil
		})
	})
	select {
	case <-entered:
	case err := <-errc:
		sh.t.Fatalf("holding a hashing slot: %v", err)
	}
}

// releaseAll frees every slot taken by hold and waits for them.
func (sh *slotHolder) releaseAll() {
	select {
	case <-sh.release:
	default:
		close(sh.release)
	}
	sh.done.Wait()
}

// requireBusy checks that err is the refusal of a hash for want of a free
// slot: EUNAVAILABLE with the user-facing message and a one-second
// RetryAfter hint, which the web layer sends as Retry-After.
func requireBusy(t *testing.T, err error) {
	t.Helper()
	require.Error(t, err)
	require.Equal(t, gw.EUNAVAILABLE, gw.ErrorCode(err), "%v", err)
	require.Equal(t, "The server is busy checking passwords; try again in a moment.", gw.ErrorMessage(err))
	hint, ok := errors.AsType[interface {
		error
		RetryAfter() time.Duration
	}](err)
	require.True(t, ok, "the error carries a retry-after hint: %#v", err)
	require.Equal(t, busyRetryAfter, hint.RetryAfter())
	require.Equal(t, time.Second, hint.RetryAfter())
}

// TestHasherRefusesBeyondItsSlots proves the bound: with every slot taken,
// a further computation is refused with EUNAVAILABLE (and a retry-after
// hint) without running, when the hasher does not wait (HashWait < 0) and
// when its wait runs out; once one slot is freed, the next one runs.
func TestHasherRefusesBeyondItsSlots(t *testing.T) {
	t.Parallel()
	for name, wait := range map[string]time.Duration{"no wait": -1, "wait runs out": time.Millisecond} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			h := newHasher(3, wait)
			sh := holdSlots(t, h)
			for range 3 {
				sh.hold()
			}
			ran := false
			err := h.do(context.Background(), func() error { ran = true; return nil })
			requireBusy(t, err)
			require.False(t, ran, "a refused computation does not run")
			require.Len(t, h.slots, 3, "the refusal took no slot")

			sh.releaseAll()
			require.Empty(t, h.slots, "every slot is free again")
			require.NoError(t, h.do(context.Background(), func() error { ran = true; return nil }))
			require.True(t, ran)
			require.Empty(t, h.slots, "a finished computation gives its slot back")
		})
	}
}

// TestHasherGivesBackSlotsOnError: a computation that fails still frees
// its slot, and its own error is returned unchanged.
func TestHasherGivesBackSlotsOnError(t *testing.T) {
	t.Parallel()
	h := newHasher(1, -1)
	boom := errors.New("boom")
	for range 3 {
		require.ErrorIs(t, h.do(context.Background(), func() error { return boom }), boom)
	}
	require.Empty(t, h.slots)
	require.NoError(t, h.do(context.Background(), func() error { return nil }))
}

// TestHasherWaitsForAFreeSlot: within its wait a computation queues for a
// slot rather than being refused, and runs as soon as one is freed; a
// request that ends while it waits gets its context's error and runs
// nothing. The wait is an hour, so only the test's own steps decide the
// outcome.
func TestHasherWaitsForAFreeSlot(t *testing.T) {
	t.Parallel()
	h := newHasher(1, time.Hour)
	sh := holdSlots(t, h)
	sh.hold()

	// A canceled request stops waiting.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	ran := false
	err := h.do(ctx, func() error { ran = true; return nil })
	require.ErrorIs(t, err, context.Canceled)
	require.NotEqual(t, gw.EUNAVAILABLE, gw.ErrorCode(err))
	require.False(t, ran)

	// A waiting computation runs once the slot is freed.
	done := make(chan error, 1)
	var waiterRan atomic.Bool
	go func() { done <- h.do(context.Background(), func() error { waiterRan.Store(true); return nil }) }()
	select {
	case err := <-done:
		t.Fatalf("the waiter finished while the only slot was held: %v", err)
	default:
	}
	sh.releaseAll()
	require.NoError(t, <-done)
	require.True(t, waiterRan.Load())
	require.Empty(t, h.slots)
}

// TestHasherNeverRunsMoreThanItsSlots: however many computations are
// started at once, no more than the number of slots run together. Every
// computation blocks until the test has seen the slots full, so the
// high-water mark is exactly the bound.
func TestHasherNeverRunsMoreThanItsSlots(t *testing.T) {
	t.Parallel()
	const slots, callers = 4, 24
	h := newHasher(slots, time.Hour)
	var running, most atomic.Int32
	full := make(chan struct{})
	var once sync.Once
	release := make(chan struct{})
	var wg sync.WaitGroup
	for range callers {
		wg.Go(func() {
			err := h.do(context.Background(), func() error {
				n := running.Add(1)
				for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
				}
				if n == slots {
					once.Do(func() { close(full) })
				}
				<-release
				running.Add(-1)
				return nil
			})
			assert.NoError(t, err)
		})
	}
	<-full
	require.Len(t, h.slots, slots)
	close(release)
	wg.Wait()
	require.Equal(t, int32(slots), most.Load(), "at most %d computations ran at once", slots)
	require.Empty(t, h.slots)
}

// TestServicePasswordHashingIsBounded: the Service's own password hashes
// and checks go through its hasher, sized by Config.MaxConcurrentHashes:
// with every slot taken both are refused with EUNAVAILABLE; with one freed
// they work again. Neither touches the database, so the Service needs none.
func TestServicePasswordHashingIsBounded(t *testing.T) {
	t.Parallel()
	s := NewService(nil, nil, nil, gw.SystemClock{}, Config{MaxConcurrentHashes: 2, HashWait: -1}, nil)
	require.Equal(t, 2, cap(s.hashes.slots))

	hash, err := s.hashPassword(context.Background(), "correct horse battery staple")
	require.NoError(t, err)

	sh := holdSlots(t, s.hashes)
	sh.hold()
	sh.hold()
	_, err = s.hashPassword(context.Background(), "correct horse battery staple")
	requireBusy(t, err)
	match, _, err := s.checkPassword(context.Background(), "correct horse battery staple", hash)
	requireBusy(t, err)
	require.False(t, match, "a refused check matches nothing")

	sh.releaseAll()
	match, stale, err := s.checkPassword(context.Background(), "correct horse battery staple", hash)
	require.NoError(t, err)
	require.True(t, match)
	require.False(t, stale)
}

// TestHasherConfigDefaults: an unset MaxConcurrentHashes is two slots per
// CPU Go may use and an unset HashWait is half a second (negative: no
// wait); a hasher always has at least one slot.
func TestHasherConfigDefaults(t *testing.T) {
	t.Parallel()
	c := Config{}.withDefaults()
	require.Equal(t, DefaultMaxConcurrentHashes(), c.MaxConcurrentHashes)
	require.Positive(t, c.MaxConcurrentHashes)
	require.Equal(t, defaultHashWait, c.HashWait)
	require.Equal(t, -time.Second, Config{HashWait: -time.Second}.withDefaults().HashWait, "a negative wait is kept: refuse at once")
	require.Equal(t, 7, Config{MaxConcurrentHashes: 7}.withDefaults().MaxConcurrentHashes)
	require.Equal(t, 1, cap(newHasher(0, 0).slots))
	require.Equal(t, 1, cap(newHasher(-3, 0).slots))
}
