package playout

import (
	"slices"
	"time"

	"flowcam/stream/format/rtpjpeg"
)

// Defaults for the zero Config fields.
const (
	DefaultLatency   = 150 * time.Millisecond
	DefaultMaxFrames = 64
)

// Config tunes a Buffer. The zero value is usable.
type Config struct {
	// Latency is the play-out delay added to the earliest possible arrival
	// of a frame: the time its packets have to arrive, be reordered and
	// recovered across paths. With Adaptive it is the most the delay may
	// grow to. DefaultLatency when 0 or negative.
	Latency time.Duration
	// Adaptive makes the delay follow what frames need: a high percentile
	// of their packets' spread and transit jitter over the last frames,
	// between MinLatency and Latency.
	Adaptive bool
	// MinLatency is the adaptive delay's floor; DefaultMinLatency when 0.
	MinLatency time.Duration
	// MaxFrames bounds the frames held at once. DefaultMaxFrames when 0.
	MaxFrames int
	// ClockRate is the RTP clock in Hz; rtpjpeg.ClockRate (90 kHz) when 0.
	ClockRate int
	// FrameInterval is the RTP ticks between frames when known (3600 at
	// 25 fps); 0 infers it from recent frames. Only FramesMissing uses it.
	FrameInterval uint32
	// MaxFrameBytes bounds one frame's JPEG scan data, and the payload the
	// buffer holds for it (plus an eighth for headers).
	// rtpjpeg.DefaultMaxFrame (8 MiB) when 0.
	MaxFrameBytes int
	// Depacketizer rebuilds frames: RTP/JPEG (JPEG) when nil; H264 for
	// an H.264 stream.
	Depacketizer Depacketizer
}

func (c Config) withDefaults() Config {
	if c.Latency <= 0 {
		c.Latency = DefaultLatency
	}
	if c.MinLatency <= 0 {
		c.MinLatency = DefaultMinLatency
	}
	if c.MaxFrames <= 0 {
		c.MaxFrames = DefaultMaxFrames
	}
	if c.ClockRate <= 0 {
		c.ClockRate = rtpjpeg.ClockRate
	}
	if c.MaxFrameBytes <= 0 {
		c.MaxFrameBytes = rtpjpeg.DefaultMaxFrame
	}
	if c.Depacketizer == nil {
		c.Depacketizer = JPEG(c.MaxFrameBytes)
	}
	return c
}

// Packet is one received RTP packet.
type Packet struct {
	Seq       uint16
	Timestamp uint32
	Marker    bool
	Payload   []byte    // RTP payload; copied if kept, so the caller may reuse it
	Arrival   time.Time // when it was read, on the clock Pop is given
	Path      int       // network path that delivered it, 0-31 (stats only)
}

// Frame is one complete picture, released at its play-out time.
type Frame struct {
	Timestamp    uint32    // RTP timestamp
	Data         []byte    // a complete JPEG file, or an H.264 access unit in Annex B
	Key          bool      // a decoder can start here: every JPEG, an H.264 IDR
	Due          time.Time // play-out time
	FirstArrival time.Time // first packet's arrival
	Completed    time.Time // arrival of the packet that completed it
	Paths        uint32    // bit n set: path n delivered packets of this frame
	// FirstSeq and LastSeq are the extended sequence numbers of its first
	// and marker packets. Frames play in timestamp order; these give the
	// order they were sent in, which for H.264 with B-frames is the
	// decoding order and differs.
	FirstSeq, LastSeq int64
}

// Stats counts what happened to frames and packets; see the package
// documentation for the exact meaning of each counter.
type Stats struct {
	FramesComplete   uint64 // played
	FramesLate       uint64 // complete only after their Due
	FramesIncomplete uint64 // dropped, packets missing
	FramesMissing    uint64 // inferred from timestamp gaps: nothing seen
	// FramesSkipped counts frames the sender chose not to send (timestamp
	// gaps with no gap in the sequence numbers): not lost.
	FramesSkipped uint64

	DuplicatesDropped uint64
	PacketsLate       uint64
	PacketsReordered  uint64
	PacketsOverflow   uint64
}

// maxRecycled bounds the frames kept for reuse: a caller holds few at once.
const maxRecycled = 4

// Buffer is the reorder/jitter buffer and play-out scheduler of one stream.
// It is not safe for concurrent use.
type Buffer struct {
	cfg      Config
	limit    int // payload bytes held per frame
	seqs     seqWindow
	tss      unwrapper
	clock    clock
	interval interval

	pending  []*frame // sorted by timestamp, at most cfg.MaxFrames
	spare    []*frame // storage of finished frames, for reuse
	dropped  dropped
	lastTS   int64   // timestamp of the last frame played or dropped
	finished bool    // lastTS is set
	lastSeq  int64   // the newest sequence number it held
	seqKnown bool    // it held any packet
	perFrame float64 // packets in a complete frame, recently
	delay    delayControl

	depack   Depacketizer
	recycled []*Frame
	stats    Stats
}

// New returns an empty Buffer.
func New(cfg Config) *Buffer {
	cfg = cfg.withDefaults()
	b := &Buffer{
		cfg:      cfg,
		limit:    cfg.MaxFrameBytes + cfg.MaxFrameBytes/8,
		seqs:     newSeqWindow(),
		tss:      unwrapper{bits: 32},
		clock:    clock{rate: int64(cfg.ClockRate)},
		delay:    newDelayControl(cfg.Adaptive, cfg.MinLatency, cfg.Latency),
		interval: interval{fixed: int64(cfg.FrameInterval)},
		pending:  make([]*frame, 0, cfg.MaxFrames+1),
		depack:   cfg.Depacketizer,
	}
	b.clock.latency = b.delay.initial()
	return b
}

// Latency is the play-out delay now: fixed, or what the adaptive delay has
// settled on.
func (b *Buffer) Latency() time.Duration { return b.clock.latency }

// Stats returns the counters so far.
func (b *Buffer) Stats() Stats { return b.stats }

// Push adds one packet, in any order; duplicates are recognised and dropped.
// Call Pop afterwards: the packet may have changed when the next frame is due.
func (b *Buffer) Push(p Packet) {
	seq := b.seqs.extend(uint32(p.Seq))
	ts := b.tss.extend(p.Timestamp)
	switch {
	case b.seqs.tooOld(seq):
		b.stats.PacketsLate++
		return
	case b.seqs.has(seq):
		b.stats.DuplicatesDropped++
		b.notePath(ts, p.Path) // still, that path delivered the frame
		return
	}
	if b.seqs.started && seq < b.seqs.max {
		b.stats.PacketsReordered++
	}
	b.seqs.add(seq)
	b.tss.accept(ts)
	b.clock.observe(ts, p.Arrival)
	pk := pkt{seq: seq, arrival: p.Arrival, first: b.depack.Starts(p.Payload), marker: p.Marker}
	if b.finished && ts <= b.lastTS {
		b.late(ts, pk)
		return
	}
	b.hold(ts, pk, p.Payload, p.Path)
}

func pathBit(path int) uint32 {
	if path < 0 || path >= 32 {
		return 0
	}
	return 1 << path
}

// late handles a packet whose frame was already played or dropped.
func (b *Buffer) late(ts int64, p pkt) {
	b.stats.PacketsLate++
	if b.dropped.late(ts, p) {
		b.stats.FramesIncomplete--
		b.stats.FramesLate++
		b.delay.observe(p.arrival.Sub(b.clock.earliest(ts)))
	}
}

// hold stores a packet in its pending frame, starting the frame if needed,
// then enforces the MaxFrames bound.
func (b *Buffer) hold(ts int64, p pkt, payload []byte, path int) {
	f := b.frame(ts)
	f.paths |= pathBit(path)
	if !f.add(p, payload, b.limit) {
		b.stats.PacketsOverflow++
	}
	f.dueSeen, f.earliestSeen = b.clock.due(ts), b.clock.earliest(ts)
	if len(b.pending) > b.cfg.MaxFrames {
		b.evict()
	}
}

func (b *Buffer) find(ts int64) (int, bool) {
	return slices.BinarySearchFunc(b.pending, ts, func(f *frame, ts int64) int {
		return cmpInt(f.ts, ts)
	})
}

// frame returns the pending frame with timestamp ts, starting it if needed.
func (b *Buffer) frame(ts int64) *frame {
	i, ok := b.find(ts)
	if ok {
		return b.pending[i]
	}
	var f *frame
	if n := len(b.spare); n > 0 {
		f, b.spare = b.spare[n-1], b.spare[:n-1]
	} else {
		f = new(frame)
	}
	f.reset(ts)
	b.pending = slices.Insert(b.pending, i, f)
	return f
}

func (b *Buffer) notePath(ts int64, path int) {
	if i, ok := b.find(ts); ok {
		b.pending[i].paths |= pathBit(path)
	}
}

// evict drops the oldest frame to keep within MaxFrames: the newest pictures
// matter most to a live viewer, as on the server side.
func (b *Buffer) evict() {
	f := b.shift()
	b.retire(f)
	b.stats.FramesIncomplete++
	b.stats.PacketsOverflow += uint64(len(f.pkts))
	b.dropped.add(f)
	b.spare = append(b.spare, f)
}

// shift removes and returns the oldest pending frame.
func (b *Buffer) shift() *frame {
	f := b.pending[0]
	n := copy(b.pending, b.pending[1:])
	b.pending[n] = nil
	b.pending = b.pending[:n]
	return f
}

// retire moves the play-out cursor to frame f and infers the frames of
// which nothing arrived in between. A frame the sender skipped used no
// sequence numbers, a lost one used about a frame's worth: the sequence
// numbers nobody saw between the previous frame's newest packet and f's
// oldest, divided by the packets a frame takes, are the lost frames; the
// rest of the timestamp gap was skipped.
func (b *Buffer) retire(f *frame) {
	if b.finished {
		gap := f.ts - b.lastTS
		n := missing(gap, b.interval.get())
		lost := n
		if b.seqKnown && len(f.pkts) > 0 && b.perFrame > 0 {
			unseen := max(f.pkts[0].seq-b.lastSeq-1, 0)
			lost = min(n, int64(float64(unseen)/b.perFrame+0.5))
		}
		b.stats.FramesMissing += uint64(lost)
		b.stats.FramesSkipped += uint64(n - lost)
		b.interval.add(gap)
	}
	b.lastTS, b.finished = f.ts, true
	if b.seqKnown = len(f.pkts) > 0; b.seqKnown {
		b.lastSeq = f.pkts[len(f.pkts)-1].seq
	}
}

// countPackets follows how many packets a complete frame takes.
func (b *Buffer) countPackets(n int) {
	if b.perFrame == 0 {
		b.perFrame = float64(n)
		return
	}
	b.perFrame += (float64(n) - b.perFrame) / 8
}

// Pop returns the oldest frame if its play-out time has come (now is not
// before its Due), or nil, and in both cases when to call Pop again: the
// next frame's Due, which may already have passed, or the zero time when no
// frame is held. Due frames that are incomplete are dropped on the way.
func (b *Buffer) Pop(now time.Time) (*Frame, time.Time) {
	for len(b.pending) > 0 {
		due := b.clock.due(b.pending[0].ts)
		if now.Before(due) {
			return nil, due
		}
		// An adaptive delay waits a little past Due for a frame that is
		// still completing: a stall of a fraction of a frame interval beats
		// a lost picture, and the delay then grows for the frames after.
		deadline := due.Add(b.grace())
		if now.Before(deadline) {
			if _, _, ok := b.pending[0].complete(); !ok {
				return nil, deadline
			}
		}
		if out := b.finish(b.shift(), deadline); out != nil {
			return out, b.next()
		}
	}
	return nil, time.Time{}
}

// grace is how long past its Due an adaptive delay may hold a frame that
// is still completing: half a frame interval, within the maximum delay.
// A fixed delay holds none.
func (b *Buffer) grace() time.Duration {
	if !b.cfg.Adaptive {
		return 0
	}
	iv := b.clock.ticks(b.interval.get())
	if iv <= 0 {
		iv = 40 * time.Millisecond
	}
	return max(min(iv/2, b.cfg.Latency-b.clock.latency), 0)
}

func (b *Buffer) next() time.Time {
	if len(b.pending) == 0 {
		return time.Time{}
	}
	return b.clock.due(b.pending[0].ts)
}

// Stop ends play-out at now (a pull's duration is up, or the stream
// ended): held frames are finished in order as Pop would finish them, up
// to the first that is still incomplete but not yet past its Due (and
// grace) at now. That one and any after it were cut short by the stop,
// not lost by the network, and go uncounted. The complete ones are
// returned with their Due times, possibly still ahead, so the caller can
// show them. The buffer stays usable.
func (b *Buffer) Stop(now time.Time) []*Frame {
	var out []*Frame
	for len(b.pending) > 0 {
		f := b.pending[0]
		deadline := b.clock.due(f.ts).Add(b.grace())
		if _, _, ok := f.complete(); !ok && now.Before(deadline) {
			break
		}
		if fr := b.finish(b.shift(), deadline); fr != nil {
			out = append(out, fr)
		}
	}
	for len(b.pending) > 0 {
		b.spare = append(b.spare, b.shift())
	}
	return out
}

// Recycle hands a frame from Pop or Stop back for its storage to be reused.
// The caller must not use f afterwards. Optional: without it frames are
// garbage collected.
func (b *Buffer) Recycle(f *Frame) {
	if f != nil && len(b.recycled) < maxRecycled {
		b.recycled = append(b.recycled, f)
	}
}

// finish plays or drops the oldest frame f, which is due at due, and
// returns the picture if it is played.
func (b *Buffer) finish(f *frame, due time.Time) *Frame {
	b.retire(f)
	out := b.judge(f, due)
	b.spare = append(b.spare, f)
	b.clock.latency = b.delay.step(b.clock.latency, b.clock.ticks(b.interval.get()))
	return out
}

// judge decides f's fate at its Due: played if it was complete by then,
// late if it completed after, incomplete otherwise.
func (b *Buffer) judge(f *frame, due time.Time) *Frame {
	for i := range f.pkts {
		if f.pkts[i].arrival.After(due) {
			b.stats.PacketsLate++
		}
	}
	lo, hi, ok := f.complete()
	if !ok {
		b.stats.FramesIncomplete++
		b.dropped.add(f)
		return nil
	}
	first, completed := f.arrivals(lo, hi)
	b.countPackets(hi - lo + 1)
	// A frame whole before its Due as then known, overdue only because a
	// much faster packet came since (a server starting a viewer at its
	// kept group of pictures sends frames seconds old at once, then live
	// ones), is caught up: played at once, in order, since an H.264
	// decoder needs every one of them. It says nothing of the paths'
	// spread, so the delay does not learn from it; nor from the rest of
	// such a group, on time by the clock it arrived under.
	catchUp := completed.After(due) && !completed.After(f.dueSeen)
	if !catchUp {
		b.delay.observe(completed.Sub(f.earliestSeen))
	}
	if completed.After(due) && !catchUp {
		b.stats.FramesLate++
		return nil
	}
	data, key := b.assemble(f, lo, hi)
	if data == nil {
		b.stats.FramesIncomplete++ // malformed: later packets cannot help
		return nil
	}
	b.stats.FramesComplete++
	out := b.newFrame()
	out.Timestamp, out.Data, out.Key, out.Due = uint32(f.ts), append(out.Data[:0], data...), key, b.clock.due(f.ts)
	if completed.After(out.Due) && !catchUp {
		out.Due = completed // played in its grace: as soon as it was whole
	}
	out.FirstArrival, out.Completed, out.Paths = first, completed, f.paths
	out.FirstSeq, out.LastSeq = f.pkts[lo].seq, f.pkts[hi].seq
	return out
}

// assemble runs the frame's packets from first fragment to marker through
// the depacketizer and returns the frame's bytes (valid until its next
// use), or nil if the depacketizer refused them.
func (b *Buffer) assemble(f *frame, lo, hi int) ([]byte, bool) {
	var data []byte
	var key bool
	for i := lo; i <= hi; i++ {
		p := &f.pkts[i]
		data, key, _ = b.depack.Push(uint16(p.seq), uint32(f.ts), p.marker, f.payload(p))
	}
	return data, key
}

func (b *Buffer) newFrame() *Frame {
	if n := len(b.recycled); n > 0 {
		f := b.recycled[n-1]
		b.recycled = b.recycled[:n-1]
		return f
	}
	return new(Frame)
}
