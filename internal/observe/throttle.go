package observe

import (
	"sync"
	"time"

	"github.com/groundwork-dev/groundwork/internal/gw"
)

// maxThrottleKeys bounds the keys a Throttle remembers. Past it, keys whose
// window has ended are forgotten (with the count they held back); if none
// has, a new key is let through without being remembered.
const maxThrottleKeys = 1024

// Throttle lets the first occurrence of each key through per window and
// counts the others, so that a failure repeated thousands of times a second
// (a database outage, seen by every request) is logged and reported once a
// window with the number of repeats, like syslog's "last message repeated N
// times". Time comes from a gw.Clock. It is safe for concurrent use; a nil
// *Throttle lets everything through.
type Throttle struct {
	clock  gw.Clock
	window time.Duration

	mu   sync.Mutex
	keys map[string]*throttled
}

// throttled is what a Throttle remembers of one key.
type throttled struct {
	let        time.Time // when an occurrence was last let through
	suppressed int       // occurrences held back since then
}

// NewThrottle returns a Throttle letting each key through at most once per
// window, as told by clock (nil: the system clock).
func NewThrottle(clock gw.Clock, window time.Duration) *Throttle {
	if clock == nil {
		clock = gw.SystemClock{}
	}
	return &Throttle{clock: clock, window: window, keys: map[string]*throttled{}}
}

// Allow records an occurrence of key. It reports whether to let it through
// (log it, report it) and, when it does, how many occurrences of key were
// held back since the last one let through.
func (t *Throttle) Allow(key string) (ok bool, suppressed int) {
	if t == nil {
		return true, 0
	}
	now := t.clock.Now()
	t.mu.Lock()
	defer t.mu.Unlock()
	if k, seen := t.keys[key]; seen {
		if now.Sub(k.let) < t.window {
			k.suppressed++
			return false, 0
		}
		suppressed = k.suppressed
		k.let, k.suppressed = now, 0
		return true, suppressed
	}
	if len(t.keys) >= maxThrottleKeys {
		for key, k := range t.keys {
			if now.Sub(k.let) >= t.window {
				delete(t.keys, key)
			}
		}
		if len(t.keys) >= maxThrottleKeys {
			return true, 0
		}
	}
	t.keys[key] = &throttled{let: now}
	return true, 0
}
