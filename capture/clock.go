package capture

import "time"

// Clock is the time source of paced sources, injected so tests can drive
// pacing without sleeping.
type Clock interface {
	Now() time.Time
	// After delivers once d has elapsed.
	After(d time.Duration) <-chan time.Time
}

// SystemClock is the real monotonic clock.
type SystemClock struct{}

// Now returns time.Now().
func (SystemClock) Now() time.Time { return time.Now() }

// After returns time.After(d).
func (SystemClock) After(d time.Duration) <-chan time.Time { return time.After(d) }
