// Package livepage is the client's own web page: the played-out picture
// (MJPEG, each frame released at its play-out time, so the page shows what
// the scheduler delivers at its latency), charts of the last minutes drawn
// from a ring of one-second samples, /stats.json and /metrics. The picture
// and the charts' script are served by flowcamd's web package.
package livepage

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"flowcam/capture"
	"flowcam/stream/client/playout"
	"flowcam/stream/client/pull"
	"flowcam/stream/client/rtspclient"
	"flowcam/stream/server/web"
)

// Config describes the page.
type Config struct {
	Addr    string        // listen address, e.g. "127.0.0.1:8081"
	URL     string        // what is pulled, for the heading
	Keep    int           // samples kept: seconds of chart; 300 when 0
	Problem func() string // why something stopped (a recording), "" when all is well
	Logger  *slog.Logger
}

// ErrListen marks an address the page cannot listen on.
var ErrListen = errors.New("live page")

// path is what the picture is published under in the web package's hub.
const path = "/cam"

// Page is a pull's sink and status observer that serves the live page.
type Page struct {
	cfg    Config
	hub    *web.Hub
	web    *web.Server
	http   *http.Server
	ln     net.Listener
	cancel context.CancelFunc // ends every response
	start  time.Time

	mu    sync.Mutex
	ring  *ring
	last  pull.Snapshot
	desc  *rtspclient.Description
	total totals
}

// totals are the counters /metrics exposes.
type totals struct {
	bytes map[string]float64
}

// Listen starts serving the page at cfg.Addr.
func Listen(cfg Config) (*Page, error) {
	if cfg.Keep <= 0 {
		cfg.Keep = 300
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Problem == nil {
		cfg.Problem = func() string { return "" }
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("%w: --http-addr %s: %v", ErrListen, cfg.Addr, err)
	}
	p := &Page{cfg: cfg, hub: web.NewHub(), ln: ln, start: time.Now(), ring: newRing(cfg.Keep),
		total: totals{bytes: map[string]float64{}}}
	p.web = web.New(p, p.hub, cfg.Logger)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", p.page)
	mux.HandleFunc("GET /stats.json", p.stats)
	mux.HandleFunc("GET /metrics", p.metrics)
	for _, route := range []string{"GET /stream.mjpg", "GET /snapshot.jpg", "GET /charts.js"} {
		mux.Handle(route, p.web.Handler())
	}
	var ctx context.Context
	ctx, p.cancel = context.WithCancel(context.Background())
	p.http = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, IdleTimeout: 60 * time.Second,
		MaxHeaderBytes: 16 << 10, ErrorLog: slog.NewLogLogger(cfg.Logger.Handler(), slog.LevelDebug),
		BaseContext: func(net.Listener) context.Context { return ctx }} // Close ends MJPEG viewers
	go p.http.Serve(ln)
	cfg.Logger.Info("live page", "url", p.URL())
	return p, nil
}

// URL is the page's address.
func (p *Page) URL() string { return "http://" + p.ln.Addr().String() + "/" }

// Close stops serving; MJPEG viewers are ended at once, so a pull ends
// when it should even with a browser watching.
func (p *Page) Close() error {
	p.cancel()
	p.web.Close()
	return p.http.Close()
}

// Describe takes the stream's description: the picture needs JPEG.
func (p *Page) Describe(d *rtspclient.Description) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.desc = d
}

// WriteFrame shows a played-out frame; H.264 has no picture here.
func (p *Page) WriteFrame(f *playout.Frame) error {
	if len(f.Data) < 2 || f.Data[0] != 0xff || f.Data[1] != 0xd8 {
		return nil
	}
	p.hub.Publish(path, &capture.Frame{JPEG: f.Data, Captured: time.Now()})
	return nil
}

// Observe records a second of the pull (pull.Run's status callback).
func (p *Page) Observe(s pull.Snapshot) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.ring.add(s)
	p.last = s
	for _, ps := range s.Paths {
		p.total.bytes[ps.Name] += ps.Bitrate / 8
	}
}

// Status is what the web package's picture handlers read: one path.
func (p *Page) Status() web.Status {
	p.mu.Lock()
	defer p.mu.Unlock()
	codec := "mjpeg"
	if p.desc != nil {
		codec = p.desc.Codec
	}
	return web.Status{Started: p.start, Paths: []web.PathStatus{{Path: path, Source: p.cfg.URL, Codec: codec, Alive: true}}}
}

// statsJSON is /stats.json: the samples and the stream.
type statsJSON struct {
	URL     string   `json:"url"`
	Codec   string   `json:"codec"`
	Problem string   `json:"problem,omitempty"`
	Samples []Sample `json:"samples"`
}

func (p *Page) snapshot() statsJSON {
	p.mu.Lock()
	defer p.mu.Unlock()
	st := statsJSON{URL: p.cfg.URL, Codec: "mjpeg", Problem: p.cfg.Problem(), Samples: append([]Sample(nil), p.ring.s...)}
	if p.desc != nil {
		st.Codec = p.desc.Codec
	}
	return st
}

func (p *Page) stats(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	json.NewEncoder(w).Encode(p.snapshot())
}

//go:embed page.html
var pageHTML string

var pageTmpl = template.Must(template.New("page").Parse(pageHTML))

func (p *Page) page(w http.ResponseWriter, r *http.Request) {
	var buf bytes.Buffer
	if err := pageTmpl.Execute(&buf, p.snapshot()); err != nil {
		http.Error(w, "the page failed to render", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Write(buf.Bytes())
}
