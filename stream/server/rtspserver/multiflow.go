package rtspserver

import (
	"crypto/rand"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
	"time"

	"flowcam/stream/server/flowsend"

	"github.com/pion/rtp"

	"flowcam/stream/format/multiflow"
	"flowcam/stream/format/rtsp"
	"flowcam/stream/server/broadcast"
)

// MultiflowConfig enables multi-flow sessions (docs/multiflow.md). Without
// it the server answers the option tag with 551 and plain RTSP clients
// never notice either way.
type MultiflowConfig struct {
	MaxFlows int              // per session; 4 by default, at most multiflow.MaxFlows
	Modes    []multiflow.Mode // modes clients may choose; all by default
	Paths    []FlowPath       // where flow sockets bind, used in turn; none: the RTSP connection's address
}

// FlowPath is a server-side network path flows may leave through.
type FlowPath struct {
	Name string     // interface name, for logs
	Addr netip.Addr // address advertised to clients
	// ListenPacket opens a socket on this path (bound to its interface).
	ListenPacket func(network, address string) (net.PacketConn, error)
}

// DefaultMaxFlows is how many flows a session may have unless configured:
// two radios and two wired paths.
const DefaultMaxFlows = 4

func (m *MultiflowConfig) setDefaults() {
	if m.MaxFlows <= 0 {
		m.MaxFlows = DefaultMaxFlows
	}
	m.MaxFlows = min(m.MaxFlows, multiflow.MaxFlows)
	if len(m.Modes) == 0 {
		m.Modes = []multiflow.Mode{multiflow.Stripe, multiflow.Duplicate, multiflow.Failover}
	}
}

// setupMultiflow answers a SETUP that requires the multi-flow option tag.
func (c *conn) setupMultiflow(req *rtsp.Request, res *rtsp.Response, t target) {
	mf := c.srv.cfg.Multiflow
	want, err := multiflow.ParseRequest(req.Header.Get(multiflow.HeaderName))
	switch {
	case err != nil:
		res.Status, res.Reason = rtsp.StatusBadRequest, "Malformed Multiflow header"
		return
	case want.Flows > mf.MaxFlows:
		res.Status = rtsp.StatusNotEnoughBandwidth
		res.Reason = fmt.Sprintf("Too Many Flows (this server allows at most %d)", mf.MaxFlows)
		return
	case !slices.Contains(mf.Modes, want.Mode):
		res.Status = rtsp.StatusUnsupportedTransport
		res.Reason = fmt.Sprintf("Mode %s Not Allowed (allowed: %s)", want.Mode, modeList(mf.Modes))
		return
	case len(want.Weights) > 0 && want.Mode != multiflow.Stripe:
		res.Status, res.Reason = rtsp.StatusBadRequest, "Weights Need Mode Stripe"
		return
	}
	ss := newSession(c.srv, t.stream, t.base)
	ss.client = c.nc.RemoteAddr().String()
	reply, err := c.attachFlows(ss, want)
	if err != nil {
		ss.log.Warn("cannot open flow sockets", "err", err)
		res.Status = rtsp.StatusServiceUnavailable
		return
	}
	if err := c.srv.addSession(ss); err != nil {
		ss.close("server shutdown")
		res.Status = rtsp.StatusServiceUnavailable
		return
	}
	ss.log.Info("session opened", "transport", "multiflow", "mode", want.Mode, "flows", len(reply.Flows))
	tr := rtsp.Transport{Protocol: "RTP/AVP", Lower: rtsp.LowerUDP, Mode: "play", SSRC: ss.ssrc, HasSSRC: true}
	res.Header.Add("Transport", tr.String())
	res.Header.Add(multiflow.HeaderName, reply.String())
	res.Header.Add("Session", ss.header())
}

func modeList(ms []multiflow.Mode) string {
	names := make([]string, len(ms))
	for i, m := range ms {
		names[i] = m.String()
	}
	return strings.Join(names, ", ")
}

// attachFlows opens one socket per flow, spread over the configured paths,
// and starts the session's multi-flow sender.
func (c *conn) attachFlows(ss *session, want multiflow.Request) (multiflow.Response, error) {
	mf := c.srv.cfg.Multiflow
	reply := multiflow.Response{Mode: want.Mode, ExtID: multiflow.DefaultExtID}
	rand.Read(reply.Token[:])
	var conns []net.PacketConn
	for i := 0; i < want.Flows; i++ {
		pc, addr, err := c.listenFlow(mf, i)
		if err != nil {
			for _, pc := range conns {
				pc.Close()
			}
			return reply, fmt.Errorf("flow %d: %w", i, err)
		}
		conns = append(conns, pc)
		reply.Flows = append(reply.Flows, addr)
	}
	sender, err := flowsend.New(flowsend.Config{
		Session: ss.id, Token: reply.Token, ExtID: reply.ExtID, Mode: want.Mode, SSRC: ss.ssrc,
		Conns: conns, ReportEvery: want.Report, Latency: want.Latency, Weights: want.Weights,
		Now: c.srv.cfg.Now, Logger: ss.log, OnAlive: ss.touch,
		OnKeyFrameRequest: func() { ss.keyFrameRequest(c.srv.cfg.Now()) },
	})
	if err != nil {
		for _, pc := range conns {
			pc.Close()
		}
		return reply, err
	}
	ss.media = &multiflowMedia{sender: sender}
	return reply, nil
}

// listenFlow opens flow i's socket on its path and returns the address
// the client must register with.
func (c *conn) listenFlow(mf *MultiflowConfig, i int) (net.PacketConn, netip.AddrPort, error) {
	listen, ip := c.srv.cfg.ListenPacket, localIP(c.nc)
	addr, _ := netip.AddrFromSlice(ip)
	if len(mf.Paths) > 0 {
		p := mf.Paths[i%len(mf.Paths)]
		listen, addr = p.ListenPacket, p.Addr
	}
	addr = addr.Unmap()
	pc, err := c.srv.ports.listen(listen, addr.String())
	if err != nil {
		return nil, netip.AddrPort{}, err
	}
	return pc, netip.AddrPortFrom(addr, uint16(pc.LocalAddr().(*net.UDPAddr).Port)), nil
}

// multiflowMedia sends a session's frames through its multi-flow sender,
// which also runs the per-flow RTCP.
type multiflowMedia struct {
	sender *flowsend.Sender
}

func (m *multiflowMedia) name() string { return "multiflow" }

func (m *multiflowMedia) sendFrame(h rtp.Header, u *broadcast.Unit, _ time.Time) (bool, error) {
	return m.sender.SendFrame(h, &u.Payloads, u.Captured, u.Anchor), nil
}

func (m *multiflowMedia) writeRTCP([]byte) error { return nil }

func (m *multiflowMedia) close() { m.sender.Close() }
