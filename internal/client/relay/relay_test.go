package relay

import (
	"testing"
	"time"

	"flowcam/stream/format/rtph264"
)

// TestPTS: every tick count comes back exactly as the broadcaster turns
// the duration into an RTP timestamp, past a day and at any frame rate.
func TestPTS(t *testing.T) {
	for _, ticks := range []int64{0, 1, 3000, 3001, 3600 * 25, 1<<32 - 1, 1 << 32, 1<<32 + 3003, 9_300_000_000, 1e12} {
		d := pts(ticks)
		back := uint32(int64(d) * rtph264.ClockRate / int64(time.Second))
		if back != uint32(ticks) {
			t.Errorf("%d ticks: %v comes back as %d", ticks, d, back)
		}
	}
}
