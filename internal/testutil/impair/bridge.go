// Package impair is a transparent layer-2 impairment bridge, the tests' own
// replacement for the netem qdisc this kernel lacks. It joins two interfaces
// (in the test topology: ws and wc in the relay namespace) with one
// AF_PACKET socket each and copies every frame from one to the other, ARP
// included, applying per direction a fixed delay, uniform jitter (which
// reorders, as netem does by default), random loss and a rate limit with a
// bounded queue. Randomness is drawn from a seeded source, so a run is
// repeatable for a given packet sequence.
//
// Frames are read with a virtio-net header (PACKET_VNET_HDR) and written
// back with it, so checksum-offloaded (CHECKSUM_PARTIAL) and GSO frames cross
// the bridge intact even where offloads could not be switched off.
package impair

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"
)

// Dir names a direction through the bridge.
type Dir int

const (
	AToB Dir = iota // frames arriving on interface a, leaving on b
	BToA            // frames arriving on interface b, leaving on a
)

func (d Dir) String() string {
	if d == AToB {
		return "a->b"
	}
	return "b->a"
}

// Profile is the impairment of one direction. The zero Profile forwards
// everything at once.
type Profile struct {
	Delay  time.Duration // added to every frame
	Jitter time.Duration // uniform in [-Jitter, +Jitter] on top of Delay; reorders
	// LossPercent drops that share of frames (0..100), before any queueing.
	LossPercent float64
	// RateBps limits the direction to this many bytes per second (frame
	// bytes incl. Ethernet header); 0 means unlimited.
	RateBps int64
	// QueueLimit bounds the rate limiter's backlog, expressed as the time
	// needed to drain it; a frame that would wait longer is dropped, like a
	// full router buffer. 0 means DefaultQueueLimit.
	QueueLimit time.Duration
	// Seed seeds the loss and jitter draws; SetProfile reseeds.
	Seed uint64
}

// DefaultQueueLimit is the rate limiter's backlog when Profile.QueueLimit
// is zero: the same 100 ms that netns.RateLimit gives tbf.
const DefaultQueueLimit = 100 * time.Millisecond

// maxQueuedFrames caps each direction's delay queue whatever the profile,
// so a mistaken profile (minutes of delay) cannot eat the test's memory.
const maxQueuedFrames = 1 << 14

func (p Profile) validate() error {
	switch {
	case p.Delay < 0 || p.Jitter < 0:
		return fmt.Errorf("impair: negative delay %v or jitter %v", p.Delay, p.Jitter)
	case p.LossPercent < 0 || p.LossPercent > 100:
		return fmt.Errorf("impair: loss %v%% out of 0..100", p.LossPercent)
	case p.RateBps < 0 || p.QueueLimit < 0:
		return fmt.Errorf("impair: negative rate %d or queue limit %v", p.RateBps, p.QueueLimit)
	}
	return nil
}

// DirStats counts what happened to the frames of one direction.
type DirStats struct {
	Forwarded    uint64 // written to the other interface
	LossDropped  uint64 // dropped by LossPercent
	QueueDropped uint64 // dropped because the queue was full
	Errors       uint64 // read or write errors (e.g. the outgoing link is down)
}

// Stats is a snapshot of both directions.
type Stats struct {
	AToB, BToA DirStats
}

// Bridge forwards frames between two interfaces. Create it with NewBridge.
type Bridge struct {
	a, b  *port
	dirs  [2]*direction
	done  chan struct{}
	wg    sync.WaitGroup
	close sync.Once
}

// NewBridge opens packet sockets on interfaces a and b and starts forwarding
// with the given impairments. It must run in the interfaces' network
// namespace (for example inside netns.Topology.RunIn): the sockets stay
// there, the goroutines it starts do not need to.
func NewBridge(a, b string, aToB, bToA Profile) (*Bridge, error) {
	if err := errors.Join(aToB.validate(), bToA.validate()); err != nil {
		return nil, err
	}
	pa, err := openPort(a)
	if err != nil {
		return nil, err
	}
	pb, err := openPort(b)
	if err != nil {
		pa.close()
		return nil, err
	}
	br := &Bridge{a: pa, b: pb, done: make(chan struct{})}
	br.dirs[AToB] = newDirection(AToB, pa, pb, aToB)
	br.dirs[BToA] = newDirection(BToA, pb, pa, bToA)
	for _, d := range br.dirs {
		br.wg.Add(2)
		go func() { defer br.wg.Done(); d.readLoop() }()
		go func() { defer br.wg.Done(); d.scheduleLoop(br.done) }()
	}
	return br, nil
}

// SetProfile changes the impairment of one direction from now on. Frames
// already queued keep their release times.
func (br *Bridge) SetProfile(dir Dir, p Profile) error {
	if dir != AToB && dir != BToA {
		return fmt.Errorf("impair: bad direction %d", dir)
	}
	if err := p.validate(); err != nil {
		return err
	}
	br.dirs[dir].setProfile(p)
	return nil
}

// Stats returns the counters of both directions.
func (br *Bridge) Stats() Stats {
	return Stats{AToB: br.dirs[AToB].snapshot(), BToA: br.dirs[BToA].snapshot()}
}

// Close stops forwarding, closes the sockets and waits for the goroutines.
// Frames still queued are discarded. It is safe to call more than once.
func (br *Bridge) Close() error {
	var err error
	br.close.Do(func() {
		close(br.done)
		err = errors.Join(br.a.close(), br.b.close())
		br.wg.Wait()
		for _, d := range br.dirs {
			d.discard()
		}
	})
	return err
}

// direction is the state of one way through the bridge: the profile and
// random source (guarded by mu, shared by reader and scheduler), the
// rate limiter's clock and the min-heap of frames waiting for release.
type direction struct {
	dir     Dir
	in, out *port
	start   time.Time // monotonic origin of the int64 release times

	mu     sync.Mutex
	prof   Profile
	rng    *rand.Rand
	txFree int64 // when the rate-limited link has sent its backlog (ns since start)
	queue  frameHeap
	seq    uint64

	wake chan struct{} // tells the scheduler a frame was queued

	forwarded, lossDropped, queueDropped, errs atomic.Uint64
}

func newDirection(dir Dir, in, out *port, p Profile) *direction {
	d := &direction{dir: dir, in: in, out: out, start: time.Now(), wake: make(chan struct{}, 1)}
	d.setProfile(p)
	return d
}

func (d *direction) setProfile(p Profile) {
	if p.QueueLimit == 0 {
		p.QueueLimit = DefaultQueueLimit
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.prof = p
	// The second PCG word only separates the two directions when both use
	// the same seed; it is fixed, so runs stay repeatable.
	d.rng = rand.New(rand.NewPCG(p.Seed, 0x9e3779b97f4a7c15+uint64(d.dir)))
}

func (d *direction) snapshot() DirStats {
	return DirStats{
		Forwarded:    d.forwarded.Load(),
		LossDropped:  d.lossDropped.Load(),
		QueueDropped: d.queueDropped.Load(),
		Errors:       d.errs.Load(),
	}
}

func (d *direction) now() int64 { return int64(time.Since(d.start)) }

// verdict says what to do with a frame just read.
type verdict int

const (
	drop verdict = iota
	sendNow
	enqueue
)

// decide applies loss, rate limit, delay and jitter to a frame of n wire
// bytes arriving at now and returns its fate and release time. Caller holds mu.
func (d *direction) decide(n int, now int64) (verdict, int64) {
	p := &d.prof
	if p.LossPercent > 0 && d.rng.Float64()*100 < p.LossPercent {
		d.lossDropped.Add(1)
		return drop, 0
	}
	at := now
	if p.RateBps > 0 {
		// Token bucket without burst allowance, i.e. a link of RateBps:
		// the frame leaves once everything queued before it has been
		// sent. The backlog in time is the queue length.
		startTx := max(d.txFree, now)
		if startTx-now > int64(p.QueueLimit) {
			d.queueDropped.Add(1)
			return drop, 0
		}
		d.txFree = startTx + int64(n)*int64(time.Second)/p.RateBps
		at = d.txFree
	}
	at += int64(p.Delay)
	if p.Jitter > 0 {
		at += d.rng.Int64N(2*int64(p.Jitter)+1) - int64(p.Jitter)
	}
	if at <= now && d.queue.Len() == 0 {
		return sendNow, 0
	}
	if d.queue.Len() >= maxQueuedFrames {
		d.queueDropped.Add(1)
		return drop, 0
	}
	return enqueue, at
}

// readLoop reads frames from in until the socket is closed. Frames due now
// are written straight away; the others are copied into a pooled buffer and
// handed to the scheduler.
func (d *direction) readLoop() {
	r := newReader(d.in)
	w := newWriter(d.out)
	for {
		frame, err := r.read()
		if errors.Is(err, errClosed) {
			return
		}
		if err != nil {
			d.errs.Add(1)
			continue
		}
		if frame == nil {
			continue // our own outgoing frame
		}
		d.handle(frame, w)
	}
}

func (d *direction) handle(frame []byte, w *writer) {
	d.mu.Lock()
	v, at := d.decide(wireLen(frame), d.now())
	if v == enqueue {
		d.seq++
		d.queue.push(item{at: at, seq: d.seq, buf: copyToPool(frame)})
	}
	d.mu.Unlock()
	switch v {
	case sendNow:
		d.send(w, frame)
	case enqueue:
		select {
		case d.wake <- struct{}{}:
		default: // a wake-up is already pending
		}
	}
}

func (d *direction) send(w *writer, frame []byte) {
	if err := w.write(frame); err != nil {
		d.errs.Add(1)
		return
	}
	d.forwarded.Add(1)
}

// scheduleLoop releases queued frames when they are due: one timer, reset to
// the earliest release time, instead of a sleep per frame.
func (d *direction) scheduleLoop(done <-chan struct{}) {
	w := newWriter(d.out)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	var due []item
	for {
		due = due[:0]
		d.mu.Lock()
		now := d.now()
		for d.queue.Len() > 0 && d.queue.peek().at <= now {
			due = append(due, d.queue.pop())
		}
		wait := time.Duration(-1)
		if d.queue.Len() > 0 {
			wait = time.Duration(d.queue.peek().at - now)
		}
		d.mu.Unlock()
		for _, it := range due {
			d.send(w, *it.buf)
			putToPool(it.buf)
		}
		if wait >= 0 {
			timer.Reset(wait)
		}
		select {
		case <-timer.C:
		case <-d.wake:
			timer.Stop()
		case <-done:
			timer.Stop()
			return
		}
	}
}

// discard returns the buffers of frames that were never released.
func (d *direction) discard() {
	d.mu.Lock()
	defer d.mu.Unlock()
	for d.queue.Len() > 0 {
		putToPool(d.queue.pop().buf)
	}
}
