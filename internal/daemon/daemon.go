package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"reflect"
	"sort"
	"strings"
	"syscall"
	"time"

	"flowcam/capture"
	"flowcam/capture/v4l2"
	"flowcam/internal/buildinfo"
	"flowcam/platform/board"
	"flowcam/platform/sdnotify"
	"flowcam/stream/format/multiflow"
	"flowcam/stream/server/publish"
	"flowcam/stream/server/rtspserver"
	"flowcam/stream/server/web"
)

// daemon is a running flowcamd: one RTSP server and a pipeline per path.
// Its config is replaced whole on SIGHUP; only the paths whose settings
// changed are restarted.
type daemon struct {
	log    *slog.Logger
	level  *slog.LevelVar
	notify *sdnotify.Notifier
	hw     hardware
	mtu    int

	cfg     *Config
	srv     *rtspserver.Server
	streams map[string]*running // by path
	// captures are the sources paths share, by captureKey; an entry whose
	// tee has closed is replaced when a path opens it again.
	captures map[string]*sharedCapture
	access   *access
	web      *webSide // nil without HTTP
	onvif    *onvifSide
	rtspAddr *net.TCPAddr // where RTSP listens, once it does

	lastStatus string // the STATUS= line last sent
}

// running is one served path: its settings, and the pipeline feeding it.
type running struct {
	spec   streamSpec
	stream rtspserver.Stream
	pipe   *capture.Pipeline
	src    capture.Source
	enc    *streamEncoder
	cancel context.CancelFunc
	done   chan struct{}
	teed   bool // reads a shared capture's tee
	pubs   []*publish.Publisher
	rec    *pathRecorder // nil: not recorded
}

// keeps reports whether r can go on serving sp: the same settings, and a
// tee to read when sp shares its capture. A path that owns its source must
// give it up for the tee a new sibling brings; one already on a tee stays
// on it as siblings join and leave.
func (r *running) keeps(sp streamSpec) bool {
	return sp.equal(r.spec) && (sp.shared == "" || r.teed)
}

// streamSpec is what a path's pipeline is built from: its stream keys,
// plus the v4l2 section for cameras. Equal specs mean a reload leaves the
// path alone.
type streamSpec struct {
	StreamConfig
	devices *Devices
	shared  string    // the paths sharing its capture, comma-separated; "" when alone
	want    v4l2.Want // what a camera must give the paths of its capture
}

func (c *Config) specs() []streamSpec {
	out := make([]streamSpec, len(c.Streams))
	for i, sc := range c.Streams {
		out[i].StreamConfig = sc
		if strings.HasPrefix(sc.Source, "/dev/") || isHelperSource(sc.Source) {
			dev := c.devices()
			out[i].devices = &dev
		}
	}
	group(out)
	return out
}

// equal reports whether the settings of two specs match. Who shares the
// capture is left out: a path reading a tee keeps reading it as siblings
// come and go (see running.keeps).
func (s streamSpec) equal(o streamSpec) bool {
	return reflect.DeepEqual(s.StreamConfig, o.StreamConfig) && s.want == o.want && reflect.DeepEqual(s.devices, o.devices)
}

// serve runs the daemon until ctx ends: start, then reloads on SIGHUP.
func serve(ctx context.Context, cfg *Config, load func() (*Config, error), log *slog.Logger, level *slog.LevelVar) error {
	start := time.Now()
	// Catch SIGHUP before anything listens: a reload sent as soon as the
	// ports answer must not hit the default action, which ends the process.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	b := board.Local()
	log.Info("flowcamd starting", "build", buildinfo.Read().String(), "board", b.String())
	notify, err := sdnotify.FromEnv()
	if err != nil {
		log.Warn("systemd notification disabled", "err", err)
	}
	defer notify.Close()
	d := &daemon{log: log, level: level, notify: notify, cfg: cfg, streams: map[string]*running{}, captures: map[string]*sharedCapture{}}
	d.hw = probeHardware(b, log.With("component", "m2m"))
	log.Info("hardware JPEG encoder", "encoder", d.hw.String())
	if d.access, err = newAccess(cfg, log.With("component", "auth")); err != nil {
		return err
	}
	d.onvif = d.newONVIF(cfg, b)
	opts := append([]web.Option{web.WithAuth(d.httpAuth, cfg.HTTP.Public...),
		web.WithTunnel(http.HandlerFunc(d.tunnel), rtspserver.IsTunnel)}, d.onvif.routes()...)
	d.web = newWebSide(cfg, b, d.hw, start, log.With("component", "http"), opts...)
	ln, err := d.start()
	if err != nil {
		return err
	}
	if err := d.web.listen(d); err != nil {
		ln.Close()
		return d.shutdown(err)
	}
	d.onvif.discover(cfg, d.web.port())
	served := make(chan error, 1)
	go func() { served <- d.srv.Serve(ln) }()
	notify.Ready()
	d.status()
	log.Info("ready", "startup", time.Since(start).Round(time.Millisecond).String())

	// One goroutine owns the streams: reloads and watchdog pings take turns.
	tick := time.NewTicker(d.pingEvery())
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return d.shutdown(nil)
		case err := <-served:
			return d.shutdown(err)
		case <-hup:
			d.reload(load)
			d.web.refresh(d)
		case <-tick.C:
			d.ping()
		}
	}
}

// tunnel hands RTSP over HTTP from the HTTP port to the RTSP server,
// which exists before HTTP listens.
func (d *daemon) tunnel(w http.ResponseWriter, r *http.Request) {
	d.srv.TunnelHandler().ServeHTTP(w, r)
}

// start builds every stream and the server, and listens.
func (d *daemon) start() (net.Listener, error) {
	mf, err := multiflowConfig(d.cfg.Multiflow)
	if err != nil {
		return nil, err
	}
	d.mtu = d.cfg.RTSP.MTU
	if mf != nil {
		d.mtu -= multiflow.ExtensionOverhead // room for the flow header extension
	}
	specs := d.cfg.specs()
	for _, sp := range specs {
		r, err := d.startStream(sp)
		if err != nil && len(specs) == 1 {
			return nil, fmt.Errorf("stream %s: %w", sp.Path, err)
		}
		if err != nil {
			// One bad file must not take the other paths down.
			d.log.Error("stream left out", "path", sp.Path, "err", err)
			continue
		}
		d.streams[sp.Path] = r
	}
	if len(d.streams) == 0 {
		return nil, errors.New("no stream could start (see the errors above)")
	}
	d.srv, err = rtspserver.New(rtspserver.Config{
		SessionTimeout:   d.cfg.RTSP.SessionTimeout,
		RTCPInterval:     d.cfg.RTSP.RTCPInterval,
		WriteTimeout:     d.cfg.RTSP.WriteTimeout,
		QueueDepth:       d.cfg.RTSP.QueueFrames,
		KeyFrameInterval: d.cfg.RTSP.KeyFrameInterval,
		ServerName:       "flowcam/" + buildinfo.Version(),
		Logger:           d.log.With("component", "rtsp"),
		Multiflow:        mf,
		Multicast:        d.cfg.RTSP.multicast(),
		Auth:             d.access,
		Guard:            d.cfg.RTSP.guard(),
		Limits:           d.cfg.RTSP.limits(),
	}, d.served()...)
	if err != nil {
		d.stopStreams()
		return nil, err
	}
	ln, err := net.Listen("tcp", d.cfg.RTSP.Addr)
	if err != nil {
		d.srv.Close()
		d.stopStreams()
		return nil, fmt.Errorf("rtsp.addr %s: %w", d.cfg.RTSP.Addr, err)
	}
	d.rtspAddr = ln.Addr().(*net.TCPAddr)
	d.log.Info("rtsp listening", "addr", ln.Addr().String(), "users", len(d.cfg.Auth.Users))
	if _, err := d.listenRTSPS(); err != nil {
		ln.Close()
		d.srv.Close()
		d.stopStreams()
		return nil, err
	}
	for _, st := range d.served() {
		for _, u := range streamURLs(ln.Addr().(*net.TCPAddr), st.Path) {
			d.log.Info("serving", "path", st.Path, "url", u, "size", fmt.Sprintf("%dx%d", st.Width, st.Height), "fps", st.FPS, "codec", st.Frames.Media().Codec)
		}
	}
	return ln, nil
}

// startStream builds a path's pipeline and starts capturing.
func (d *daemon) startStream(sp streamSpec) (*running, error) {
	log := d.log.With("path", sp.Path)
	enc, err := newStreamEncoder(sp.StreamConfig, d.hw, log)
	if err != nil {
		return nil, err
	}
	var rec *pathRecorder
	if sp.Record.Enabled {
		if rec, err = startRecorder(sp.Record, log); err != nil {
			enc.Close()
			return nil, err
		}
	}
	op, err := d.openSource(sp, log)
	if err != nil {
		enc.Close()
		rec.close()
		return nil, err
	}
	pipe, src, st, err := buildStream(sp.StreamConfig, op, d.cfg.devices(), d.mtu, enc, d.web.tap(sp.Path).with(rec), log)
	if err != nil {
		enc.Close()
		rec.close()
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{spec: sp, stream: st, pipe: pipe, src: src, enc: enc, cancel: cancel, done: make(chan struct{}), teed: op.shared != nil, rec: rec}
	go func() {
		defer close(r.done)
		pipe.Run(ctx)
		enc.Close()
		if op.shared != nil {
			op.shared.watch(sp.Path, nil)
		}
	}()
	for _, t := range sp.Publish {
		r.pubs = append(r.pubs, publish.Start(st.Frames, t, publish.Options{Logger: log}))
	}
	return r, nil
}

// stop ends the path: its publishers, then the pipeline, then the
// recording, which takes frames until the pipeline has stopped.
func (r *running) stop() {
	for _, p := range r.pubs {
		p.Close()
	}
	r.cancel()
	<-r.done
	r.rec.close()
}

// served lists the streams in path order, for the server.
func (d *daemon) served() []rtspserver.Stream {
	out := make([]rtspserver.Stream, 0, len(d.streams))
	for _, r := range d.streams {
		out = append(out, r.stream)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out
}

// stopStreams stops every pipeline at once, so shutdown takes as long as
// the slowest one rather than their sum.
func (d *daemon) stopStreams() {
	all := make([]*running, 0, len(d.streams))
	for _, r := range d.streams {
		all = append(all, r)
	}
	stopAll(all)
}

// shutdown stops serving within shutdownGrace, whatever clients and
// devices do.
func (d *daemon) shutdown(err error) error {
	d.log.Info("flowcamd stopping")
	d.notify.Stopping()
	stopped := make(chan struct{})
	go func() {
		d.onvif.close()
		d.web.close()
		d.srv.Close()
		d.stopStreams()
		close(stopped)
	}()
	select {
	case <-stopped:
		d.log.Info("flowcamd stopped")
	case <-time.After(shutdownGrace):
		d.log.Warn("shutdown did not finish in time; exiting anyway")
	}
	return err
}
