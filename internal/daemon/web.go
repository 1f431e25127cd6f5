package daemon

import (
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync/atomic"
	"time"

	"flowcam/capture"
	"flowcam/capture/jpeg"
	"flowcam/internal/buildinfo"
	"flowcam/platform/board"
	"flowcam/stream/server/publish"
	"flowcam/stream/server/rtspserver"
	"flowcam/stream/server/web"
)

// webSide is the daemon's HTTP server and what it reads of the daemon.
// HTTP goroutines never touch d.streams (the main loop owns it): they read
// an immutable view of the paths that the main loop swaps in after every
// change, and live counters through it.
type webSide struct {
	log    *slog.Logger
	hub    *web.Hub
	srv    *web.Server
	rtsp   *rtspserver.Server // set before serving starts, never changed
	addr   *net.TCPAddr       // where HTTP listens, likewise
	static web.Status         // version, board, start time
	view   atomic.Pointer[[]pathView]
	done   chan struct{}
}

// pathView is one served path as HTTP sees it.
type pathView struct {
	spec    streamSpec
	stream  rtspserver.Stream
	pipe    *capture.Pipeline
	src     capture.Source
	encoder string
	pubs    []*publish.Publisher
	rec     *pathRecorder
}

// reconnecter is a source that reopens a device (v4l2.Source).
type reconnecter interface{ Reconnects() uint64 }

// corrupter is a source that counts the damaged input it skipped.
type corrupter interface{ Corrupt() uint64 }

// problemer is a source that can say why it keeps failing (capture helpers).
type problemer interface{ Problem() string }

// streamTap is what the HTTP side adds to a path's pipeline: a copy of
// every frame for MJPEG and snapshots, and the encode-time histogram.
type streamTap struct {
	publish func(*capture.Frame)
	opts    []capture.Option
	viewers func() int          // MJPEG viewers of the path
	latency func(time.Duration) // capture-to-wire observer; nil without HTTP
}

// with adds a local recording to the tap: it gets every frame, and keeps
// a source with idle: stop running, as a viewer would.
func (t streamTap) with(rec *pathRecorder) streamTap {
	if rec == nil {
		return t
	}
	pub, views := t.publish, t.viewers
	t.publish = func(f *capture.Frame) {
		if pub != nil {
			pub(f)
		}
		rec.publish(f)
	}
	t.viewers = func() int {
		if views == nil {
			return 1
		}
		return 1 + views()
	}
	return t
}

// newWebSide prepares HTTP, or returns nil when http.addr is empty. It
// exists before any stream starts, so every pipeline is tapped. opts are
// the server's, such as web.WithAuth.
func newWebSide(cfg *Config, b board.Info, hw hardware, started time.Time, log *slog.Logger, opts ...web.Option) *webSide {
	if cfg.HTTP.Addr == "" {
		return nil
	}
	w := &webSide{log: log, hub: web.NewHub(), done: make(chan struct{}), static: web.Status{
		Version: buildinfo.Version(), Build: buildinfo.Read().String(), Board: b.String(),
		Encoder: hw.String(), Helpers: strings.Join(helperTools(), ", "), Started: started,
	}}
	opts = append([]web.Option{web.WithMaxViewers(cfg.HTTP.MaxViewers), web.WithWriteTimeout(cfg.HTTP.WriteTimeout)}, opts...)
	w.srv = web.New(web.StatusFunc(w.status), w.hub, log, opts...)
	return w
}

// tap returns the path's tap; none without HTTP.
func (w *webSide) tap(path string) streamTap {
	if w == nil {
		return streamTap{}
	}
	return streamTap{
		publish: func(f *capture.Frame) { w.hub.Publish(path, f) },
		viewers: func() int { return w.hub.Viewers(path) },
		latency: w.srv.LatencyObserver(path),
		opts:    []capture.Option{capture.WithEncodeObserver(w.srv.EncodeObserver(path))},
	}
}

// listen opens http.addr and starts serving; the daemon's streams and
// RTSP server are up by then.
func (w *webSide) listen(d *daemon) error {
	if w == nil {
		return nil
	}
	ln, err := net.Listen("tcp", d.cfg.HTTP.Addr)
	if err != nil {
		return fmt.Errorf("http.addr %s: %w", d.cfg.HTTP.Addr, err)
	}
	w.rtsp = d.srv
	w.addr = ln.Addr().(*net.TCPAddr)
	w.refresh(d)
	w.log.Info("http listening", "addr", ln.Addr().String())
	go func() {
		defer close(w.done)
		if err := w.srv.Serve(ln); err != nil {
			w.log.Error("http server stopped", "err", err)
		}
	}()
	return nil
}

// port is the HTTP port, once listening; 0 without HTTP.
func (w *webSide) port() int {
	if w == nil || w.addr == nil {
		return 0
	}
	return w.addr.Port
}

// close ends every HTTP response, MJPEG viewers included.
func (w *webSide) close() {
	if w == nil || w.rtsp == nil {
		return
	}
	w.srv.Close()
	<-w.done
}

// refresh swaps in the current paths, in config order (the first one is
// what /stream.mjpg shows by default), and forgets removed ones. Called by
// the main loop only.
func (w *webSide) refresh(d *daemon) {
	if w == nil {
		return
	}
	var next []pathView
	for _, sc := range d.cfg.Streams {
		if r, ok := d.streams[sc.Path]; ok {
			next = append(next, pathView{spec: r.spec, stream: r.stream, pipe: r.pipe, src: r.src,
				encoder: encoderName(sc, d.hw), pubs: r.pubs, rec: r.rec})
		}
	}
	if old := w.view.Swap(&next); old != nil {
		for _, p := range *old {
			if _, ok := d.streams[p.spec.Path]; !ok {
				w.srv.Forget(p.spec.Path)
			}
		}
	}
}

// encoderName says what makes a path's JPEG, as configured; the page's
// encoded/passthrough/transcoded counts tell what actually happened.
func encoderName(sc StreamConfig, hw hardware) string {
	switch {
	case sc.Encoder == EncoderPassthrough:
		return string(EncoderPassthrough)
	case sc.Encoder == EncoderLibjpeg || hw.open == nil:
		return string(sc.Encoder) + ": " + jpeg.Backend
	}
	return string(sc.Encoder) + ": " + hw.name
}

// status is the web.StatusSource: the view plus live counters.
func (w *webSide) status() web.Status {
	st := w.static
	view := w.view.Load()
	if view == nil {
		return st
	}
	for _, p := range *view {
		st.Paths = append(st.Paths, pathStatus(p))
	}
	previews(st.Paths, *view)
	if w.rtsp != nil {
		names := interfaceNames{}
		for _, in := range w.rtsp.Sessions() {
			st.Sessions = append(st.Sessions, sessionStatus(in, names))
		}
	}
	return st
}

func pathStatus(p pathView) web.PathStatus {
	bs := p.stream.Frames.Stats()
	ps := web.PathStatus{Path: p.spec.Path, Source: p.spec.Source, Encoder: p.encoder, Codec: p.stream.Frames.Media().Codec,
		Bitrate: bs.Bitrate, Bytes: bs.Bytes, Width: p.stream.Width, Height: p.stream.Height, FPS: p.stream.FPS,
		Alive: p.pipe.Alive(aliveWindow(p.stream.FPS)), Pipeline: p.pipe.Stats(), RTSPViewers: bs.Viewers}
	for _, pub := range p.pubs {
		if pub.Viewing() {
			ps.RTSPViewers-- // a hub is not an RTSP viewer of ours
		}
		s := pub.Status()
		ps.Publish = append(ps.Publish, web.PublishStatus{Target: s.Target, State: string(s.State), Bytes: s.Bytes, Reconnects: s.Reconnects, Error: s.Error})
	}
	if p.rec != nil {
		ps.Recording = p.rec.status()
	}
	src := p.src
	if br, ok := src.(interface{ Shared() capture.Source }); ok {
		src = br.Shared()
	}
	if od, ok := src.(*capture.OnDemand); ok {
		src = od.Current()
	}
	if rc, ok := src.(reconnecter); ok {
		n := rc.Reconnects()
		ps.Reconnects = &n
	}
	if pr, ok := src.(problemer); ok {
		ps.Problem = pr.Problem()
	}
	if c, ok := src.(corrupter); ok {
		n := c.Corrupt()
		ps.Corrupt = &n
	}
	return ps
}

// previews gives each H.264 path that shares its capture with an MJPEG
// path that path's pictures for the page and snapshots.
func previews(paths []web.PathStatus, view []pathView) {
	mjpeg := map[string]bool{}
	for _, p := range paths {
		mjpeg[p.Path] = p.Codec == string(capture.CodecJPEG)
	}
	for i, v := range view {
		if paths[i].Codec != string(capture.CodecH264) || v.spec.shared == "" {
			continue
		}
		for _, sib := range strings.Split(v.spec.shared, ",") {
			if mjpeg[sib] {
				paths[i].Preview = sib
				break
			}
		}
	}
}

// aliveWindow is how long a path may go without a frame before /healthz
// calls it stalled: three frame periods, and never less than two seconds,
// which covers a camera's watchdog reopening it (its "no signal" frames
// keep coming meanwhile).
func aliveWindow(fps float64) time.Duration {
	w := 2 * time.Second
	if fps > 0 {
		w = max(w, time.Duration(3*float64(time.Second)/fps))
	}
	return w
}

func sessionStatus(in rtspserver.SessionInfo, names interfaceNames) web.SessionStatus {
	ss := web.SessionStatus{ID: in.ID, Path: in.Path, Transport: in.Transport, Client: in.Client,
		Playing: in.Playing, Frames: in.Frames, Packets: in.Packets, Bytes: in.Octets, Dropped: in.Dropped,
		Skipped: in.Skipped, FractionLost: in.FractionLost, TotalLost: in.TotalLost, RTT: in.RTT,
		Jitter: time.Duration(in.Jitter) * time.Second / 90000} // RTP/JPEG's 90 kHz clock
	if r := in.Rate; r != nil {
		ss.Rate = &web.RateStatus{SentFraction: r.SentFraction, Reason: r.Reason, StreamBps: r.StreamBps,
			CapacityBps: r.CapacityBps}
	}
	if mf := in.Multiflow; mf != nil {
		ss.Mode = mf.Mode.String()
		if mf.Static {
			ss.Mode += " (static weights)"
		}
		for _, f := range mf.Flows {
			ss.Flows = append(ss.Flows, web.FlowStatus{Index: f.Flow, Interface: names.of(f.Local),
				Local: f.Local, Client: f.Client, Usable: f.Usable, Packets: f.Packets, Bytes: f.Bytes,
				Loss: f.Loss, RTT: f.RTT, Jitter: f.Jitter, RateBps: f.RateBps, Capacity: f.Capacity,
				Queue: f.QueueDelay, Limit: f.Limit})
		}
	}
	return ss
}

// interfaceNames maps a flow's local address to its interface, reading the
// interface list once per status snapshot and only if a flow asks.
type interfaceNames map[string]string

func (n interfaceNames) of(local string) string {
	host, _, err := net.SplitHostPort(local)
	if err != nil {
		return ""
	}
	if len(n) == 0 {
		n[""] = "" // read once, even when nothing matches
		ifs, _ := net.Interfaces()
		for _, ifc := range ifs {
			addrs, _ := ifc.Addrs()
			for _, a := range addrs {
				if ipn, ok := a.(*net.IPNet); ok {
					n[ipn.IP.String()] = ifc.Name
				}
			}
		}
	}
	return n[host]
}
