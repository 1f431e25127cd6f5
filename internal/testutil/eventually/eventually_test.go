package eventually

import (
	"sync/atomic"
	"testing"
	"time"
)

func TestWait(t *testing.T) {
	var n atomic.Int32
	go func() {
		for range 3 {
			n.Add(1)
		}
	}()
	if !Wait(time.Minute, func() bool { return n.Load() == 3 }) {
		t.Fatal("a condition that comes true was not seen")
	}
	if Wait(0, func() bool { return false }) {
		t.Fatal("a condition that never holds was reported true")
	}
	calls := 0
	Wait(0, func() bool { calls++; return false })
	if calls != 1 {
		t.Fatalf("cond called %d times with no time left, want once", calls)
	}
}
