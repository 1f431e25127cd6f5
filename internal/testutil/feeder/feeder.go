// Package feeder publishes ready-made JPEG frames into a broadcaster at a
// steady rate: the fake camera below tests of the real server and client.
package feeder

import (
	"context"
	"sync"
	"time"

	"flowcam/capture"
	"flowcam/stream/server/broadcast"
)

// Start publishes frames (in turn) at fps until the returned stop is
// called; stop waits for the feeder to end.
func Start(b *broadcast.Broadcaster, frames [][]byte, fps int) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		period := time.Second / time.Duration(fps)
		tick := time.NewTicker(period)
		defer tick.Stop()
		for n := uint64(0); ; n++ {
			select {
			case <-ctx.Done():
				return
			case now := <-tick.C:
				// PTS from the frame count, not the tick: exact timestamps
				// even when a tick is late.
				b.Publish(&capture.Frame{JPEG: frames[n%uint64(len(frames))], Seq: n,
					PTS: time.Duration(n) * period, Captured: now})
			}
		}
	}()
	return func() { cancel(); wg.Wait() }
}
