// Package relay serves a pulled stream again over plain RTSP: the frames
// the play-out releases go, at their play-out time, into a broadcaster
// that flowcamd's own RTSP server serves to any player or NVR, over UDP or
// TCP, one copy for all viewers. A bonded link's far end so feeds tools
// that speak only RTSP.
package relay

import (
	"bytes"
	"errors"
	"fmt"
	"image/jpeg"
	"log/slog"
	"net"
	"sync"
	"time"

	"flowcam/capture"
	"flowcam/capture/h264"
	"flowcam/stream/client/playout"
	"flowcam/stream/client/rtspclient"
	"flowcam/stream/format/multiflow"
	"flowcam/stream/format/rtph264"
	"flowcam/stream/format/rtpjpeg"
	"flowcam/stream/server/broadcast"
	"flowcam/stream/server/rtspserver"
)

// Config describes a relay.
type Config struct {
	Addr   string            // listen address, e.g. ":8554"
	Path   string            // the path it serves; "/cam" when empty
	Server rtspserver.Config // sessions, limits, auth: as flowcamd's
	Logger *slog.Logger
	Now    func() time.Time
}

// ErrListen marks an address the relay cannot listen on.
var ErrListen = errors.New("relay")

// Relay is a pull's sink that serves what it plays.
type Relay struct {
	cfg Config
	srv *rtspserver.Server
	ln  net.Listener

	mu   sync.Mutex
	desc *rtspclient.Description
	b    *broadcast.Broadcaster // nil until the first frame says what to serve

	first   uint32 // RTP timestamp of the first frame
	ext     int64  // the newest frame's timestamp from first, unwrapped
	last    uint32
	started bool
	seq     uint64
}

// Listen starts serving at cfg.Addr; the path appears with the first frame.
func Listen(cfg Config) (*Relay, error) {
	if cfg.Path == "" {
		cfg.Path = "/cam"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	cfg.Server.Logger = cfg.Logger.With("component", "rtsp")
	srv, err := rtspserver.New(cfg.Server)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("%w: --rtsp-addr %s: %v", ErrListen, cfg.Addr, err)
	}
	r := &Relay{cfg: cfg, srv: srv, ln: ln}
	go srv.Serve(ln)
	cfg.Logger.Info("relay listening", "url", r.URL())
	return r, nil
}

// URL is where players find the relayed stream.
func (r *Relay) URL() string { return "rtsp://" + r.ln.Addr().String() + r.cfg.Path }

// Describe takes the pulled stream's description: codec, size, rate and
// H.264 parameter sets for the relayed one.
func (r *Relay) Describe(d *rtspclient.Description) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.desc = d
}

// WriteFrame serves one played-out frame, now, keeping its place on the
// RTP clock.
func (r *Relay) WriteFrame(f *playout.Frame) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.b == nil {
		if err := r.serve(f); err != nil {
			r.cfg.Logger.Warn("relay: frame not served", "err", err)
			return nil
		}
	}
	if !r.started {
		r.first, r.last, r.started = f.Timestamp, f.Timestamp, true
	}
	r.ext += int64(int32(f.Timestamp - r.last))
	r.last = f.Timestamp
	cf := &capture.Frame{Key: f.Key, Captured: r.cfg.Now(), Seq: r.seq, PTS: pts(r.ext)}
	r.seq++
	if r.desc.Codec == "h264" {
		cf.H264 = h264.SplitAnnexB(nil, f.Data)
	} else {
		cf.JPEG = f.Data
	}
	r.b.Publish(cf)
	return nil
}

// pts is ticks of the 90 kHz clock as a duration the broadcaster turns
// back into exactly those ticks, modulo 2^32: RTP timestamps wrap there
// anyway, and a day's worth of ticks in nanoseconds would overflow.
func pts(ticks int64) time.Duration {
	m := ticks & (1<<32 - 1)
	return time.Duration((m*int64(time.Second) + rtph264.ClockRate - 1) / rtph264.ClockRate)
}

// serve registers the path at the first frame, which gives the size when
// the description does not.
func (r *Relay) serve(f *playout.Frame) error {
	d := r.desc
	if d == nil {
		d = &rtspclient.Description{Codec: "mjpeg"}
		r.desc = d
	}
	width, height, err := size(d, f)
	if err != nil {
		return err
	}
	var pk broadcast.Packetizer
	mtu := rtpjpeg.DefaultMTU - multiflow.ExtensionOverhead
	if d.Codec == "h264" {
		p, err := rtph264.NewPacketizer(mtu)
		if err != nil {
			return err
		}
		var sets [][]byte
		if d.SPS != nil && d.PPS != nil {
			sets = [][]byte{d.SPS, d.PPS}
		}
		pk = broadcast.H264(p, sets...)
	} else {
		p, err := rtpjpeg.NewPacketizer(mtu)
		if err != nil {
			return err
		}
		pk = broadcast.JPEG(p)
	}
	b := broadcast.New(pk, r.cfg.Logger)
	st := rtspserver.Stream{Path: r.cfg.Path, Width: width, Height: height, FPS: d.FPS, Frames: b}
	if err := r.srv.SetStreams(st); err != nil {
		return err
	}
	r.b = b
	r.cfg.Logger.Info("relay serving", "url", r.URL(), "codec", d.Codec, "width", width, "height", height, "fps", d.FPS)
	return nil
}

// size is the stream's picture size: the description's, or the frame's.
func size(d *rtspclient.Description, f *playout.Frame) (int, int, error) {
	if d.Width > 0 && d.Height > 0 {
		return d.Width, d.Height, nil
	}
	if d.Codec == "h264" {
		sps := d.SPS
		if s := h264.ParameterSet(h264.SplitAnnexB(nil, f.Data), h264.TypeSPS); s != nil {
			sps = s
		}
		return h264.PictureSize(sps)
	}
	cfg, err := jpeg.DecodeConfig(bytes.NewReader(f.Data))
	return cfg.Width, cfg.Height, err
}

// Close stops serving; its viewers' sessions end.
func (r *Relay) Close() error { return r.srv.Close() }
