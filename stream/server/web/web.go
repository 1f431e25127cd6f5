// Package web owns flowcamd's HTTP side: live MJPEG a browser shows
// directly (/stream.mjpg), the latest frame (/snapshot.jpg), Prometheus
// metrics (/metrics), a health check for load balancers and probes
// (/healthz) and a small status page (/, /status.json). It reads the
// daemon through a StatusSource and a frame Hub, so it knows nothing of
// how streams are built or reloaded.
package web

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults for what the options set: a browser that takes nothing for
// 10 s is gone; 32 MJPEG viewers each cost a goroutine and a frame buffer.
const (
	DefaultWriteTimeout = 10 * time.Second
	DefaultMaxViewers   = 32
)

// Option adjusts a Server.
type Option func(*Server)

// WithAuth puts every endpoint behind mw (HTTP authentication), except the
// URL paths listed in public, such as "/healthz" for a probe that carries
// no credentials.
func WithAuth(mw func(http.Handler) http.Handler, public ...string) Option {
	return func(s *Server) { s.auth, s.public = mw, public }
}

// WithTunnel hands RTSP over HTTP requests (a GET or POST with an
// x-sessioncookie) to h, the RTSP server's TunnelHandler; is tells them
// apart from the page's own requests.
func WithTunnel(h http.Handler, is func(*http.Request) bool) Option {
	return func(s *Server) { s.tunnel, s.isTunnel = h, is }
}

// WithRoute mounts h at pattern (such as "POST /onvif/device_service"),
// outside HTTP authentication: for services that authenticate their own
// requests (ONVIF's WS-Security).
func WithRoute(pattern string, h http.Handler) Option {
	return func(s *Server) { s.routes = append(s.routes, route{pattern, h}) }
}

type route struct {
	pattern string
	h       http.Handler
}

// WithWriteTimeout bounds each write to a viewer (one MJPEG frame, one
// page): a browser that stops reading is dropped after it. 10 s by default.
func WithWriteTimeout(d time.Duration) Option {
	return func(s *Server) { s.writeTimeout = d }
}

// WithMaxViewers caps the open MJPEG responses overall; more get 503.
// 32 by default: each costs a goroutine and a frame-sized buffer.
func WithMaxViewers(n int) Option {
	return func(s *Server) { s.maxViewers = int64(n) }
}

// Server serves the HTTP endpoints for one daemon.
type Server struct {
	src          StatusSource
	hub          *Hub
	log          *slog.Logger
	metrics      *metrics
	auth         func(http.Handler) http.Handler
	public       []string
	routes       []route      // mounted by WithRoute
	tunnel       http.Handler // RTSP over HTTP, nil when not served
	isTunnel     func(*http.Request) bool
	writeTimeout time.Duration
	maxViewers   int64
	viewers      atomic.Int64

	hist *history // the charts' samples

	wireMu sync.Mutex
	wire   map[string]*wireRing // capture-to-wire windows by path

	httpSrv *http.Server
	ctx     context.Context // ends every response on Close
	cancel  context.CancelFunc
}

// New returns a server reading the daemon through src and frames through
// hub.
func New(src StatusSource, hub *Hub, log *slog.Logger, opts ...Option) *Server {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Server{src: src, hub: hub, log: log, writeTimeout: DefaultWriteTimeout, maxViewers: DefaultMaxViewers,
		wire: map[string]*wireRing{}}
	for _, o := range opts {
		o(s)
	}
	s.metrics = newMetrics(s)
	s.hist = newHistory()
	s.ctx, s.cancel = context.WithCancel(context.Background())
	go s.sample()
	s.httpSrv = &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: 5 * time.Second,
		IdleTimeout:       60 * time.Second,
		MaxHeaderBytes:    16 << 10,
		BaseContext:       func(net.Listener) context.Context { return s.ctx },
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
	}
	return s
}

// Handler routes every endpoint; Serve uses it, tests may mount it.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	routes := []struct {
		pattern string
		h       http.HandlerFunc
	}{
		{"GET /{$}", s.page},
		{"GET /status.json", s.statusJSON},
		{"GET /stream.mjpg", s.mjpeg},
		{"GET /snapshot.jpg", s.snapshot},
		{"GET /healthz", s.healthz},
		{"GET /metrics", s.metrics.ServeHTTP},
		{"GET /charts.js", ServeCharts},
		{"GET /history.json", s.historyJSON},
		{"GET " + RecordingsPrefix, s.recordings},
	}
	for _, r := range routes {
		var h http.Handler = r.h
		url := r.pattern[strings.IndexByte(r.pattern, ' ')+1:]
		if s.auth != nil && !slices.Contains(s.public, strings.TrimSuffix(url, "{$}")) {
			h = s.auth(h)
		}
		mux.Handle(r.pattern, h)
	}
	for _, r := range s.routes {
		mux.Handle(r.pattern, r.h)
	}
	if s.tunnel == nil {
		return mux
	}
	// RTSP over HTTP goes to the RTSP server, which asks for RTSP's own
	// credentials: what the tunnel carries is RTSP.
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.isTunnel(r) {
			s.tunnel.ServeHTTP(w, r)
			return
		}
		mux.ServeHTTP(w, r)
	})
}

// Serve answers HTTP on ln until Close.
func (s *Server) Serve(ln net.Listener) error {
	err := s.httpSrv.Serve(ln)
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return fmt.Errorf("http: %w", err)
}

// Close stops listening and ends every response at once, MJPEG viewers
// included: a shutdown must not wait for browsers.
func (s *Server) Close() error {
	s.cancel()
	return s.httpSrv.Close()
}

// EncodeObserver returns what a path's pipeline reports each encode time
// to (capture.WithEncodeObserver).
func (s *Server) EncodeObserver(path string) func(time.Duration) {
	return s.metrics.encodeObserver(path)
}

// Forget drops what the server keeps of a path a reload removed: its
// latest frame (ending its MJPEG viewers) and its encode-time series.
func (s *Server) Forget(path string) {
	s.hub.Remove(path)
	s.metrics.forget(path)
	s.wireMu.Lock()
	delete(s.wire, path)
	s.wireMu.Unlock()
}

// status reads the daemon and adds what only this package knows.
func (s *Server) status() Status {
	st := s.src.Status()
	for i := range st.Paths {
		st.Paths[i].HTTPViewers = s.hub.Viewers(st.Paths[i].Path)
	}
	s.wireLatency(&st, time.Now())
	return st
}

// resolvePath picks the path ?path= names, or the first one served.
func (s *Server) resolvePath(w http.ResponseWriter, r *http.Request, st *Status) (string, bool) {
	want := r.URL.Query().Get("path")
	if want == "" {
		if len(st.Paths) == 0 {
			http.Error(w, "no stream is being served", http.StatusServiceUnavailable)
			return "", false
		}
		return st.Paths[0].Path, true
	}
	want = "/" + strings.Trim(want, "/")
	if _, ok := st.find(want); !ok {
		names := make([]string, len(st.Paths))
		for i, p := range st.Paths {
			names[i] = p.Path
		}
		http.Error(w, fmt.Sprintf("no stream at path %q; served paths: %s", want, strings.Join(names, ", ")), http.StatusNotFound)
		return "", false
	}
	return want, true
}

// snapshot answers the path's newest frame.
func (s *Server) snapshot(w http.ResponseWriter, r *http.Request) {
	st := s.src.Status()
	path, ok := s.resolvePath(w, r, &st)
	if !ok {
		return
	}
	path, err := st.picture(path)
	if err != nil {
		http.Error(w, err.Error(), http.StatusNotImplemented)
		return
	}
	frame, at, ok := s.hub.snapshot(path, nil)
	if !ok {
		http.Error(w, fmt.Sprintf("no frame yet on %s: its source has not delivered a picture", path), http.StatusServiceUnavailable)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "image/jpeg")
	h.Set("Content-Length", fmt.Sprint(len(frame)))
	h.Set("Cache-Control", "no-store")
	if !at.IsZero() {
		h.Set("Last-Modified", at.UTC().Format(http.TimeFormat))
	}
	s.setDeadline(w)
	w.Write(frame)
}

// healthz is ok only while every path's pipeline delivers.
func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	st := s.src.Status()
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if len(st.Paths) == 0 {
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprintln(w, "no stream is being served")
		return
	}
	var stalled []string
	for _, p := range st.Paths {
		if p.Problem != "" {
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintf(w, "failing: %s: %s\n", p.Path, p.Problem)
			return
		}
		if !p.Alive {
			stalled = append(stalled, p.Path)
		}
	}
	if len(stalled) > 0 {
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprintf(w, "stalled: %s (no frames recently)\n", strings.Join(stalled, ", "))
		return
	}
	fmt.Fprintln(w, "ok")
}

func (s *Server) setDeadline(w http.ResponseWriter) {
	// Errors mean the writer cannot take deadlines (a test recorder).
	http.NewResponseController(w).SetWriteDeadline(time.Now().Add(s.writeTimeout))
}
