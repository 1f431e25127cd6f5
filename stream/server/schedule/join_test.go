package schedule_test

import (
	"testing"
	"time"

	"flowcam/stream/server/schedule"
)

// TestJoinBurst: a viewer that joins an H.264 stream is sent the kept group
// of pictures at once, frames captured up to two seconds ago. On paths not
// yet seen to struggle every one of them goes out: skipping one would cost
// the viewer every frame up to the next key frame.
func TestJoinBurst(t *testing.T) {
	for _, m := range modes {
		if m.policy == schedule.Weighted {
			continue
		}
		t.Run(m.name, func(t *testing.T) {
			s := newScheduler(m.policy, m.paths, nil)
			for i := range m.paths {
				s.Heard(i, t0)
			}
			var p schedule.Plan
			sizes := make([]int, 8)
			for i := range sizes {
				sizes[i] = 1400
			}
			const group = 50
			sent := 0
			for i := range group {
				captured := t0.Add(-time.Duration(group-i) * 40 * time.Millisecond)
				s.KeyFrame(t0, captured, uint32(i*3600), sizes, &p)
				if !p.Skip {
					sent++
				}
			}
			if sent != group {
				t.Fatalf("%d of the %d frames of a replayed group sent", sent, group)
			}
		})
	}
}
