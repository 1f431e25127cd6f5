package multiflow

import (
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtp"

	"flowcam/stream/udpbatch"
)

// Payloads is one frame's RTP payloads, owned by the caller.
type Payloads interface {
	Len() int
	At(i int) []byte
}

// SenderConfig sets up the server end of a session's flows.
type SenderConfig struct {
	Session string   // RTSP session id, bound into registrations
	Token   [16]byte // session secret from the SETUP reply
	ExtID   uint8
	Mode    Mode
	SSRC    uint32
	// Conns are the flows' server sockets, by flow index, already bound
	// to their interfaces. The Sender owns and closes them.
	Conns []net.PacketConn
	// ReportEvery is the client's receiver report interval; stall
	// detection allows for it. Sender reports go out as often.
	ReportEvery time.Duration
	Now         func() time.Time
	Logger      *slog.Logger
	// OnAlive is called for every authenticated packet from the client,
	// which keeps the RTSP session from timing out.
	OnAlive func()
}

// Sender sends one session's RTP stream over its flows.
type Sender struct {
	cfg     SenderConfig
	log     *slog.Logger
	flows   []*senderFlow
	ticker  *time.Ticker
	done    chan struct{}
	wg      sync.WaitGroup
	forged  atomic.Uint64
	replays atomic.Uint64
	spoofed atomic.Uint64

	mu           sync.Mutex // guards paths, sched, flow addresses and counters
	paths        []*path
	sched        *scheduler
	streamBytes  int // every payload byte of the stream, counted once however many flows carried it
	lastTS       uint32
	lastCaptured time.Time
	picks        []int
}

type senderFlow struct {
	index       uint8
	conn        net.PacketConn
	out         *udpbatch.Writer // used by the frame writer only
	client      netip.AddrPort   // learned from registrations; zero until then
	counter     uint64           // newest accepted registration counter
	seq         uint16
	packets     uint32 // RTCP sender report counts (wrap, as RFC 3550 says)
	octets      uint32
	sent        uint64 // payload bytes, for stats
	sentPackets uint64
	batch       flowBatch
}

// NewSender starts reading the flows and sending sender reports.
func NewSender(cfg SenderConfig) (*Sender, error) {
	if len(cfg.Conns) < 1 || len(cfg.Conns) > MaxFlows {
		return nil, fmt.Errorf("multiflow: %d flows (1 to %d)", len(cfg.Conns), MaxFlows)
	}
	if cfg.ReportEvery <= 0 {
		cfg.ReportEvery = DefaultReportInterval
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if cfg.OnAlive == nil {
		cfg.OnAlive = func() {}
	}
	s := &Sender{cfg: cfg, log: cfg.Logger, done: make(chan struct{})}
	for i, c := range cfg.Conns {
		s.flows = append(s.flows, &senderFlow{index: uint8(i), conn: c, out: udpbatch.New(c)})
		s.paths = append(s.paths, newPath())
	}
	s.sched = newScheduler(cfg.Mode, s.paths, cfg.ReportEvery)
	s.ticker = time.NewTicker(tickEvery)
	s.wg.Add(len(s.flows) + 1)
	for _, f := range s.flows {
		go s.read(f)
	}
	go s.tick()
	return s, nil
}

// DefaultReportInterval is how often the client reports on each flow: ten
// times a second, so shares follow a path's condition within a second and
// a dead path is noticed in a fraction of one.
const DefaultReportInterval = 100 * time.Millisecond

// tickEvery bounds how late a stall is noticed between reports.
const tickEvery = 20 * time.Millisecond

// Close stops the flows and waits for the Sender's goroutines.
func (s *Sender) Close() {
	select {
	case <-s.done:
		return
	default:
	}
	close(s.done)
	s.ticker.Stop()
	for _, f := range s.flows {
		f.conn.Close()
	}
	s.wg.Wait()
}

// tick re-evaluates the schedule and sends each flow a sender report.
func (s *Sender) tick() {
	defer s.wg.Done()
	lastSR := time.Time{}
	for {
		select {
		case <-s.done:
			return
		case <-s.ticker.C:
		}
		now := s.cfg.Now()
		s.mu.Lock()
		before := s.describe()
		s.sched.update(now)
		if after := s.describe(); after != before {
			s.log.Info("multiflow schedule changed", "mode", s.cfg.Mode, "flows", after)
		}
		s.mu.Unlock()
		if now.Sub(lastSR) >= s.cfg.ReportEvery {
			s.sendReports(now)
			lastSR = now
		}
	}
}

// describe summarises which flows carry traffic, for change logs.
func (s *Sender) describe() string {
	b := make([]byte, 0, 4*len(s.flows))
	for i := range s.flows {
		switch {
		case !s.sched.usable[i]:
			b = append(b, '-')
		case s.cfg.Mode == Failover && s.sched.active == i, s.cfg.Mode == Duplicate:
			b = append(b, 'A')
		case s.cfg.Mode == Stripe && s.sched.probing[i]:
			b = append(b, 'p')
		case s.cfg.Mode == Stripe:
			b = append(b, 'S')
		default:
			b = append(b, 's')
		}
	}
	return string(b)
}

// SendFrame sends one frame: h is the header of its first packet (sequence
// number and timestamp on the stream's single clock); each packet gets the
// next sequence number and the marker goes on the last. Every copy carries
// its flow's own sequence number in the header extension.
func (s *Sender) SendFrame(h rtp.Header, p Payloads, captured time.Time) error {
	s.mu.Lock()
	for _, f := range s.flows {
		f.batch.reset(f.client)
	}
	n := p.Len()
	for i := 0; i < n; i++ {
		payload := p.At(i)
		h.Marker = i == n-1
		s.picks = s.sched.pick(len(payload), s.picks[:0])
		for _, fi := range s.picks {
			f := s.flows[fi]
			if !f.client.IsValid() {
				continue // not registered yet: nowhere to send
			}
			f.batch.add(&h, s.cfg.ExtID, f.index, f.seq, payload)
			f.seq++
			f.packets++
			f.octets += uint32(len(payload))
			f.sent += uint64(len(payload))
			f.sentPackets++
			s.paths[fi].sentBytes += len(payload)
		}
		s.streamBytes += len(payload)
		h.SequenceNumber++
	}
	s.lastTS, s.lastCaptured = h.Timestamp, captured
	s.mu.Unlock()
	var first error
	for _, f := range s.flows {
		if len(f.batch.offs) == 0 {
			continue
		}
		if err := f.out.WriteTo(f.batch.packets(), f.batch.dst); err != nil && first == nil {
			first = fmt.Errorf("flow %d: %w", f.index, err)
		}
	}
	return first
}

// flowBatch is one flow's share of a frame, laid out for one sendmmsg.
type flowBatch struct {
	dst  *net.UDPAddr
	buf  []byte
	offs []int
	pkts [][]byte
}

func (b *flowBatch) reset(client netip.AddrPort) {
	b.buf, b.offs, b.pkts, b.dst = b.buf[:0], b.offs[:0], b.pkts[:0], nil
	if client.IsValid() {
		b.dst = net.UDPAddrFromAddrPort(client)
	}
}

// add appends an RTP packet whose header carries the RFC 8285 one-byte
// extension element (flow, flow sequence). It is written by hand after
// pion's fixed header so that nothing is allocated per packet.
func (b *flowBatch) add(h *rtp.Header, id, flow uint8, seq uint16, payload []byte) {
	start := len(b.buf)
	b.buf = append(b.buf, make([]byte, 12)...)
	h.MarshalTo(b.buf[start:])
	b.buf[start] |= 0x10 // X: a header extension follows
	b.buf = append(b.buf, 0xBE, 0xDE, 0, 1, id<<4|2)
	b.buf = AppendExtension(b.buf, flow, seq)
	b.buf = append(b.buf, payload...)
	b.offs = append(b.offs, start)
}

func (b *flowBatch) packets() [][]byte {
	for i, off := range b.offs {
		end := len(b.buf)
		if i+1 < len(b.offs) {
			end = b.offs[i+1]
		}
		b.pkts = append(b.pkts, b.buf[off:end])
	}
	return b.pkts
}

// SenderStats is the server's view of a session's flows.
type SenderStats struct {
	Mode     Mode
	Flows    []SenderFlowStats
	Forged   uint64 // registrations with a bad MAC, and undecodable RTCP
	Replayed uint64 // authentic registrations with a stale counter
	Spoofed  uint64 // reports from an address other than the flow's client
}

// SenderFlowStats describes one flow.
type SenderFlowStats struct {
	Flow       int
	Local      string
	Client     string // registered return address, "" until registered
	Usable     bool   // heard recently enough to carry traffic
	Probing    bool   // stripe: carries only copies until its quality returns
	Active     bool   // failover: carries the stream
	Packets    uint64
	Bytes      uint64
	Loss       float64 // smoothed fraction lost, from receiver reports
	RecentLoss float64 // fraction lost in the latest report
	RTT        time.Duration
	Jitter     time.Duration
	Capacity   float64 // estimated, in units of the stream's rate
}

// Stats returns a snapshot.
func (s *Sender) Stats() SenderStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := SenderStats{Mode: s.cfg.Mode, Forged: s.forged.Load(), Replayed: s.replays.Load(), Spoofed: s.spoofed.Load()}
	for i, f := range s.flows {
		p := s.paths[i]
		fs := SenderFlowStats{Flow: i, Local: f.conn.LocalAddr().String(), Usable: s.sched.usable[i],
			Probing: s.sched.probing[i], Active: s.cfg.Mode == Failover && s.sched.active == i,
			Packets: f.sentPackets, Bytes: f.sent, Loss: p.loss, RecentLoss: p.lastLoss, RTT: p.srtt,
			Jitter: p.jitter, Capacity: p.capacity}
		if f.client.IsValid() {
			fs.Client = f.client.String()
		}
		st.Flows = append(st.Flows, fs)
	}
	return st
}
