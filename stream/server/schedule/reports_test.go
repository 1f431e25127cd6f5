package schedule_test

import (
	"testing"
	"time"

	"flowcam/stream/server/schedule"
)

// TestReceiverReportsOnly: a plain viewer on a clean path that sends only
// RFC 3550 receiver reports (ffmpeg, gortsplib) gets every frame: without
// per-packet feedback there is no start-up to hold its path through, and
// what it has not acknowledged is not a queue.
func TestReceiverReportsOnly(t *testing.T) {
	s := schedule.New(schedule.Config{Policy: schedule.Stripe, Adapt: true, FeedbackEvery: 250 * time.Millisecond,
		PlaysLate: true, Pacing: schedule.PaceBounded}, 1, t0)
	var p schedule.Plan
	sizes := make([]int, 21)
	for i := range sizes {
		sizes[i] = 1400
	}
	seq, sent := uint16(0), 0
	for i := range 250 { // 10 s at 25 fps
		now := t0.Add(time.Duration(i) * 40 * time.Millisecond)
		s.Heard(0, now)
		if i%25 == 24 { // a report a second, everything received
			s.RTT(0, now, time.Millisecond)
			s.ReceiverReport(0, now, uint32(seq)-1, 0)
		}
		s.Frame(now, now, uint32(i*3600), sizes, &p)
		if p.Skip {
			continue
		}
		sent++
		for range sizes {
			s.Sent(0, seq, 1400, now)
			seq++
		}
	}
	if sent != 250 {
		t.Fatalf("%d of 250 frames sent to a viewer on a clean path", sent)
	}
}
