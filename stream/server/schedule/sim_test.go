package schedule_test

import (
	"fmt"
	"testing"
	"time"

	"flowcam/internal/testutil/pathsim"
	"flowcam/stream/server/schedule"
)

var t0 = time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)

// stream is the simulated stream's rate on the wire: 29000-byte frames at
// 25 fps (720p MJPEG at quality 80) in 21 packets with their headers.
const stream = (29000 + 21*48) * 8 * 25.0

func rate(f float64) func(time.Duration) float64 { return pathsim.Const(f * stream) }

// scenario builds the links of one field condition: path 0 is the
// "ethernet", path 1 the "wifi".
type scenario struct {
	name  string
	links func() []*pathsim.Link
	check func(t *testing.T, r map[string]pathsim.Result)
}

var scenarios = []scenario{
	{"a clean", func() []*pathsim.Link {
		return []*pathsim.Link{{Delay: 200 * time.Microsecond}, {Delay: 400 * time.Microsecond}}
	}, func(t *testing.T, r map[string]pathsim.Result) {
		for m, res := range r {
			atLeast(t, m, "complete", complete(res), 0.99)
		}
	}},
	{"b wifi 30ms+-10ms 3% loss", func() []*pathsim.Link {
		return []*pathsim.Link{{Delay: 200 * time.Microsecond},
			{Delay: 30 * time.Millisecond, Jitter: 10 * time.Millisecond, Loss: 0.03}}
	}, func(t *testing.T, r map[string]pathsim.Result) {
		for _, m := range []string{"single", "stripe", "duplicate", "failover"} {
			atLeast(t, m, "complete", complete(r[m]), 0.99)
		}
	}},
	{"c each 60%", func() []*pathsim.Link {
		return []*pathsim.Link{{Rate: rate(0.6), Delay: time.Millisecond}, {Rate: rate(0.6), Delay: time.Millisecond}}
	}, func(t *testing.T, r map[string]pathsim.Result) {
		atLeast(t, "stripe", "complete", complete(r["stripe"]), 0.99)
		for _, m := range []string{"single", "failover"} {
			atMost(t, m, "complete", complete(r[m]), 0.65)
			atMost(t, m, "broken", broken(r[m]), 0.03)
		}
	}},
	{"e ethernet cross traffic 0-4 s", func() []*pathsim.Link {
		return []*pathsim.Link{{Rate: rate(1.2), Queue: 300 * time.Millisecond, Delay: time.Millisecond,
			Cross: pathsim.Steps([]time.Duration{0, 4 * time.Second}, []float64{2.4 * stream, 0})},
			{Delay: time.Millisecond}}
	}, func(t *testing.T, r map[string]pathsim.Result) {
		atLeast(t, "stripe", "complete from 6 s", r["stripe"].CompleteFrom(6), 0.99)
		better(t, r["stripe"], r["static"])
		// The shares move off the flooded path and come back after.
		s := r["stripe"]
		atMost(t, "stripe", "ethernet share in 1-3 s", pathShare(s, 0, 1, 4), 0.1)
		atLeast(t, "stripe", "ethernet share in 12-19 s", pathShare(s, 0, 12, 20), 0.2)
	}},
	{"f wifi 100-30-100%", func() []*pathsim.Link {
		return []*pathsim.Link{{Rate: rate(1), Delay: time.Millisecond},
			{Rate: pathsim.Steps([]time.Duration{0, 6 * time.Second, 13 * time.Second},
				[]float64{stream, 0.3 * stream, stream}), Delay: time.Millisecond}}
	}, func(t *testing.T, r map[string]pathsim.Result) {
		atLeast(t, "stripe", "complete", complete(r["stripe"]), 0.97)
		better(t, r["stripe"], r["static"])
		atMost(t, "stripe", "wifi share in 8-12 s", pathShare(r["stripe"], 1, 8, 13), 0.33)
	}},
	{"g each 35%", func() []*pathsim.Link {
		return []*pathsim.Link{{Rate: rate(0.35), Delay: time.Millisecond}, {Rate: rate(0.35), Delay: time.Millisecond}}
	}, func(t *testing.T, r map[string]pathsim.Result) {
		atLeast(t, "stripe", "complete", complete(r["stripe"]), 0.60)
		for _, m := range []string{"single", "duplicate", "failover"} {
			atLeast(t, m, "complete", complete(r[m]), 0.28)
		}
		for _, m := range []string{"stripe", "single", "duplicate", "failover"} {
			atMost(t, m, "broken", broken(r[m]), 0.02)
			// Before reports have shown the paths' rate, each holds one
			// frame and a round trip: the first frames do not pile into
			// a queue that holds less than one of them.
			if first := r[m].Seconds[0]; first.Complete != first.Sent {
				t.Errorf("%s: %d frames sent in the first second, %d arrived whole", m, first.Sent, first.Complete)
			}
		}
	}},
	{"h each 60%, 300 ms queues", func() []*pathsim.Link {
		return []*pathsim.Link{{Rate: rate(0.6), Queue: 300 * time.Millisecond, Delay: time.Millisecond},
			{Rate: rate(0.6), Queue: 300 * time.Millisecond, Delay: time.Millisecond}}
	}, func(t *testing.T, r map[string]pathsim.Result) {
		atLeast(t, "stripe", "complete", complete(r["stripe"]), 0.99)
	}},
}

type mode struct {
	name   string
	policy schedule.Policy
	paths  int
}

var modes = []mode{
	{"single", schedule.Stripe, 1}, {"stripe", schedule.Stripe, 2}, {"static", schedule.Weighted, 2},
	{"duplicate", schedule.Duplicate, 2}, {"failover", schedule.Failover, 2},
}

// run plays a scenario's links in one mode for d.
func run(sc scenario, m mode, d time.Duration) pathsim.Result {
	links := sc.links()[:m.paths]
	s := &pathsim.Session{Links: links, Sched: newScheduler(m.policy, len(links), nil), Duration: d}
	return s.Run(t0)
}

func newScheduler(p schedule.Policy, n int, weights []float64) *schedule.Scheduler {
	cfg := schedule.Config{Policy: p, Weights: weights, FeedbackEvery: 50 * time.Millisecond, FrameFeedback: true,
		Adapt: p != schedule.Weighted, Pacing: schedule.PaceAlways, Seed: 7}
	if p == schedule.Weighted {
		cfg.Pacing = schedule.PaceOff
	}
	return schedule.New(cfg, n, t0)
}

// TestScenarios runs every field condition in every mode on simulated
// paths for 20 s and holds each scenario's targets. With -v it prints the
// table the netns test prints for the real thing.
func TestScenarios(t *testing.T) {
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			r := map[string]pathsim.Result{}
			for _, m := range modes {
				r[m.name] = run(sc, m, 20*time.Second)
				t.Log(describe(m.name, r[m.name]))
			}
			sc.check(t, r)
		})
	}
}

func describe(m string, r pathsim.Result) string {
	return fmt.Sprintf("%-9s sent %3d/%3d complete %3d late %2d incomplete %3d  p50/p99 %3d/%3d ms  share %.2f",
		m, r.Sent, r.Frames, r.Complete, r.Late, r.Incomplete, r.Percentile(0.5).Milliseconds(),
		r.Percentile(0.99).Milliseconds(), r.Share(0))
}

// complete is the share of the source's frames that arrived whole in time.
func complete(r pathsim.Result) float64 { return float64(r.Complete) / float64(r.Frames) }

// broken is the share of the frames sent that did not arrive whole in time.
func broken(r pathsim.Result) float64 {
	if r.Sent == 0 {
		return 0
	}
	return float64(r.Late+r.Incomplete) / float64(r.Sent)
}

// pathShare is path i's share of the bytes sent in seconds [from, to).
func pathShare(r pathsim.Result, i, from, to int) float64 {
	mine, all := 0, 0
	for _, s := range r.Seconds[from:to] {
		mine += s.PathBytes[i]
		for _, b := range s.PathBytes {
			all += b
		}
	}
	if all == 0 {
		return 0
	}
	return float64(mine) / float64(all)
}

func atLeast(t *testing.T, m, what string, got, want float64) {
	t.Helper()
	if got < want {
		t.Errorf("%s: %s %.3f, want at least %.3f", m, what, got, want)
	}
}

func atMost(t *testing.T, m, what string, got, want float64) {
	t.Helper()
	if got > want {
		t.Errorf("%s: %s %.3f, want at most %.3f", m, what, got, want)
	}
}

func better(t *testing.T, adaptive, static pathsim.Result) {
	t.Helper()
	if adaptive.Complete <= static.Complete {
		t.Errorf("adaptive stripe completed %d frames, static weights %d: want more", adaptive.Complete, static.Complete)
	}
}
