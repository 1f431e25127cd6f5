package multiflow

import (
	"math"
	"testing"
	"time"
)

const tick = 100 * time.Millisecond // the client's report interval

// harness drives a scheduler with fake time and scripted reports.
type harness struct {
	now   time.Time
	paths []*path
	s     *scheduler
	bytes []int // bytes each path carried
}

func newHarness(mode Mode, n int) *harness {
	h := &harness{now: time.Unix(1000, 0)}
	for i := 0; i < n; i++ {
		p := newPath()
		p.heardAt(h.now, tick)
		p.rttSample(10*time.Millisecond, h.now)
		h.paths = append(h.paths, p)
	}
	h.s = newScheduler(mode, h.paths, tick)
	h.s.update(h.now)
	h.bytes = make([]int, n)
	return h
}

// run sends packets for d, one report interval at a time; loss[i] is the
// fraction each path's receiver reports; silent paths report nothing.
func (h *harness) run(d time.Duration, loss []float64, silent ...int) {
	const pktsPerTick, size = 60, 1200
	for end := h.now.Add(d); h.now.Before(end); {
		sent := make([]int, len(h.paths))
		var dst []int
		for k := 0; k < pktsPerTick; k++ {
			dst = h.s.pick(size, dst[:0])
			for _, i := range dst {
				sent[i] += size
				h.bytes[i] += size
			}
		}
		h.now = h.now.Add(tick)
		for i, p := range h.paths {
			if contains(silent, i) {
				continue
			}
			p.heardAt(h.now, tick)
			p.report(loss[i], float64(sent[i])/(pktsPerTick*size), h.s.probing[i], h.now)
		}
		h.s.update(h.now)
	}
}

func contains(list []int, v int) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

// shareOver measures each path's share of bytes over a run.
func (h *harness) shareOver(d time.Duration, loss []float64, silent ...int) []float64 {
	h.bytes = make([]int, len(h.paths))
	h.run(d, loss, silent...)
	total := 0
	for _, b := range h.bytes {
		total += b
	}
	out := make([]float64, len(h.bytes))
	for i, b := range h.bytes {
		out[i] = float64(b) / float64(total)
	}
	return out
}

func near(a, b, tol float64) bool { return math.Abs(a-b) <= tol }

func TestStripeSharesFollowCapacity(t *testing.T) {
	cases := []struct {
		caps []float64
		want []float64
	}{
		{[]float64{1, 1}, []float64{0.5, 0.5}},
		{[]float64{1.5, 0.5}, []float64{0.75, 0.25}},
		{[]float64{1, 1, 2}, []float64{0.25, 0.25, 0.5}},
	}
	for _, c := range cases {
		h := newHarness(Stripe, len(c.caps))
		for i, cp := range c.caps {
			h.paths[i].capacity = cp
		}
		h.s.update(h.now)
		h.bytes = make([]int, len(c.caps))
		var dst []int
		for k := 0; k < 10000; k++ {
			for _, i := range h.s.pick(1000, dst[:0]) {
				h.bytes[i] += 1000
			}
		}
		for i, w := range c.want {
			if got := float64(h.bytes[i]) / 1e7; !near(got, w, 0.001) {
				t.Errorf("capacities %v: path %d share %.4f, want %.2f", c.caps, i, got, w)
			}
		}
	}
}

func TestLossyPathLosesShareWithinASecond(t *testing.T) {
	h := newHarness(Stripe, 2)
	before := h.shareOver(2*time.Second, []float64{0, 0})
	after := h.shareOver(time.Second, []float64{0, 0.05})
	if !near(before[1], 0.5, 0.02) || after[1] > 0.4 {
		t.Fatalf("lossy path share %.2f before, %.2f in the first second of 5%% loss", before[1], after[1])
	}
	settled := h.shareOver(3*time.Second, []float64{0, 0.05})
	if settled[1] > 0.06 || !h.s.probing[1] {
		t.Fatalf("after 4 s of loss the lossy path carries %.3f (probing %v), want only probes",
			settled[1], h.s.probing[1])
	}
	// Recovered: the probes see no loss, and the path earns its share back.
	h.run(4*time.Second, []float64{0, 0})
	back := h.shareOver(2*time.Second, []float64{0, 0})
	if h.s.probing[1] || back[1] < 0.3 {
		t.Fatalf("recovered path carries %.2f (probing %v)", back[1], h.s.probing[1])
	}
}

func TestRateLimitedPathsShare(t *testing.T) {
	// Path 0 can carry 90% of the stream, path 1 only 30%: what a path is
	// given beyond that is lost. Striping must settle where both fit.
	h := newHarness(Stripe, 2)
	var delivered, total float64
	for i := 0; i < 100; i++ {
		loss := lossAbove(h, 0.9, 0.3)
		share := h.shareOver(tick, loss)
		if i >= 50 {
			delivered += share[0]*(1-loss[0]) + share[1]*(1-loss[1])
			total++
		}
	}
	if got := delivered / total; got < 0.97 {
		t.Fatalf("only %.3f of the stream delivered once settled", got)
	}
}

// lossAbove reports, per path, the loss a bottleneck of limit (share of the
// stream) would cause at the current shares.
func lossAbove(h *harness, limits ...float64) []float64 {
	out := make([]float64, len(limits))
	total := 0.0
	for _, w := range h.s.weight {
		total += w
	}
	for i, lim := range limits {
		if share := h.s.weight[i] / total; share > lim {
			out[i] = (share - lim) / share
		}
	}
	return out
}

func TestStalledPathGetsNothingAndReturns(t *testing.T) {
	for _, mode := range []Mode{Stripe, Duplicate} {
		h := newHarness(mode, 2)
		h.run(time.Second, []float64{0, 0})
		// Path 0's reports stop: within its stall timeout it stops carrying.
		h.run(300*time.Millisecond, []float64{0, 0}, 0)
		if h.s.usable[0] {
			t.Fatalf("%v: path silent for 300 ms still usable", mode)
		}
		share := h.shareOver(time.Second, []float64{0, 0}, 0)
		if share[0] != 0 {
			t.Fatalf("%v: stalled path carried %.2f", mode, share[0])
		}
		share = h.shareOver(2*time.Second, []float64{0, 0})
		if share[0] < 0.3 {
			t.Fatalf("%v: returned path carries %.2f", mode, share[0])
		}
	}
}

func TestDuplicateSendsEverywhere(t *testing.T) {
	h := newHarness(Duplicate, 3)
	if got := h.s.pick(1000, nil); len(got) != 3 {
		t.Fatalf("duplicate picked %v", got)
	}
}

func TestFailover(t *testing.T) {
	h := newHarness(Failover, 2)
	share := h.shareOver(time.Second, []float64{0, 0})
	if share[0] != 1 {
		t.Fatalf("active path share %.2f, want all on the preferred path", share[0])
	}
	h.run(tick, []float64{0, 0}, 0) // path 0 goes quiet
	start := h.now
	for h.s.active == 0 && h.now.Sub(start) < time.Second {
		h.run(10*time.Millisecond, []float64{0, 0}, 0)
	}
	took := h.now.Sub(start) + tick
	if h.s.active != 1 || took > 300*time.Millisecond {
		t.Fatalf("standby took over after %v (active %d)", took, h.s.active)
	}
	// Path 0 comes back: traffic stays on 1 until 0 has been stable 2 s.
	h.run(time.Second, []float64{0, 0})
	if h.s.active != 1 {
		t.Fatal("traffic returned before the preferred path was stable")
	}
	h.run(1500*time.Millisecond, []float64{0, 0})
	if h.s.active != 0 {
		t.Fatal("traffic did not return to the preferred path after it was stable")
	}
}

func TestStallTimeoutFollowsRTT(t *testing.T) {
	p := newPath()
	if got := p.stallTimeout(tick); got != tick+minStall {
		t.Fatalf("no RTT yet: %v", got)
	}
	now := time.Unix(0, 0)
	for i := 0; i < 50; i++ {
		p.rttSample(60*time.Millisecond, now)
	}
	if p.srtt != 60*time.Millisecond || p.rttvar > 2*time.Millisecond {
		t.Fatalf("srtt %v rttvar %v after steady 60 ms samples", p.srtt, p.rttvar)
	}
	if got := p.stallTimeout(tick); got < tick+120*time.Millisecond || got > tick+130*time.Millisecond {
		t.Fatalf("stall timeout %v, want about 100 ms + 2*60 ms", got)
	}
	p.rttSample(200*time.Millisecond, now)
	if p.rttvar < 30*time.Millisecond || p.minRTT != 60*time.Millisecond {
		t.Fatalf("spike: rttvar %v min %v", p.rttvar, p.minRTT)
	}
}

func TestFailoverPrefersFirstFlowAtStart(t *testing.T) {
	now := time.Unix(1000, 0)
	paths := []*path{newPath(), newPath()}
	s := newScheduler(Failover, paths, tick)
	paths[1].heardAt(now, tick) // flow 1 happened to register first
	s.update(now)
	if s.active != 1 {
		t.Fatalf("active %d with only flow 1 heard", s.active)
	}
	paths[0].heardAt(now, tick)
	s.update(now)
	if got := s.pick(100, nil); len(got) != 1 || got[0] != 0 {
		t.Fatalf("before any traffic, preference should win: picked %v", got)
	}
}
