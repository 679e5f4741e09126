package gw

import "time"

// Clock tells the time. Services take a Clock so that tests can control "now".
type Clock interface {
	Now() time.Time
}

// SystemClock is the Clock backed by the system's wall clock.
type SystemClock struct{}

// Now returns the current time.
func (SystemClock) Now() time.Time { return time.Now() }
