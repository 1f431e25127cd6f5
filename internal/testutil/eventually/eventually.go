// Package eventually lets a test wait for something to have happened by
// polling a condition to a deadline, instead of sleeping for a guessed
// time. The deadline only stops a hang: make it generous (a busy CI
// machine may be slow), and never assert how soon the condition held.
package eventually

import (
	"fmt"
	"testing"
	"time"
)

// maxPause bounds the polling interval; conditions are checked quickly at
// first, then at most this far apart.
const maxPause = 50 * time.Millisecond

// Wait polls cond until it returns true or timeout has passed, and reports
// whether it returned true. cond is checked at least once, and always
// after the last pause, so a test descheduled past the deadline still sees
// a condition that came true meanwhile.
func Wait(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for pause := time.Millisecond; ; pause = min(2*pause, maxPause) {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(pause) // the polling interval, not a synchronisation
	}
}

// Require fails t at once unless cond comes true within timeout. The
// message (format and args) says what was awaited.
func Require(t testing.TB, timeout time.Duration, cond func() bool, format string, args ...any) {
	t.Helper()
	if !Wait(timeout, cond) {
		t.Fatalf("after %v: %s", timeout, fmt.Sprintf(format, args...))
	}
}
