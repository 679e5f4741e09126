package account

import (
	"context"
	"runtime"
	"time"

	"github.com/groundwork-dev/groundwork/internal/gw"
)

// Bounds of password hashing (see hasher), the defaults of
// Config.MaxConcurrentHashes and Config.HashWait.
const (
	// hashesPerCPU is how many argon2id computations may run at once per
	// CPU (GOMAXPROCS). Each takes one core and 19 MiB for a few tens of
	// milliseconds: more than one per core only queues inside the Go
	// scheduler, while two per core keep every core busy between a
	// request's other steps and bound hashing's memory to 38 MiB per core.
	hashesPerCPU = 2
	// defaultHashWait is how long a password check waits for a free slot
	// before it is refused: a few hashes' time, so that a short burst
	// queues and a flood is shed.
	defaultHashWait = 500 * time.Millisecond
)

// DefaultMaxConcurrentHashes is the default of Config.MaxConcurrentHashes:
// two per CPU that Go may use (runtime.GOMAXPROCS).
func DefaultMaxConcurrentHashes() int { return hashesPerCPU * runtime.GOMAXPROCS(0) }

// hasher bounds the argon2id computations running at once. Each one
// allocates 19 MiB (OWASP's m=19 MiB) and keeps a core busy, so without a
// bound a burst of log-in or password-confirmation requests grows memory
// without limit and starves every other request of CPU: 64 parallel wrong
// passwords took a server from 281 MiB to 1.97 GiB. A computation takes one
// of a fixed number of slots; when none is free it waits at most a short
// while and is then refused with EUNAVAILABLE (HTTP 503 with Retry-After),
// load shedding rather than an unbounded queue. The slots are a buffered
// channel, the standard Go semaphore.
type hasher struct {
	slots chan struct{}
	wait  time.Duration // <= 0: refuse at once when every slot is taken
}

// newHasher returns a hasher with n slots (at least 1) that waits up to
// wait for one.
func newHasher(n int, wait time.Duration) *hasher {
	return &hasher{slots: make(chan struct{}, max(1, n)), wait: wait}
}

// do runs fn in a free slot. When every slot stays taken for the wait it
// returns a *busyError (EUNAVAILABLE) without running fn; when ctx ends
// first, ctx's error.
func (h *hasher) do(ctx context.Context, fn func() error) error {
	select {
	case h.slots <- struct{}{}:
	default:
		if h.wait <= 0 {
			return errHashBusy
		}
		t := time.NewTimer(h.wait)
		defer t.Stop()
		select {
		case h.slots <- struct{}{}:
		case <-t.C:
			return errHashBusy
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	defer func() { <-h.slots }()
	return fn()
}

// busyRetryAfter is when a refused password check may be sent again: by
// then the hashes that filled every slot are long done.
const busyRetryAfter = time.Second

// errHashBusy is the error of a password hash or check refused because
// every hashing slot stayed taken.
var errHashBusy = &busyError{gw.Errorf(gw.EUNAVAILABLE, "The server is busy checking passwords; try again in a moment.")}

// busyError is EUNAVAILABLE that says when to retry: the web layer sends
// RetryAfter as the Retry-After header of its 503.
type busyError struct{ err *gw.Error }

// Error implements the error interface.
func (e *busyError) Error() string { return e.err.Error() }

// Unwrap returns the *gw.Error, for gw.ErrorCode and gw.ErrorMessage.
func (e *busyError) Unwrap() error { return e.err }

// RetryAfter is how long the caller should wait before trying again.
func (e *busyError) RetryAfter() time.Duration { return busyRetryAfter }

// WithHashSlot runs fn in one of the Service's password-hashing slots, as a
// password hash or check runs: when none is free within Config.HashWait it
// returns EUNAVAILABLE (with RetryAfter) without running fn. It lets a
// caller outside the package, such as the web tests, hold the slots and so
// make the Service busy deterministically.
func (s *Service) WithHashSlot(ctx context.Context, fn func() error) error {
	return s.hashes.do(ctx, fn)
}
