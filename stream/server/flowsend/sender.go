package flowsend

import (
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"flowcam/stream/format/multiflow"

	"github.com/pion/rtp"

	"flowcam/stream/format/ccfb"
	"flowcam/stream/server/schedule"
	"flowcam/stream/server/udpbatch"
)

// Payloads is one frame's RTP payloads, owned by the caller.
type Payloads interface {
	Len() int
	At(i int) []byte
}

// Config sets up the server end of a session's flows.
type Config struct {
	Session string   // RTSP session id, bound into registrations
	Token   [16]byte // session secret from the SETUP reply
	ExtID   uint8
	Mode    multiflow.Mode
	SSRC    uint32
	// Conns are the flows' server sockets, by flow index, already bound
	// to their interfaces. The Sender owns and closes them.
	Conns []net.PacketConn
	// ReportEvery is the client's report interval; stall detection allows
	// for it. Sender reports go out as often. multiflow.LegacyReportInterval when 0.
	ReportEvery time.Duration
	// Latency is the client's play-out budget (schedule.DefaultBudget when
	// 0): frames that could not arrive within it are not sent.
	Latency time.Duration
	// Weights, in stripe mode, fix the flows' shares: the static baseline.
	Weights []float64
	Now     func() time.Time
	Logger  *slog.Logger
	// OnAlive is called for every authenticated packet from the client,
	// which keeps the RTSP session from timing out.
	OnAlive func()
	// OnKeyFrameRequest is called for a PLI or FIR from the registered
	// client (the caller rate-limits); nil ignores them.
	OnKeyFrameRequest func()
}

// Sender sends one session's RTP stream over its flows: a schedule decides
// which frames go and on which flows each packet goes, and a pacer
// goroutine sends them at each flow's rate.
type Sender struct {
	cfg     Config
	log     *slog.Logger
	flows   []*senderFlow
	done    chan struct{}
	wake    chan struct{}
	wg      sync.WaitGroup
	forged  atomic.Uint64
	replays atomic.Uint64
	spoofed atomic.Uint64

	mu           sync.Mutex // guards everything below and the flows' addresses and counters
	sched        *schedule.Scheduler
	reader       ccfb.Reader
	plan         schedule.Plan
	sizes        []int
	pkt          []byte
	arrivals     []ccfb.Arrival
	out          [][][]byte // the pacer's current release
	dst          []*net.UDPAddr
	lastTS       uint32
	lastCaptured time.Time
	lastLayout   string
}

type senderFlow struct {
	index   uint8
	conn    net.PacketConn
	out     *udpbatch.Writer // used by the pacer only
	client  netip.AddrPort   // learned from registrations; zero until then
	counter uint64           // newest accepted registration counter
	seq     uint16
	packets uint32 // RTCP sender report counts (wrap, as RFC 3550 says)
	octets  uint32
	ccfb    bool // the client sends per-packet feedback on this flow
	rr      receptionStats
}

// receptionStats is what the client's receiver reports said last.
type receptionStats struct {
	fractionLost float64
	jitter       time.Duration
}

// New starts reading the flows, pacing and sending sender reports.
func New(cfg Config) (*Sender, error) {
	if len(cfg.Conns) < 1 || len(cfg.Conns) > multiflow.MaxFlows {
		return nil, fmt.Errorf("multiflow: %d flows (1 to %d)", len(cfg.Conns), multiflow.MaxFlows)
	}
	if len(cfg.Weights) > 0 && len(cfg.Weights) != len(cfg.Conns) {
		return nil, fmt.Errorf("multiflow: %d weights for %d flows", len(cfg.Weights), len(cfg.Conns))
	}
	cfg = cfg.withDefaults()
	s := &Sender{cfg: cfg, log: cfg.Logger, done: make(chan struct{}), wake: make(chan struct{}, 1)}
	for i, c := range cfg.Conns {
		s.flows = append(s.flows, &senderFlow{index: uint8(i), conn: c, out: udpbatch.New(c, udpbatch.WithLogger(s.log))})
	}
	s.dst = make([]*net.UDPAddr, len(s.flows))
	s.sched = schedule.New(schedule.Config{Policy: policy(cfg.Mode, cfg.Weights), Weights: cfg.Weights,
		Budget: cfg.Latency, FeedbackEvery: cfg.ReportEvery, FrameFeedback: true, Adapt: len(cfg.Weights) == 0,
		Pacing: pacing(cfg.Weights), Seed: uint64(cfg.SSRC)}, len(s.flows), cfg.Now())
	s.wg.Add(len(s.flows) + 2)
	for _, f := range s.flows {
		go s.read(f)
	}
	go s.tick()
	go s.pace()
	return s, nil
}

func (c Config) withDefaults() Config {
	if c.ReportEvery <= 0 {
		c.ReportEvery = multiflow.LegacyReportInterval
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if c.OnKeyFrameRequest == nil {
		c.OnKeyFrameRequest = func() {}
	}
	if c.OnAlive == nil {
		c.OnAlive = func() {}
	}
	return c
}

// policy maps a mode (and a static split) to the scheduler's policy.
func policy(m multiflow.Mode, weights []float64) schedule.Policy {
	switch {
	case len(weights) > 0:
		return schedule.Weighted
	case m == multiflow.Duplicate:
		return schedule.Duplicate
	case m == multiflow.Failover:
		return schedule.Failover
	}
	return schedule.Stripe
}

// pacing spaces every flow's packets, except for the static baseline,
// which sends a flow's share of a frame at once as RIST's peers do.
func pacing(weights []float64) schedule.Pacing {
	if len(weights) > 0 {
		return schedule.PaceOff
	}
	return schedule.PaceAlways
}

// tickEvery bounds how late a stall or a probe's end is noticed between
// reports.
const tickEvery = 10 * time.Millisecond

// Close stops the flows and waits for the Sender's goroutines.
func (s *Sender) Close() {
	select {
	case <-s.done:
		return
	default:
	}
	close(s.done)
	for _, f := range s.flows {
		f.conn.Close()
	}
	s.wg.Wait()
}

// SendFrame offers one frame: h is the header of its first packet
// (sequence number and timestamp on the stream's single clock); each packet
// gets the next sequence number and the marker goes on the last. Every copy
// carries its flow's own sequence number in the header extension. It
// reports whether the frame goes out: a frame the paths cannot carry is
// skipped whole, and then it uses no sequence numbers, unless key marks a
// frame later ones depend on (Scheduler.KeyFrame).
func (s *Sender) SendFrame(h rtp.Header, p Payloads, captured time.Time, key bool) bool {
	now := s.cfg.Now()
	n := p.Len()
	s.mu.Lock()
	s.sizes = s.sizes[:0]
	for i := 0; i < n; i++ {
		s.sizes = append(s.sizes, rtpHeaderLen+multiflow.ExtensionOverhead+len(p.At(i)))
	}
	if key {
		s.sched.KeyFrame(now, captured, h.Timestamp, s.sizes, &s.plan)
	} else {
		s.sched.Frame(now, captured, h.Timestamp, s.sizes, &s.plan)
	}
	if s.plan.Skip {
		s.mu.Unlock()
		return false
	}
	for k := 0; k < n; k++ {
		h.Marker = k == n-1
		for fi, f := range s.flows {
			if s.plan.Paths[k]&(1<<fi) == 0 || !f.client.IsValid() {
				continue // not this flow's, or not registered yet: nowhere to send
			}
			s.pkt = multiflow.AppendPacket(s.pkt[:0], &h, s.cfg.ExtID, f.index, f.seq, p.At(k))
			s.sched.Enqueue(fi, f.seq, s.pkt)
			f.seq++
		}
		h.SequenceNumber++
	}
	s.lastTS, s.lastCaptured = h.Timestamp, captured
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
	return true
}

// rtpHeaderLen is the fixed RTP header: the sender never adds CSRCs.
const rtpHeaderLen = 12

// pace is the pacer goroutine: it sends whatever the schedule releases,
// when a frame arrives and whenever the next packet is due.
func (s *Sender) pace() {
	defer s.wg.Done()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		select {
		case <-s.done:
			return
		case <-s.wake:
		case <-timer.C:
		}
		next := s.release()
		wait := time.Hour
		if !next.IsZero() {
			wait = max(next.Sub(s.cfg.Now()), 0)
		}
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
		timer.Reset(wait)
	}
}

// release sends each flow's due packets with one sendmmsg and returns when
// the next one is due.
func (s *Sender) release() time.Time {
	now := s.cfg.Now()
	s.mu.Lock()
	var next time.Time
	s.out, next = s.sched.Release(now, s.out)
	for i, f := range s.flows {
		s.dst[i] = nil
		if f.client.IsValid() {
			s.dst[i] = net.UDPAddrFromAddrPort(f.client)
		}
		for _, pkt := range s.out[i] {
			f.packets++
			f.octets += uint32(len(pkt) - rtpHeaderLen - multiflow.ExtensionOverhead)
		}
	}
	s.mu.Unlock()
	for i, f := range s.flows {
		if len(s.out[i]) == 0 || s.dst[i] == nil {
			continue
		}
		if err := f.out.WriteTo(s.out[i], s.dst[i]); err != nil {
			s.log.Debug("flow send failed", "flow", f.index, "err", err)
		}
	}
	s.mu.Lock()
	s.sched.Recycle(s.out)
	s.mu.Unlock()
	return next
}

// tick moves the schedule on between frames and sends each flow a sender
// report every report interval.
func (s *Sender) tick() {
	defer s.wg.Done()
	t := time.NewTicker(tickEvery)
	defer t.Stop()
	lastSR, lastState := time.Time{}, time.Time{}
	for {
		select {
		case <-s.done:
			return
		case <-t.C:
		}
		now := s.cfg.Now()
		s.mu.Lock()
		s.sched.Tick(now)
		s.logLayout(now)
		if now.Sub(lastState) >= time.Second {
			lastState = now
			s.log.Debug("multiflow state", "state", s.sched.Stats(now).String())
		}
		s.mu.Unlock()
		if now.Sub(lastSR) >= s.cfg.ReportEvery {
			s.sendReports(now)
			lastSR = now
		}
	}
}

// logLayout logs when the set of flows carrying traffic changes.
func (s *Sender) logLayout(now time.Time) {
	st := s.sched.Stats(now)
	b := make([]byte, 0, len(st.Paths))
	for _, p := range st.Paths {
		switch {
		case !p.Usable:
			b = append(b, '-')
		case s.cfg.Mode == multiflow.Failover && !p.Active:
			b = append(b, 's')
		case p.Copies:
			b = append(b, 'p')
		default:
			b = append(b, 'A')
		}
	}
	if l := string(b); l != s.lastLayout {
		s.lastLayout = l
		s.log.Info("multiflow schedule changed", "mode", s.cfg.Mode, "flows", l)
	}
}
