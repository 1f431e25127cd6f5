package congestion

import (
	"math"
	"testing"
	"time"

	"flowcam/stream/format/ccfb"
)

var t0 = time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)

// link is a FIFO bottleneck for these tests: packets leave at rate bits/s
// (0: at once) after whatever is queued, and arrive delay later. The
// receiver's clock runs offset from the sender's, as two hosts' do.
type link struct {
	rate   float64
	delay  time.Duration
	offset time.Duration
	free   time.Time // when the bottleneck has sent its backlog
}

func (l *link) send(at time.Time, size int) time.Time {
	if l.rate <= 0 {
		return at.Add(l.delay)
	}
	start := at
	if l.free.After(start) {
		start = l.free
	}
	l.free = start.Add(time.Duration(float64(size*8) / l.rate * float64(time.Second)))
	return l.free.Add(l.delay)
}

// feed runs a path for d: size-byte packets every gap, reported every
// 50 ms with per-packet arrivals on the receiver's clock.
type feed struct {
	p    *Path
	l    *link
	now  time.Time
	seq  uint16
	arr  []ccfb.Arrival
	next time.Time // next report
	wait []pending // packets not yet reported
	lost []uint16  // packets the next report names as never received
}

type pending struct {
	seq uint16
	at  time.Time
}

func newFeed(prior float64, l *link) *feed {
	return &feed{p: New(Config{Epoch: t0, Prior: prior, FeedbackEvery: 50 * time.Millisecond}, t0), l: l,
		now: t0, next: t0.Add(50 * time.Millisecond)}
}

func (f *feed) run(d, gap time.Duration, size int) {
	f.runWith(d, func() time.Duration { return gap }, size)
}

// runWith is run with a gap chosen before every packet.
func (f *feed) runWith(d time.Duration, gap func() time.Duration, size int) {
	for end := f.now.Add(d); f.now.Before(end); f.now = f.now.Add(gap()) {
		for !f.next.After(f.now) {
			f.report(f.next)
			f.next = f.next.Add(50 * time.Millisecond)
		}
		f.p.Tick(f.now)
		f.p.Sent(f.seq, size, f.now)
		f.wait = append(f.wait, pending{f.seq, f.l.send(f.now, size)})
		f.seq++
	}
}

// report delivers the receiver's feedback about what arrived by at; it
// takes a one-way delay to come back.
func (f *feed) report(at time.Time) {
	f.arr = f.arr[:0]
	for _, seq := range f.lost {
		f.arr = append(f.arr, ccfb.Arrival{Seq: seq})
	}
	f.lost = f.lost[:0]
	n := 0
	for _, w := range f.wait {
		if w.at.After(at) {
			break
		}
		f.arr = append(f.arr, ccfb.Arrival{Seq: w.seq, Received: true, Timed: true,
			At: w.at.Sub(t0) + f.l.offset})
		n++
	}
	f.wait = f.wait[n:]
	if len(f.arr) > 0 {
		f.p.Feedback(at.Add(f.l.delay), f.arr)
	}
}

func near(a, b, tol float64) bool { return math.Abs(a-b) <= tol*b }

func TestDeliveryRateOfASaturatedLink(t *testing.T) {
	f := newFeed(10e6, &link{rate: 4e6, delay: 10 * time.Millisecond, offset: time.Hour})
	// 1200-byte packets every 2 ms is 4.8 Mbit/s into a 4 Mbit/s link.
	f.run(3*time.Second, 2*time.Millisecond, 1200)
	if got := f.p.DeliveryRate(); !near(got, 4e6, 0.1) {
		t.Fatalf("delivery rate %.2f Mbit/s, want 4", got/1e6)
	}
	if f.p.Limit() == Unlimited || f.p.Capacity() > 4e6 {
		t.Fatalf("an overrun link is not bounded: capacity %.2f Mbit/s, limit %v", f.p.Capacity()/1e6, f.p.Limit())
	}
}

func TestAnUnloadedLinkIsNotBounded(t *testing.T) {
	f := newFeed(2e6, &link{rate: 20e6, delay: 5 * time.Millisecond})
	f.run(3*time.Second, 5*time.Millisecond, 1200) // 1.9 Mbit/s
	if f.p.Limit() != Unlimited || f.p.Capacity() < 2e6 {
		t.Fatalf("capacity %.2f Mbit/s limit %v, want the prior or more, unbounded", f.p.Capacity()/1e6, f.p.Limit())
	}
	if q, ok := f.p.QueueDelay(); !ok || q > 2*time.Millisecond {
		t.Fatalf("queue %v %v on an unloaded link", q, ok)
	}
	floor, _ := f.p.Floor()
	owd, _ := f.p.OWD()
	if d := owd - floor; d < 0 || d > 2*time.Millisecond {
		t.Fatalf("one-way delay %v above its floor %v", owd, floor)
	}
}

func TestQueueIsMeasuredAboveTheFloor(t *testing.T) {
	// The receiver's clock is three hours behind: only differences count.
	l := &link{rate: 4e6, delay: 10 * time.Millisecond, offset: -3 * time.Hour}
	f := newFeed(4e6, l)
	f.run(time.Second, 4*time.Millisecond, 1200) // 2.4 Mbit/s: no queue
	// 300 ms of other traffic lands in the queue at once: it shows when
	// the packets behind it come out.
	l.free = f.now.Add(300 * time.Millisecond)
	var most time.Duration
	for i := 0; i < 50; i++ {
		f.run(10*time.Millisecond, 4*time.Millisecond, 1200)
		q, _ := f.p.QueueDelay()
		most = max(most, q)
	}
	if most < 200*time.Millisecond {
		t.Fatalf("queue at most %v behind a 300 ms burst", most)
	}
	if f.p.Limit() != ByQueue {
		t.Fatalf("a 300 ms queue did not bound the path: %v", f.p.Limit())
	}
}

// TestStandingQueueIsNeverTakenForTheFloor is the trap of the first
// estimator: a path overrun for longer than the floor's window kept its
// queue, and a windowed minimum that simply expired learned the queue as
// the floor. Here the path is overrun for a whole minute; the queue must
// be found, drained and kept small, and the floor must stay the path's.
func TestStandingQueueIsNeverTakenForTheFloor(t *testing.T) {
	l := &link{rate: 3e6, delay: 20 * time.Millisecond}
	f := newFeed(6e6, l)
	var worst time.Duration
	// The sender offers what the path's rate says, as the scheduler would:
	// 1200-byte packets at its rate.
	gap := func() time.Duration { return time.Duration(1200 * 8 / f.p.Rate() * float64(time.Second)) }
	for i := 0; i < 600; i++ {
		f.runWith(100*time.Millisecond, gap, 1200)
		if i >= 50 {
			worst = max(worst, l.free.Sub(f.now))
		}
	}
	if worst > 60*time.Millisecond {
		t.Fatalf("the bottleneck queue reached %v after the first seconds: it is standing", worst)
	}
	floor, ok := f.p.Floor()
	if !ok || floor > 20*time.Millisecond+5*time.Millisecond {
		t.Fatalf("floor %v, want the path's own 20 ms", floor)
	}
	if c := f.p.Capacity(); c < 0.75*3e6 || c > 1.1*3e6 {
		t.Fatalf("capacity %.2f Mbit/s on a 3 Mbit/s path", c/1e6)
	}
}

func TestLossBoundsThePathOnce(t *testing.T) {
	p := New(Config{Epoch: t0, Prior: 4e6, FeedbackEvery: 50 * time.Millisecond}, t0)
	now := t0
	var arr []ccfb.Arrival
	for s := uint16(0); s < 400; s++ {
		p.Sent(s, 1200, now)
		now = now.Add(2 * time.Millisecond)
		// Every fifth packet is lost: 20 %.
		arr = append(arr, ccfb.Arrival{Seq: s, Received: s%5 != 0, Timed: s%5 != 0, At: now.Sub(t0)})
		if len(arr) == 25 {
			p.Feedback(now, arr)
			arr = arr[:0]
		}
	}
	if p.Limit() != ByLoss {
		t.Fatalf("20%% loss: limit %v", p.Limit())
	}
	// The same loss reported again (a report the receiver repeats) must
	// not cut again.
	c := p.Capacity()
	p.Feedback(now, arr)
	if p.Capacity() < c {
		t.Fatalf("a repeated report cut the path again: %.2f -> %.2f Mbit/s", c/1e6, p.Capacity()/1e6)
	}
}

func TestReceiverReportsAlone(t *testing.T) {
	// A player that sends only RFC 3550 reports: deliveries and loss from
	// its counts.
	p := New(Config{Epoch: t0, Prior: 6e6, FeedbackEvery: 500 * time.Millisecond}, t0)
	now := t0
	var highest, lost uint32
	for rr := 0; rr < 10; rr++ {
		for i := 0; i < 250; i++ {
			p.Sent(uint16(highest)+uint16(i), 1400, now.Add(time.Duration(i)*2*time.Millisecond))
		}
		now = now.Add(500 * time.Millisecond)
		highest += 250
		lost += 100 // 40 % of them never arrived
		p.ReceiverReport(now, highest, lost)
	}
	if p.Limit() != ByLoss || p.Capacity() > 5e6 {
		t.Fatalf("40%% loss in receiver reports: capacity %.2f Mbit/s limit %v", p.Capacity()/1e6, p.Limit())
	}
	if p.QueueDelay(); p.Loss(now) < 0.3 {
		t.Fatalf("loss %.2f", p.Loss(now))
	}
}

func TestRoundTripQueueDrainsWhileNothingIsSent(t *testing.T) {
	// A player that reports only when it receives goes quiet once a
	// queue has every frame skipped: its last round trip must not hold
	// the path queued (and so skipped) for good.
	p := New(Config{Epoch: t0, Prior: 6e6, FeedbackEvery: 500 * time.Millisecond}, t0)
	now := t0
	for i := 0; i < 20; i++ {
		now = now.Add(100 * time.Millisecond)
		p.Sent(uint16(i), 1400, now)
		rtt := 10 * time.Millisecond
		if i >= 15 {
			rtt = 90 * time.Millisecond // a queue builds
		}
		p.RTT(now, rtt)
		p.Tick(now)
	}
	q, ok := p.QueueDelay()
	if !ok || q < 60*time.Millisecond {
		t.Fatalf("queue %v (ok %v) after round trips 80 ms above the floor", q, ok)
	}
	before := p.Capacity()
	for i := 0; i < 100; i++ { // a second with nothing sent and no report
		now = now.Add(10 * time.Millisecond)
		p.Tick(now)
	}
	if q, _ := p.QueueDelay(); q != 0 {
		t.Fatalf("queue still %v after a silent second", q)
	}
	if p.Limit() != Unlimited && p.Capacity() <= before {
		t.Fatalf("capacity %.2f Mbit/s did not grow while nothing was sent (was %.2f)", p.Capacity()/1e6, before/1e6)
	}
}

func TestAnOutageIsNotCongestion(t *testing.T) {
	// A path that goes dark for three seconds and comes back (Resume):
	// neither the packets lost meanwhile nor rate samples spanning the gap
	// may bound it.
	f := newFeed(2e6, &link{rate: 10e6, delay: 5 * time.Millisecond})
	f.run(2*time.Second, 5*time.Millisecond, 1200) // 1.9 Mbit/s
	for end := f.now.Add(3 * time.Second); f.now.Before(end); f.now = f.now.Add(5 * time.Millisecond) {
		f.p.Tick(f.now)
		f.p.Sent(f.seq, 1200, f.now)
		f.lost = append(f.lost, f.seq) // the first report back names them lost
		f.seq++
	}
	f.next = f.now.Add(50 * time.Millisecond)
	f.p.Resume(f.now)
	for range 20 {
		f.run(50*time.Millisecond, 5*time.Millisecond, 1200)
		if f.p.Limit() != Unlimited || f.p.Capacity() < 1.9e6 {
			t.Fatalf("after an outage: capacity %.2f Mbit/s, limit %v (%s)", f.p.Capacity()/1e6, f.p.Limit(), f.p.LastCut())
		}
	}
}
