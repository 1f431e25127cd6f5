package pathsim

import (
	"container/heap"
	"encoding/binary"
	"slices"
	"time"

	"github.com/pion/rtcp"

	"flowcam/stream/format/ccfb"
	"flowcam/stream/server/schedule"
)

// Session streams frames through a scheduler over simulated links and
// plays the receiver: it logs arrivals per path, sends RFC 8888 feedback
// back over each path, and judges every frame.
type Session struct {
	Links    []*Link
	Sched    *schedule.Scheduler
	Duration time.Duration
	// FPS and FrameBytes shape the stream: 25 and 29000 (720p MJPEG at
	// quality 80, about 5.8 Mbit/s) when 0.
	FPS        float64
	FrameBytes int
	// Budget is the receiver's play-out delay: a frame complete later than
	// this after its capture is late. 150 ms when 0.
	Budget time.Duration
	// FeedbackEvery is the receiver's report interval; 50 ms when 0.
	FeedbackEvery time.Duration
	// Down reports path i unreachable at t (both directions).
	Down func(i int, t time.Duration) bool
	// Watch, if set, is called every WatchEvery (a second when 0) of the
	// run, to follow the scheduler's state.
	Watch      func(t time.Duration, s *schedule.Scheduler)
	WatchEvery time.Duration
}

// payloadSize is the RTP packet size the stream is cut into.
const payloadSize = 1400

// Result is what the receiver saw.
type Result struct {
	Frames, Sent, Skipped      int
	Complete, Late, Incomplete int // of the frames sent
	Latency                    []time.Duration
	PathBytes                  []int
	Seconds                    []Second
	MaxQueue                   []time.Duration // the longest bottleneck wait seen per path
	Plans                      []bool          // per frame: sent
}

// Second is one second of the run.
type Second struct {
	Frames, Sent, Complete int
	PathBytes              []int
}

type event struct {
	at   time.Duration
	kind int
	path int
	a, b int    // frame and packet index, or nothing
	seq  uint16 // flow sequence number
	rep  []byte // feedback
}

const (
	evFrame = iota
	evRelease
	evArrive
	evFeedbackOut
	evFeedbackIn
	evTick
)

type events []event

func (e events) Len() int { return len(e) }
func (e events) Less(i, j int) bool {
	if e[i].at != e[j].at {
		return e[i].at < e[j].at
	}
	return e[i].kind < e[j].kind
}
func (e events) Swap(i, j int) { e[i], e[j] = e[j], e[i] }
func (e *events) Push(x any)   { *e = append(*e, x.(event)) }
func (e *events) Pop() any {
	old := *e
	x := old[len(old)-1]
	*e = old[:len(old)-1]
	return x
}

type frameState struct {
	capture  time.Duration
	packets  int
	got      []bool
	received int
	last     time.Duration
}

type runner struct {
	*Session
	start      time.Time
	q          events
	frames     []*frameState
	seqs       []uint16
	logs       []ccfb.Log
	clock      ccfb.Clock
	reader     ccfb.Reader
	res        Result
	out        [][][]byte
	relAt      time.Duration
	plan       schedule.Plan
	pktBuf     []byte
	arrBuf     []ccfb.Arrival
	sizeBuf    []int
	lastMarker []time.Duration
}

// Run plays the session and returns what the receiver saw.
func (s *Session) Run(start time.Time) Result {
	s.defaults()
	n := len(s.Links)
	r := &runner{Session: s, start: start, seqs: make([]uint16, n), logs: make([]ccfb.Log, n),
		clock: ccfb.NewClock(start), relAt: -1, lastMarker: make([]time.Duration, n)}
	r.res.PathBytes = make([]int, n)
	r.res.MaxQueue = make([]time.Duration, n)
	interval := time.Duration(float64(time.Second) / s.FPS)
	for t := time.Duration(0); t < s.Duration; t += interval {
		heap.Push(&r.q, event{at: t, kind: evFrame})
	}
	for t := time.Duration(0); t < s.Duration+s.Budget; t += 5 * time.Millisecond {
		heap.Push(&r.q, event{at: t, kind: evTick})
	}
	for i := 0; i < n; i++ {
		for t := s.FeedbackEvery; t < s.Duration+s.Budget; t += s.FeedbackEvery {
			heap.Push(&r.q, event{at: t, kind: evFeedbackOut, path: i})
		}
	}
	for r.q.Len() > 0 {
		r.handle(heap.Pop(&r.q).(event))
	}
	r.judge()
	return r.res
}

func (s *Session) defaults() {
	if s.FPS == 0 {
		s.FPS = 25
	}
	if s.FrameBytes == 0 {
		s.FrameBytes = 29000
	}
	if s.Budget == 0 {
		s.Budget = 150 * time.Millisecond
	}
	if s.FeedbackEvery == 0 {
		s.FeedbackEvery = 50 * time.Millisecond
	}
	if s.WatchEvery == 0 {
		s.WatchEvery = time.Second
	}
	if s.Down == nil {
		s.Down = func(int, time.Duration) bool { return false }
	}
}

func (r *runner) now(t time.Duration) time.Time { return r.start.Add(t) }

func (r *runner) handle(e event) {
	switch e.kind {
	case evFrame:
		r.frame(e.at)
	case evRelease:
		if e.at == r.relAt {
			r.relAt = -1
			r.release(e.at)
		}
	case evTick:
		r.Sched.Tick(r.now(e.at))
		r.release(e.at)
		if r.Watch != nil && e.at%r.WatchEvery == 0 {
			r.Watch(e.at, r.Sched)
		}
	case evArrive:
		r.arrive(e)
	case evFeedbackOut:
		r.feedbackOut(e)
	case evFeedbackIn:
		r.feedbackIn(e)
	}
}

// frame captures one frame at t and hands it to the scheduler.
func (r *runner) frame(t time.Duration) {
	idx := len(r.frames)
	n := (r.FrameBytes + payloadSize - 1) / payloadSize
	f := &frameState{capture: t, packets: n, got: make([]bool, n)}
	r.frames = append(r.frames, f)
	r.sizeBuf = r.sizeBuf[:0]
	for k := 0; k < n; k++ {
		r.sizeBuf = append(r.sizeBuf, min(payloadSize, r.FrameBytes-k*payloadSize)+20)
	}
	r.Sched.Frame(r.now(t), r.now(t), uint32(t*90000/time.Second), r.sizeBuf, &r.plan)
	r.res.Plans = append(r.res.Plans, !r.plan.Skip)
	if r.plan.Skip {
		return
	}
	for k, paths := range r.plan.Paths {
		for i := range r.Links {
			if paths&(1<<i) == 0 {
				continue
			}
			pkt := r.packet(idx, k, r.sizeBuf[k])
			binary.BigEndian.PutUint16(pkt[8:], r.seqs[i])
			r.Sched.Enqueue(i, r.seqs[i], pkt)
			r.seqs[i]++
		}
	}
	r.release(t)
}

// packet is a dummy datagram of size bytes naming its frame and index.
func (r *runner) packet(frame, k, size int) []byte {
	r.pktBuf = append(r.pktBuf[:0], make([]byte, size)...)
	binary.BigEndian.PutUint32(r.pktBuf, uint32(frame))
	binary.BigEndian.PutUint32(r.pktBuf[4:], uint32(k))
	return r.pktBuf
}

// release sends what the pacer lets go and wakes up when it is next due.
func (r *runner) release(t time.Duration) {
	var next time.Time
	r.out, next = r.Sched.Release(r.now(t), r.out)
	for i, pkts := range r.out {
		for _, p := range pkts {
			r.res.PathBytes[i] += len(p)
			r.second(t).PathBytes[i] += len(p)
			r.res.MaxQueue[i] = max(r.res.MaxQueue[i], r.Links[i].Wait(t))
			if r.Down(i, t) {
				continue
			}
			at, ok := r.Links[i].Send(t, len(p)+28)
			if !ok {
				continue
			}
			heap.Push(&r.q, event{at: at, kind: evArrive, path: i, a: int(binary.BigEndian.Uint32(p)),
				b: int(binary.BigEndian.Uint32(p[4:])), seq: binary.BigEndian.Uint16(p[8:])})
		}
	}
	r.Sched.Recycle(r.out)
	if !next.IsZero() {
		at := next.Sub(r.start)
		if r.relAt < 0 || at < r.relAt {
			r.relAt = at
			heap.Push(&r.q, event{at: at, kind: evRelease})
		}
	}
}

func (r *runner) second(t time.Duration) *Second {
	i := int(t / time.Second)
	for len(r.res.Seconds) <= i {
		r.res.Seconds = append(r.res.Seconds, Second{PathBytes: make([]int, len(r.Links))})
	}
	return &r.res.Seconds[i]
}

func (r *runner) arrive(e event) {
	r.logs[e.path].Add(e.seq, r.now(e.at))
	f := r.frames[e.a]
	// Like the client, report a frame's last packet at once, at most one
	// such report per 10 ms.
	if e.b == f.packets-1 && e.at-r.lastMarker[e.path] >= 10*time.Millisecond {
		r.lastMarker[e.path] = e.at
		r.feedbackOut(event{at: e.at, path: e.path})
	}
	if !f.got[e.b] {
		f.got[e.b] = true
		f.received++
		f.last = max(f.last, e.at)
	}
}

// feedbackOut is the receiver's report on one path, carried back over it.
func (r *runner) feedbackOut(e event) {
	if r.Down(e.path, e.at) {
		return
	}
	// Like the client's registrations, a report goes out even before
	// anything arrived: it is how the sender learns the path works.
	var raw []byte
	if b, ok := r.logs[e.path].Block(1, r.now(e.at)); ok {
		var err error
		if raw, err = r.clock.Report(2, r.now(e.at), b).Marshal(); err != nil {
			panic(err)
		}
	}
	l := r.Links[e.path]
	if l.Loss > 0 && l.rng != nil && l.rng.Float64() < l.Loss {
		return
	}
	heap.Push(&r.q, event{at: e.at + l.Delay, kind: evFeedbackIn, path: e.path, rep: raw})
}

func (r *runner) feedbackIn(e event) {
	if r.Down(e.path, e.at) {
		return
	}
	now := r.now(e.at)
	r.Sched.Heard(e.path, now)
	if e.rep == nil {
		return
	}
	pkts, err := rtcp.Unmarshal(e.rep)
	if err != nil {
		panic(err)
	}
	r.arrBuf = r.reader.Arrivals(pkts[0].(*rtcp.CCFeedbackReport), 1, r.arrBuf[:0])
	r.Sched.Feedback(e.path, now, r.arrBuf)
	l := r.Links[e.path]
	r.Sched.RTT(e.path, now, 2*l.Delay+l.Wait(e.at-l.Delay))
}

// judge accounts for every frame.
func (r *runner) judge() {
	res := &r.res
	for i, f := range r.frames {
		res.Frames++
		s := r.second(f.capture)
		s.Frames++
		if !res.Plans[i] {
			res.Skipped++
			continue
		}
		res.Sent++
		s.Sent++
		switch {
		case f.received < f.packets:
			res.Incomplete++
		case f.last-f.capture > r.Budget:
			res.Late++
		default:
			res.Complete++
			s.Complete++
			res.Latency = append(res.Latency, f.last-f.capture)
		}
	}
	slices.Sort(res.Latency)
}

// Percentile of the complete frames' capture-to-completion time.
func (res Result) Percentile(q float64) time.Duration {
	if len(res.Latency) == 0 {
		return 0
	}
	return res.Latency[min(int(q*float64(len(res.Latency))), len(res.Latency)-1)]
}

// Share is the fraction of sent bytes path i carried.
func (res Result) Share(i int) float64 {
	total := 0
	for _, b := range res.PathBytes {
		total += b
	}
	if total == 0 {
		return 0
	}
	return float64(res.PathBytes[i]) / float64(total)
}

// CompleteFrom is the share of the source's frames from second from on
// (up to the last full second) that arrived complete and in time.
func (res Result) CompleteFrom(from int) float64 {
	frames, complete := 0, 0
	for i := from; i < len(res.Seconds)-1; i++ {
		frames += res.Seconds[i].Frames
		complete += res.Seconds[i].Complete
	}
	if frames == 0 {
		return 0
	}
	return float64(complete) / float64(frames)
}
