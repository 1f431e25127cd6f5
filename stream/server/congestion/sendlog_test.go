package congestion

import (
	"math/rand/v2"
	"testing"
	"time"
)

// TestInFlightKeptMatchesTheScan drives the send log the way paths do
// (sends, acks and losses out of order, gaps in the numbers, a number
// sent again, a window that grows back when the round trip does) and
// checks after every step that the bytes it keeps match a sum from
// scratch. Half the seeds send so fast that the window outgrows the ring;
// half skip and repeat no number, so the window moves by its ends
// throughout.
func TestInFlightKeptMatchesTheScan(t *testing.T) {
	for seed := range uint64(20) {
		rng := rand.New(rand.NewPCG(seed, 7))
		var l sendLog
		now := time.Unix(1000, 0)
		seq := uint16(rng.Uint32())
		var sentSeqs []uint16
		step := 3000 * time.Microsecond
		if seed%2 == 1 {
			step = 50 * time.Microsecond
		}
		for i := range 20000 {
			switch r := rng.IntN(100); {
			case r < 55:
				switch g := rng.IntN(1000); {
				case seed%4 >= 2: // in order throughout
				case g == 0:
					seq += uint16(2 + rng.IntN(50)) // numbers skipped
				case g == 1 && len(sentSeqs) > 0:
					seq = sentSeqs[rng.IntN(len(sentSeqs))] // one sent again
				}
				l.add(seq, 100+rng.IntN(1300), now)
				sentSeqs = append(sentSeqs, seq)
				if len(sentSeqs) > 2*logSize {
					sentSeqs = sentSeqs[logSize:]
				}
				seq++
				now = now.Add(time.Duration(rng.Int64N(int64(step))))
			case r < 85 && len(sentSeqs) > 0:
				s := l.find(sentSeqs[rng.IntN(len(sentSeqs))])
				switch {
				case s == nil || s.acked:
				case rng.IntN(10) == 0 && !s.lost:
					l.lose(s)
				default:
					l.ack(s)
				}
			default:
				span := time.Duration(50+rng.IntN(500)) * time.Millisecond
				since := now.Add(-span)
				_, want := l.scan(since)
				if got := l.inFlight(since); got != want {
					t.Fatalf("seed %d step %d: inFlight(now-%v) = %d, a scan sums %d", seed, i, span, got, want)
				}
			}
		}
	}
}

// TestInFlightAllocatesNothing keeps the per-frame ask free of garbage.
func TestInFlightAllocatesNothing(t *testing.T) {
	var l sendLog
	now := time.Unix(1000, 0)
	seq := uint16(0)
	allocs := testing.AllocsPerRun(100, func() {
		for range 20 {
			l.add(seq, 1200, now)
			seq++
		}
		now = now.Add(40 * time.Millisecond)
		l.inFlight(now.Add(-500 * time.Millisecond))
	})
	if allocs != 0 {
		t.Fatalf("%.1f allocations per frame", allocs)
	}
}
