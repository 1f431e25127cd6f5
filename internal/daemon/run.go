package daemon

import (
	"context"
	"errors"
	"fmt"
	"image"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"time"

	"flowcam/capture"
	"flowcam/capture/file"
	"flowcam/capture/jpeg"
	"flowcam/capture/pattern"
	"flowcam/capture/v4l2"
	"flowcam/internal/buildinfo"
	"flowcam/platform/board"
	"flowcam/platform/m2m"
	"flowcam/platform/netif"
	"flowcam/stream/format/rtph264"
	"flowcam/stream/format/rtpjpeg"
	"flowcam/stream/server/broadcast"
	"flowcam/stream/server/rtspserver"
)

// shutdownGrace bounds how long a stop may take, so SIGTERM always ends
// the process within a second even if a client or device misbehaves.
const shutdownGrace = 900 * time.Millisecond

func printVersion(w io.Writer) {
	cams := "yes"
	if !v4l2.Available {
		cams = "no (needs a Linux cgo build)"
	}
	b := board.Local()
	fmt.Fprintf(w, "flowcamd %s\njpeg encoder: %s\nhardware jpeg: %s\nv4l2 cameras: %s\ncapture helpers: %s\nboard: %s\n",
		buildinfo.Read(), jpeg.Backend, probeHardware(b, slog.New(slog.DiscardHandler)), cams,
		strings.Join(helperTools(), ", "), b)
}

// newLogger logs at the level a reload may change later.
func newLogger(c LogConfig, level *slog.LevelVar, w io.Writer) *slog.Logger {
	level.Set(slog.Level(c.Level))
	opts := &slog.HandlerOptions{Level: level}
	if c.Format == LogJSON {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// Run does what the command line asks: print version or device lists, or
// serve the configured streams until ctx is cancelled. load reads the
// config again for a SIGHUP reload.
func Run(ctx context.Context, cfg *Config, load func() (*Config, error)) error {
	switch {
	case cfg.ShowVersion:
		printVersion(os.Stdout)
		return nil
	case cfg.HashUser != "":
		return hashPassword(os.Stdin, os.Stdout, os.Stderr, cfg.HashUser, cfg.Auth.Realm)
	case cfg.ListDevices:
		err := v4l2.ListDevices(os.Stdout)
		listHelperCameras(os.Stdout)
		return err
	case cfg.ListFormats != "":
		return v4l2.ListFormats(os.Stdout, cfg.ListFormats)
	case cfg.ListInterfaces:
		ifs, err := netif.List()
		if err != nil {
			return err
		}
		netif.Format(os.Stdout, ifs)
		return nil
	}
	level := new(slog.LevelVar)
	return serve(ctx, cfg, load, newLogger(cfg.Log, level, os.Stderr), level)
}

// multiflowConfig resolves the multiflow keys: modes, and the interfaces
// flows bind to (an unknown name fails with the list of those that exist).
func multiflowConfig(c MultiflowConfig) (*rtspserver.MultiflowConfig, error) {
	if !c.Enabled {
		return nil, nil
	}
	mf := &rtspserver.MultiflowConfig{MaxFlows: c.MaxFlows, Modes: c.Modes}
	if len(c.Interfaces) == 0 {
		return mf, nil
	}
	ifs, err := netif.Lookup(c.Interfaces...)
	if err != nil {
		return nil, fmt.Errorf("multiflow.interfaces: %w", err)
	}
	for _, ifc := range ifs {
		ip, ok := ifc.IPv4()
		if !ok {
			return nil, fmt.Errorf("multiflow.interfaces: %s has no IPv4 address to offer clients", ifc.Name)
		}
		mf.Paths = append(mf.Paths, rtspserver.FlowPath{Name: ifc.Name, Addr: ip, ListenPacket: netif.ListenPacket(ifc.Name)})
	}
	return mf, nil
}

func buildStream(sc StreamConfig, op opened, dev Devices, mtu int, enc *streamEncoder, tap streamTap, log *slog.Logger) (*capture.Pipeline, capture.Source, rtspserver.Stream, error) {
	pk, codec, err := packetizer(sc, op.info, mtu, dev, enc, log)
	if err != nil {
		op.feed.Close()
		return nil, nil, rtspserver.Stream{}, err
	}
	opts := append([]capture.Option{capture.WithPassthroughCheck(sendable, enc)}, tap.opts...)
	var bopts []broadcast.Option
	if tap.latency != nil {
		bopts = append(bopts, broadcast.WithLatencyObserver(tap.latency))
	}
	if enc.video != nil {
		opts = append(opts, capture.WithVideoEncoder(enc.video))
		bopts = append(bopts, broadcast.WithKeyFrameSource(enc.video))
	}
	b := broadcast.New(pk, log, bopts...)
	st := rtspserver.Stream{Path: sc.Path, Width: op.size.Width, Height: op.size.Height, FPS: op.fps, Frames: b}
	feed := op.feed
	watched := func() bool { return b.Stats().Viewers > 0 || (tap.viewers != nil && tap.viewers() > 0) }
	switch {
	case op.shared != nil:
		op.shared.watch(sc.Path, watched) // the shared source runs while any of its paths is watched
	case sc.Idle == IdleStop:
		if feed, err = onDemand(op.feed, sc, dev, op.want, watched, log); err != nil {
			return nil, nil, rtspserver.Stream{}, err
		}
	}
	sink := b.Publish
	if tap.publish != nil {
		sink = func(f *capture.Frame) { b.Publish(f); tap.publish(f) }
	}
	var frames capture.Encoder = enc
	if codec == capture.CodecH264 {
		frames = noH264Encoder{} // raw pictures (a helper's "no signal" card) have no way onto an H.264 path yet
	}
	// The feed is what status reads: with idle: stop, the source running now.
	return capture.NewPipeline(feed, frames, sink, log, opts...), feed, st, nil
}

// boardH264 is the board encoder's setup for a path. Without a bit rate
// the path gets m2m.DefaultH264's, scaled by its pixel rate: a driver's own
// default (10 Mbit/s on a Pi 4) is more than MJPEG would take.
func boardH264(sc StreamConfig, h HelperConfig) m2m.H264Config {
	bitrate := h.H264Bitrate
	if bitrate == 0 {
		const ref = 1280 * 720 * 25.0 // what DefaultH264's rate is for
		pixels := float64(sc.Size.Width*sc.Size.Height) * sc.FPS
		bitrate = max(int(float64(m2m.DefaultH264.Bitrate)*pixels/ref), 250_000)
	}
	return m2m.H264Config{Bitrate: bitrate, GOP: h.H264GOP, Profile: h.H264Profile.v4l2(), Level: h.H264Level.v4l2()}
}

// packetizer chooses what the path sends from its codec key and what the
// source gives: H.264 is passed through, never decoded; raw pictures on an
// H.264 path go through the board's H.264 encoder (enc.video), which
// flowcamd does not have in software.
func packetizer(sc StreamConfig, src capture.Source, mtu int, dev Devices, enc *streamEncoder, log *slog.Logger) (broadcast.Packetizer, capture.Codec, error) {
	have := capture.CodecOf(src)
	switch {
	case sc.Codec == CodecH264 && have != capture.CodecH264:
		v, err := openVideo(boardH264(sc, dev.Helper), log)
		if err != nil {
			return nil, have, fmt.Errorf("codec: h264: source %s gives raw pictures or JPEG, and there is no H.264 encoder for them (%v): "+
				"give an H.264 source (exec.format: h264, an H.264 file, or a camera that sends H.264), run on a board whose "+
				"V4L2 memory-to-memory H.264 encoder flowcamd can use (a Raspberry Pi 4's bcm2835-codec; the Pi 5 has none), "+
				"or use codec: mjpeg", sc.Source, err)
		}
		enc.video = v
		log.Info("H.264 encoder", "encoder", v.Name())
		pk, err := rtph264.NewPacketizer(mtu)
		return broadcast.H264(pk), capture.CodecH264, err
	case sc.Codec == CodecMJPEG && have == capture.CodecH264:
		return nil, have, fmt.Errorf("codec: mjpeg: source %s gives H.264, which flowcamd passes through and does not decode: use codec: auto or h264", sc.Source)
	case have == capture.CodecH264:
		pk, err := rtph264.NewPacketizer(mtu)
		var sets [][]byte
		if ps, ok := src.(interface{ ParameterSets() [][]byte }); ok {
			sets = ps.ParameterSets()
		}
		return broadcast.H264(pk, sets...), have, err
	}
	pk, err := rtpjpeg.NewPacketizer(mtu)
	return broadcast.JPEG(pk), have, err
}

// noH264Encoder refuses raw pictures on an H.264 path; the pipeline drops
// and counts them.
type noH264Encoder struct{}

func (noH264Encoder) Encode([]byte, *image.YCbCr) ([]byte, error) {
	return nil, errors.New("raw picture on an H.264 path: flowcamd has no H.264 encoder for it")
}

func (noH264Encoder) Transcode([]byte, []byte) ([]byte, error) {
	return nil, errors.New("JPEG picture on an H.264 path")
}

// buildSource opens the stream's frame source and says what size and
// rate it delivers.
//
// want says what a camera must give its paths (v4l2.Want).
func buildSource(sc StreamConfig, dev Devices, want v4l2.Want, log *slog.Logger) (capture.Source, capture.Size, float64, error) {
	cam := dev.V4L2
	switch {
	case isHelperSource(sc.Source):
		src, err := helperSource(sc, dev, log)
		if err != nil {
			return nil, capture.Size{}, 0, err
		}
		return src, sc.Size, sc.FPS, nil
	case sc.Source == "pattern":
		src, err := pattern.New(sc.Size, sc.FPS)
		return src, sc.Size, sc.FPS, err
	case strings.HasPrefix(sc.Source, "/dev/"):
		format := v4l2.FourCC(cam.PixelFormat)
		if sc.Encoder == EncoderPassthrough && format == 0 {
			format = v4l2.MJPEG // the camera's own JPEG or nothing
		}
		ctls, err := cam.Controls.Parse()
		if err != nil {
			return nil, capture.Size{}, 0, err
		}
		src, err := v4l2.New(v4l2.Config{Device: sc.Source, Request: v4l2.Request{Size: sc.Size, FPS: sc.FPS, Format: format, Want: want},
			Buffers: cam.Buffers, Watchdog: cam.Watchdog, Controls: ctls, Logger: log})
		return src, sc.Size, sc.FPS, err
	}
	src, err := file.New(file.Config{Path: sc.Source, Loop: sc.Loop, Rate: sc.Rate, Size: sc.Size, FPS: sc.FPS, Logger: log})
	if err != nil {
		return nil, capture.Size{}, 0, err
	}
	return src, src.Size(), src.FPS(), nil
}

// sendable reports why a source's own JPEG cannot go out as RTP/JPEG
// (RFC 2435): damage (the pipeline drops the frame), or a form the
// pipeline re-encodes.
func sendable(data []byte) error {
	var pic rtpjpeg.Picture
	err := rtpjpeg.Parse(data, &pic)
	if errors.Is(err, rtpjpeg.ErrMalformed) {
		return fmt.Errorf("%w: %v", capture.ErrCorrupt, err)
	}
	return err
}

// streamURLs lists addresses a viewer can use: the listen address, or
// every local IPv4 address when listening on all of them.
func streamURLs(addr *net.TCPAddr, path string) []string {
	hosts := []string{addr.IP.String()}
	if addr.IP.IsUnspecified() {
		hosts = []string{"127.0.0.1"}
		if ifaddrs, err := net.InterfaceAddrs(); err == nil {
			for _, a := range ifaddrs {
				if ip, ok := a.(*net.IPNet); ok && ip.IP.To4() != nil && !ip.IP.IsLoopback() {
					hosts = append(hosts, ip.IP.String())
				}
			}
		}
	}
	var out []string
	for _, h := range hosts {
		out = append(out, fmt.Sprintf("rtsp://%s%s", net.JoinHostPort(h, fmt.Sprint(addr.Port)), path))
	}
	return out
}

// idleGrace is how long a source runs on after its last viewer left: a
// player reconnecting, or a page reloading, should not restart a camera.
const idleGrace = 5 * time.Second

// onDemand runs the stream's source only while someone watches; first is
// the source already opened at start, reopened sources are built alike.
func onDemand(first capture.Source, sc StreamConfig, dev Devices, want v4l2.Want, watched func() bool, log *slog.Logger) (capture.Source, error) {
	open := func() (capture.Source, error) {
		if s := first; s != nil {
			first = nil
			return s, nil
		}
		s, _, _, err := buildSource(sc, dev, want, log)
		return s, err
	}
	return capture.NewOnDemand(open, watched, idleGrace, log)
}
