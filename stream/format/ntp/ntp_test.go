package ntp

import (
	"testing"
	"time"
)

func TestRoundTrip(t *testing.T) {
	for _, tm := range []time.Time{time.Unix(0, 0), time.Unix(1_700_000_000, 123456789), time.Date(2036, 2, 7, 6, 28, 15, 0, time.UTC)} {
		back := ToTime(FromTime(tm))
		if d := back.Sub(tm); d < -time.Nanosecond || d > time.Nanosecond {
			t.Errorf("%v came back as %v", tm, back)
		}
	}
	sent := time.Unix(1_700_000_000, 0)
	lsr := Middle(sent)
	dlsr := uint32(0.25 * 65536) // the receiver held the report 250 ms
	rtt, ok := RoundTrip(sent.Add(290*time.Millisecond), lsr, dlsr)
	if !ok || rtt < 39*time.Millisecond || rtt > 41*time.Millisecond {
		t.Fatalf("rtt %v %v, want 40 ms", rtt, ok)
	}
	if _, ok := RoundTrip(sent, 0, 0); ok {
		t.Fatal("no echo accepted")
	}
	if _, ok := RoundTrip(sent, lsr+1000, 0); ok {
		t.Fatal("an echo from the future accepted")
	}
}
