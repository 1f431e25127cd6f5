package pull

import (
	"math"
	"time"

	"flowcam/stream/client/flowrecv"
	"flowcam/stream/format/rtph264"

	"flowcam/stream/client/playout"
	"flowcam/stream/client/rtspclient"
)

// newPlayer prepares the play-out of one stream.
func newPlayer(src source, sink Sink, cfg Config, d *rtspclient.Description, rep *Report) *player {
	var interval uint32
	if d.FPS > 0 {
		interval = uint32(math.Round(clockRate / d.FPS))
	}
	n := len(src.pathNames())
	p := &player{sink: sink, src: src, start: time.Now(), rep: rep, interval: interval,
		sec: secondStats{packets: make([]int, n), bytes: make([]int, n)}}
	var depack playout.Depacketizer // JPEG
	if d.Codec == "h264" {
		depack = playout.H264(rtph264.DefaultMaxAU)
		p.needKey, p.order = true, &decodeOrder{}
	}
	p.buf = playout.New(playout.Config{Latency: cfg.latency(), Adaptive: !cfg.FixedLatency,
		FrameInterval: interval, Depacketizer: depack})
	return p
}

// run is the receive loop: packets into the play-out buffer, due frames
// out to the sink, a status snapshot every second, until stop is closed,
// the source ends or the server goes away.
func (p *player) run(stop <-chan struct{}, gone <-chan struct{}, status func(Snapshot)) error {
	due := time.NewTimer(time.Hour)
	defer due.Stop()
	second := time.NewTicker(time.Second)
	defer second.Stop()
	pkts := p.src.packets()
	for {
		select {
		case <-stop:
			return nil
		case <-gone:
			return errorf("the server closed the connection")
		case pkt, ok := <-pkts:
			if !ok {
				return nil
			}
			p.push(pkt)
		case <-due.C:
		case now := <-second.C:
			p.second(now, status)
		}
		next, err := p.release(time.Now())
		if err != nil {
			return err
		}
		if !next.IsZero() {
			due.Reset(max(time.Until(next), 0))
		}
	}
}

// drain keeps receiving for d after the server stopped sending, so the
// frames already on their way complete instead of counting as lost. It
// plays nothing: finish judges the frames as of the stop.
func (p *player) drain(d time.Duration) {
	stop := make(chan struct{})
	t := time.AfterFunc(d, func() { close(stop) })
	defer t.Stop()
	p.draining = true
	p.run(stop, nil, nil)
}

type player struct {
	draining bool // the viewer stopped: packets still come in, nothing plays
	buf      *playout.Buffer
	sink     Sink
	src      source
	start    time.Time
	rep      *Report

	latency, arrival []time.Duration // capture to play-out, capture to complete
	sec              secondStats
	prev             playout.Stats // at the last whole second

	// H.264: after a lost frame the ones that follow cannot be decoded,
	// so frames are held back until a key frame, which a PLI asks for.
	needKey  bool
	lostSeen uint64
	keyAsked time.Time
	order    *decodeOrder // H.264: frames back in decoding order
	ready    []*playout.Frame
	interval uint32 // a frame's RTP ticks, 0 when the rate is unknown
	lastTS   uint32 // the newest frame written
	wrote    bool   // lastTS is set
	lossAt   uint32 // lastTS when a loss stopped the picture
	inLoss   bool   // waiting for the key frame after a loss
}

// keyFrameEvery bounds how often the client asks for a key frame.
const keyFrameEvery = 500 * time.Millisecond

// secondStats accumulates one second of activity for the status line and
// the timeline.
type secondStats struct {
	frames  int
	packets []int
	bytes   []int
	latency []time.Duration
}

func (p *player) push(pkt flowrecv.Packet) {
	p.buf.Push(playout.Packet{Seq: pkt.SequenceNumber, Timestamp: pkt.Timestamp, Marker: pkt.Marker,
		Payload: pkt.Payload, Arrival: pkt.Arrival, Path: pkt.Flow})
	for len(p.sec.packets) <= pkt.Flow {
		p.sec.packets, p.sec.bytes = append(p.sec.packets, 0), append(p.sec.bytes, 0)
	}
	p.sec.packets[pkt.Flow]++
	p.sec.bytes[pkt.Flow] += len(pkt.Payload)
}

// release hands every due frame to the sink and returns when the next one
// is due.
func (p *player) release(now time.Time) (time.Time, error) {
	if p.draining {
		return time.Time{}, nil
	}
	for {
		f, next := p.buf.Pop(now)
		if f == nil {
			return next, nil
		}
		if !p.decodable(f, now) {
			continue
		}
		if err := p.write(f, now); err != nil {
			return next, err
		}
	}
}

// write hands f to the sink, for H.264 once the frames sent before it
// have gone.
func (p *player) write(f *playout.Frame, now time.Time) error {
	p.ready = append(p.ready[:0], f)
	if p.order != nil {
		var ok bool
		if p.ready, ok = p.order.add(f, p.ready[:0]); !ok {
			p.rep.HeldForKey++ // came after frames sent later: a decoder has moved past it
		}
	}
	for _, f := range p.ready {
		p.lastTS, p.wrote = f.Timestamp, true
		p.measure(f, now)
		if err := p.sink.WriteFrame(f); err != nil {
			return errorf("output: %w", err)
		}
	}
	return nil
}

// decodable reports whether a frame can go out: not when a frame before it
// was lost (H.264 frames depend on earlier ones) and no key frame has come
// since, in which case a PLI asks for one. Every JPEG frame is a key frame.
func (p *player) decodable(f *playout.Frame, now time.Time) bool {
	if l := lost(p.buf.Stats()); l != p.lostSeen {
		p.lostSeen = l
		if !p.needKey && p.wrote {
			p.lossAt, p.inLoss = p.lastTS, true
		}
		p.needKey = true
		if p.order != nil {
			// What waits for the frames sent before it may wait for the
			// lost one: it could not be decoded.
			p.rep.HeldForKey += uint64(p.order.clear())
		}
	}
	if f.Key {
		p.needKey = false
		if p.inLoss && len(p.rep.Recoveries) < maxSamples {
			p.inLoss = false
			still := int32(f.Timestamp-p.lossAt) - int32(p.interval)
			p.rep.Recoveries = append(p.rep.Recoveries, math.Round(float64(max(still, 0))*10000/clockRate)/10)
		}
		return true
	}
	if !p.needKey {
		return true
	}
	p.rep.HeldForKey++
	if !p.inLoss && !p.wrote {
		// Lost before any picture was shown: the picture is missing
		// from the first frame held.
		p.lossAt, p.inLoss = f.Timestamp-p.interval, true
	}
	if now.Sub(p.keyAsked) >= keyFrameEvery {
		p.keyAsked = now
		p.rep.KeyFrameRequests++
		p.src.requestKeyFrame(now)
	}
	return false
}

// measure records end-to-end latency, using the server's sender reports to
// map the RTP timestamp to the capture time (on the server's clock).
func (p *player) measure(f *playout.Frame, now time.Time) {
	p.sec.frames++
	sr := p.src.senderReport()
	if sr == nil {
		return
	}
	captured := sr.NTP.Add(time.Duration(int32(f.Timestamp-sr.RTPTime)) * time.Second / clockRate)
	if len(p.latency) < maxSamples {
		p.latency = append(p.latency, now.Sub(captured))
		p.arrival = append(p.arrival, f.Completed.Sub(captured))
	}
	p.sec.latency = append(p.sec.latency, now.Sub(captured))
}

// maxSamples bounds the latency record (an hour at 25 fps is 90000).
const maxSamples = 1 << 17

func (p *player) second(now time.Time, status func(Snapshot)) {
	st := p.buf.Stats()
	snap := Snapshot{Elapsed: now.Sub(p.start), Stats: st, FPS: float64(p.sec.frames),
		Latency: percentile(p.sec.latency, 0.5), Delay: p.buf.Latency(), Notice: p.src.notice()}
	flows := p.src.flowStats()
	names := p.src.pathNames()
	for i, f := range flows {
		ps := PathSnapshot{Name: pathName(names, i), Loss: f.RecentLoss, RTT: f.RTT}
		if i < len(p.sec.bytes) {
			ps.Bitrate = float64(p.sec.bytes[i]) * 8
		}
		snap.Paths = append(snap.Paths, ps)
	}
	sec := Second{T: int(math.Round(snap.Elapsed.Seconds())), Frames: p.sec.frames,
		Packets:  append([]int(nil), p.sec.packets...),
		Complete: int(st.FramesComplete - p.prev.FramesComplete),
		Lost:     int(lost(st) - lost(p.prev)), Skipped: int(st.FramesSkipped - p.prev.FramesSkipped),
		DelayMS: ms(snap.Delay)}
	if n := snap.Notice; n != nil {
		sec.SentPermille = int(n.Permille)
	}
	p.rep.Timeline = append(p.rep.Timeline, sec)
	p.prev = st
	if status != nil {
		status(snap)
	}
	p.sec = secondStats{packets: make([]int, len(p.sec.packets)), bytes: make([]int, len(p.sec.bytes))}
}

// finish writes what is complete as of now, when the viewer stopped, and
// fills in the report.
func (p *player) finish(now time.Time) {
	out := p.buf.Stop(now)
	if p.order != nil {
		var ready []*playout.Frame
		for _, f := range out {
			ready, _ = p.order.add(f, ready)
		}
		var dropped int
		out, dropped = p.order.flush(ready)
		p.rep.HeldForKey += uint64(dropped)
	}
	for _, f := range out {
		p.measure(f, now)
		p.sink.WriteFrame(f)
	}
	p.rep.finish(now.Sub(p.start), p.buf.Stats(), p.src.flowStats(), p.src.pathNames(), p.latency, p.arrival)
	p.rep.PlayoutDelay = ms(p.buf.Latency())
	if n := p.src.notice(); n != nil {
		p.rep.Rate = n.String()
	}
}

// lost is every frame the viewer never saw but the sender meant it to.
func lost(st playout.Stats) uint64 { return st.FramesLate + st.FramesIncomplete + st.FramesMissing }

func pathName(names []string, i int) string {
	if i < len(names) && names[i] != "" {
		return names[i]
	}
	return "flow" + string(rune('0'+i))
}
