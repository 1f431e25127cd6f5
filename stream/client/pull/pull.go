// Package pull is the companion client's engine: it sets a stream up
// (multi-flow, or plain RTSP over UDP or TCP), runs every packet through the
// play-out buffer, hands frames to a sink at their play-out time, and
// reports what happened on each path.
package pull

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"time"

	"flowcam/stream/client/flowrecv"

	"flowcam/stream/client/playout"
	"flowcam/stream/client/rtspclient"
	"flowcam/stream/format/multiflow"
)

// Path is a client-side network path flows may use.
type Path struct {
	Name     string         // interface name
	Prefixes []netip.Prefix // its addresses, to match flows to paths by subnet
	// ListenPacket opens a socket bound to this path.
	ListenPacket func(network, address string) (net.PacketConn, error)
}

// Transport is how a plain (single-flow) pull carries media.
type Transport string

const (
	UDP Transport = "udp" // RTP/AVP over UDP: lowest latency, adapts to the path
	TCP Transport = "tcp" // interleaved in the RTSP connection: through firewalls
)

// UnmarshalText accepts udp or tcp, so a bad value is refused where it is
// read; "" is UDP.
func (t *Transport) UnmarshalText(b []byte) error {
	switch v := Transport(b); v {
	case UDP, TCP:
		*t = v
	case "":
		*t = UDP
	default:
		return fmt.Errorf("%q: accepted values are udp, tcp", b)
	}
	return nil
}

// MarshalText writes the transport's name.
func (t Transport) MarshalText() ([]byte, error) { return []byte(t), nil }

// Config describes one pull.
type Config struct {
	URL       string
	Flows     int            // flows to ask for; more than one (or Via or Mode) means multi-flow
	Via       []Path         // client paths, used by subnet or in turn
	Mode      multiflow.Mode // with ModeSet, the mode to ask for
	ModeSet   bool
	Transport Transport // plain RTSP: UDP (the default) or TCP
	// Latency is the play-out delay's maximum (adaptive) or the delay
	// itself (FixedLatency); playout.DefaultLatency when 0.
	Latency      time.Duration
	FixedLatency bool
	// Weights fix the flows' shares in stripe mode (the static baseline).
	Weights  []float64
	Duration time.Duration // stop after this long; 0 runs until ctx ends
	Logger   *slog.Logger
}

// Sink receives frames in play-out order at their play-out time.
type Sink interface {
	WriteFrame(f *playout.Frame) error
}

// Describer is a sink that wants the stream's description (codec, size,
// rate, parameter sets) before the first frame: a relay serving it again.
type Describer interface {
	Describe(d *rtspclient.Description)
}

// multiflowWanted reports whether the user asked for multi-flow.
func (c *Config) multiflowWanted() bool {
	return c.Flows > 1 || len(c.Via) > 0 || c.ModeSet || len(c.Weights) > 0
}

// source is where packets come from once the stream plays.
type source interface {
	packets() <-chan flowrecv.Packet
	senderReport() *flowrecv.SenderReport
	notice() *multiflow.RateNotice // the server's newest rate notice, or nil
	flowStats() []flowrecv.FlowStats
	pathNames() []string // interface of each flow, "" when unbound
	requestKeyFrame(now time.Time)
	close()
}

// Run pulls until the duration elapses, ctx ends or the server goes away,
// calling status about once a second. It returns the final report.
func Run(ctx context.Context, cfg Config, sink Sink, status func(Snapshot)) (*Report, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if cfg.Duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, cfg.Duration)
		defer cancel()
	}
	c, err := rtspclient.Dial(ctx, cfg.URL, rtspclient.Options{Logger: cfg.Logger})
	if err != nil {
		return nil, err
	}
	defer c.Close()
	c.Options(ctx) // only to learn the keep-alive method; optional for servers
	desc, err := c.Describe(ctx)
	if err != nil {
		return nil, err
	}
	if ds, ok := sink.(Describer); ok {
		ds.Describe(desc)
	}
	rep := newReport(cfg, desc)
	src, err := setup(ctx, c, desc, &cfg, rep)
	if err != nil {
		return nil, err
	}
	defer src.close()
	if _, err := c.Play(ctx, desc); err != nil {
		return nil, err
	}
	kctx, stopKeepAlive := context.WithCancel(ctx)
	defer stopKeepAlive()
	go c.KeepAlive(kctx)
	p := newPlayer(src, sink, cfg, desc, rep)
	err = p.run(ctx.Done(), c.Done(), status)
	stopped := time.Now()
	stopKeepAlive()
	// Stop the server first; what is already in flight still arrives
	// during the drain. Frames are judged as of the stop: one the server
	// was still sending then was cut short by it, not lost.
	tctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if c.Teardown(tctx) == nil {
		p.drain(p.buf.Latency() + 100*time.Millisecond)
	}
	p.finish(stopped)
	return rep, err
}

// setup negotiates the transport and opens its sockets.
func setup(ctx context.Context, c *rtspclient.Client, d *rtspclient.Description, cfg *Config, rep *Report) (source, error) {
	if cfg.multiflowWanted() {
		src, err := setupMultiflow(ctx, c, d, cfg)
		if err == nil {
			rep.Transport, rep.Mode = "multiflow", src.mode.String()
			return src, nil
		}
		if !errors.Is(err, rtspclient.ErrNoMultiflow) {
			return nil, err
		}
		cfg.Logger.Warn("server has no multi-flow: pulling one plain flow", "reason", err)
		rep.Fallback = err.Error()
	}
	if cfg.Transport == TCP {
		rep.Transport = "tcp"
		return setupTCP(ctx, c, d)
	}
	rep.Transport = "udp"
	return setupUDP(ctx, c, d, cfg)
}

// ErrNoServerAddress means the control connection's peer is not an IP.
var ErrNoServerAddress = errors.New("pull: cannot tell the server's address")

func serverAddr(c *rtspclient.Client) (netip.Addr, error) {
	ta, ok := c.RemoteAddr().(*net.TCPAddr)
	if !ok {
		return netip.Addr{}, ErrNoServerAddress
	}
	a, _ := netip.AddrFromSlice(ta.IP)
	return a.Unmap(), nil
}

// latency is the play-out delay's maximum (or the fixed delay).
func (c *Config) latency() time.Duration {
	if c.Latency > 0 {
		return c.Latency
	}
	return playout.DefaultLatency
}

func errorf(format string, args ...any) error { return fmt.Errorf("pull: "+format, args...) }
