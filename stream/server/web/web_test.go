package web

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"io"
	"log/slog"
	"mime"
	"mime/multipart"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"flowcam/capture"
	"flowcam/internal/testutil/snakecase"
)

// fakeDaemon is a StatusSource whose status a test sets.
type fakeDaemon struct {
	mu sync.Mutex
	st Status
}

func (f *fakeDaemon) Status() Status {
	f.mu.Lock()
	defer f.mu.Unlock()
	st := f.st
	st.Paths = append([]PathStatus(nil), f.st.Paths...)
	return st
}

func (f *fakeDaemon) set(fn func(*Status)) {
	f.mu.Lock()
	fn(&f.st)
	f.mu.Unlock()
}

func twoPaths() Status {
	return Status{Version: "v1.2.3", Board: "raspberrypi: Raspberry Pi 4", Started: time.Now().Add(-time.Hour),
		Paths: []PathStatus{
			{Path: "/cam", Source: "pattern", Width: 64, Height: 48, FPS: 25, Alive: true},
			{Path: "/side", Source: "/dev/video0", Width: 32, Height: 16, FPS: 10, Alive: true},
		}}
}

// serve runs a Server on a real loopback socket and returns its base URL.
func serve(t *testing.T, d *fakeDaemon, hub *Hub, opts ...Option) (*Server, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := New(d, hub, slog.New(slog.DiscardHandler), opts...)
	done := make(chan error, 1)
	go func() { done <- s.Serve(ln) }()
	t.Cleanup(func() {
		s.Close()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return s, "http://" + ln.Addr().String()
}

// testJPEG is a real JPEG of the given size whose grey level encodes n.
func testJPEG(t testing.TB, w, h int, n int) []byte {
	img := image.NewGray(image.Rect(0, 0, w, h))
	for i := range img.Pix {
		img.Pix[i] = uint8(n * 37)
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 90}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// publishEvery publishes distinct frames on path until the test ends.
func publishEvery(t *testing.T, hub *Hub, path string, every time.Duration, frames [][]byte) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	t.Cleanup(func() { cancel(); <-done })
	go func() {
		defer close(done)
		tick := time.NewTicker(every)
		defer tick.Stop()
		for i := 0; ; i++ {
			hub.Publish(path, &capture.Frame{JPEG: frames[i%len(frames)], Seq: uint64(i), Captured: time.Now()})
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	}()
}

func get(t *testing.T, url string) (int, string, http.Header) {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(body), res.Header
}

// readParts reads n parts of an MJPEG response with a real multipart
// reader and decodes each as a JPEG.
func readParts(t *testing.T, res *http.Response, n int) []image.Image {
	t.Helper()
	mt, params, err := mime.ParseMediaType(res.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/x-mixed-replace" || params["boundary"] == "" {
		t.Fatalf("Content-Type %q: %v", res.Header.Get("Content-Type"), err)
	}
	mr := multipart.NewReader(res.Body, params["boundary"])
	var out []image.Image
	for len(out) < n {
		p, err := mr.NextPart()
		if err != nil {
			t.Fatalf("part %d: %v", len(out), err)
		}
		if ct := p.Header.Get("Content-Type"); ct != "image/jpeg" {
			t.Fatalf("part Content-Type %q", ct)
		}
		data, err := io.ReadAll(p)
		if err != nil {
			t.Fatal(err)
		}
		if cl := p.Header.Get("Content-Length"); cl != fmt.Sprint(len(data)) {
			t.Fatalf("Content-Length %s, part has %d bytes", cl, len(data))
		}
		img, err := jpeg.Decode(bytes.NewReader(data))
		if err != nil {
			t.Fatalf("part %d is not a JPEG: %v", len(out), err)
		}
		out = append(out, img)
	}
	return out
}

// countParts reads n whole parts without decoding them (decoding is slow
// under the race detector and would make the reader the bottleneck).
func countParts(t *testing.T, res *http.Response, n int) {
	t.Helper()
	_, params, _ := mime.ParseMediaType(res.Header.Get("Content-Type"))
	mr := multipart.NewReader(res.Body, params["boundary"])
	for i := range n {
		p, err := mr.NextPart()
		if err != nil {
			t.Fatalf("part %d: %v", i, err)
		}
		if _, err := io.Copy(io.Discard, p); err != nil {
			t.Fatalf("part %d: %v", i, err)
		}
	}
}

func TestMJPEG(t *testing.T) {
	d := &fakeDaemon{st: twoPaths()}
	hub := NewHub()
	_, base := serve(t, d, hub)
	var frames [][]byte
	for i := range 5 {
		frames = append(frames, testJPEG(t, 64, 48, i))
	}
	publishEvery(t, hub, "/cam", 5*time.Millisecond, frames)
	publishEvery(t, hub, "/side", 5*time.Millisecond, [][]byte{testJPEG(t, 32, 16, 1)})

	for _, tc := range []struct {
		query         string
		width, height int
	}{{"", 64, 48}, {"?path=/cam", 64, 48}, {"?path=side", 32, 16}, {"?path=/side/", 32, 16}} {
		t.Run(tc.query, func(t *testing.T) {
			res, err := http.Get(base + "/stream.mjpg" + tc.query)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			imgs := readParts(t, res, 10)
			distinct := map[uint8]bool{}
			for _, img := range imgs {
				if b := img.Bounds(); b.Dx() != tc.width || b.Dy() != tc.height {
					t.Fatalf("frame is %v, want %dx%d", b, tc.width, tc.height)
				}
				distinct[color.GrayModel.Convert(img.At(1, 1)).(color.Gray).Y] = true
			}
			if tc.width == 64 && len(distinct) < 2 {
				t.Fatalf("10 frames of a changing stream show %d distinct pictures", len(distinct))
			}
		})
	}
	if code, body, _ := get(t, base+"/stream.mjpg?path=/nope"); code != http.StatusNotFound || !strings.Contains(body, "/cam, /side") {
		t.Fatalf("unknown path: %d %q", code, body)
	}
}

func TestSnapshot(t *testing.T) {
	st := twoPaths()
	// /side/h264 shares /side's capture: its snapshot is /side's picture.
	st.Paths = append(st.Paths, PathStatus{Path: "/side/h264", Source: "/dev/video0", Codec: "h264", Preview: "/side"},
		PathStatus{Path: "/clip", Source: "clip.mp4", Codec: "h264"})
	d := &fakeDaemon{st: st}
	hub := NewHub()
	_, base := serve(t, d, hub)
	hub.Publish("/side", &capture.Frame{JPEG: testJPEG(t, 32, 16, 2), Captured: time.Now()})
	for _, tc := range []struct {
		query string
		code  int
		text  string // in the body, for errors
		width int    // of the picture, for 200
	}{
		{"", http.StatusServiceUnavailable, "no frame yet on /cam", 0},
		{"?path=/side", http.StatusOK, "", 32},
		{"?path=/missing", http.StatusNotFound, `no stream at path "/missing"`, 0},
		{"?path=/side/h264", http.StatusOK, "", 32},
		{"?path=/clip", http.StatusNotImplemented, "no live picture for /clip: it sends H.264", 0},
	} {
		t.Run(tc.query, func(t *testing.T) {
			code, body, h := get(t, base+"/snapshot.jpg"+tc.query)
			if code != tc.code {
				t.Fatalf("status %d, want %d: %s", code, tc.code, body)
			}
			if tc.code != http.StatusOK {
				if !strings.Contains(body, tc.text) {
					t.Fatalf("body %q does not say %q", body, tc.text)
				}
				return
			}
			if h.Get("Content-Type") != "image/jpeg" {
				t.Fatalf("Content-Type %q", h.Get("Content-Type"))
			}
			img, err := jpeg.Decode(strings.NewReader(body))
			if err != nil || img.Bounds().Dx() != tc.width {
				t.Fatalf("snapshot: %v, %v", err, img)
			}
		})
	}
}

func TestHealthz(t *testing.T) {
	for _, tc := range []struct {
		name  string
		edit  func(*Status)
		code  int
		words string
	}{
		{"all alive", func(*Status) {}, http.StatusOK, "ok"},
		{"one stalled", func(s *Status) { s.Paths[1].Alive = false }, http.StatusServiceUnavailable, "stalled: /side"},
		{"all stalled", func(s *Status) { s.Paths[0].Alive, s.Paths[1].Alive = false, false },
			http.StatusServiceUnavailable, "stalled: /cam, /side"},
		{"nothing served", func(s *Status) { s.Paths = nil }, http.StatusServiceUnavailable, "no stream"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := &fakeDaemon{st: twoPaths()}
			d.set(tc.edit)
			_, base := serve(t, d, NewHub())
			code, body, _ := get(t, base+"/healthz")
			if code != tc.code || !strings.Contains(body, tc.words) {
				t.Fatalf("got %d %q, want %d with %q", code, body, tc.code, tc.words)
			}
		})
	}
}

func withSessions(s *Status) {
	rec := uint64(3)
	s.Paths[0].Pipeline = capture.Stats{Captured: 100, Encoded: 90, Passthrough: 7, Transcoded: 2, Dropped: 1}
	s.Paths[1].Reconnects = &rec
	s.Paths[1].Alive = false
	s.Sessions = []SessionStatus{
		{ID: "aa11", Path: "/cam", Transport: "udp", Client: "10.0.0.9:5000", Playing: true, Frames: 50,
			Packets: 500, Bytes: 600000, FractionLost: 0.25, Jitter: 2 * time.Millisecond, RTT: 15 * time.Millisecond,
			Skipped: 40, Rate: &RateStatus{SentFraction: 0.52, Reason: "capacity", StreamBps: 5.7e6, CapacityBps: 2.9e6}},
		{ID: "bb22", Path: "/cam", Transport: "multiflow", Client: "10.0.0.7:5100", Mode: "stripe", Bytes: 3000,
			Flows: []FlowStatus{
				{Index: 0, Interface: "eth0", Local: "10.0.0.1:40000", Packets: 10, Bytes: 1000, Loss: 0.5, Usable: true},
				{Index: 1, Interface: "wlan0", Local: "10.0.1.1:40002", Packets: 20, Bytes: 2000, RTT: 30 * time.Millisecond,
					RateBps: 2e6, Capacity: 2.5e6, Queue: 12 * time.Millisecond, Limit: "queueing delay"},
			}},
	}
}

func scrape(t *testing.T, url string) map[string]*dtoFamily {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("metrics: %s", res.Status)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(res.Body)
	if err != nil {
		t.Fatalf("metrics are not Prometheus text format: %v", err)
	}
	out := map[string]*dtoFamily{}
	for name, f := range fams {
		fam := &dtoFamily{typ: f.GetType().String()}
		for _, m := range f.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			var v float64
			switch {
			case m.Counter != nil:
				v = m.Counter.GetValue()
			case m.Gauge != nil:
				v = m.Gauge.GetValue()
			case m.Histogram != nil:
				v = float64(m.Histogram.GetSampleCount())
			}
			fam.series = append(fam.series, series{labels, v})
		}
		out[name] = fam
	}
	return out
}

type series struct {
	labels map[string]string
	value  float64
}

type dtoFamily struct {
	typ    string
	series []series
}

// value finds the series whose labels include want.
func (f *dtoFamily) value(want map[string]string) (float64, bool) {
	for _, s := range f.series {
		match := true
		for k, v := range want {
			if s.labels[k] != v {
				match = false
			}
		}
		if match {
			return s.value, true
		}
	}
	return 0, false
}

func TestMetrics(t *testing.T) {
	d := &fakeDaemon{st: twoPaths()}
	d.set(withSessions)
	s, base := serve(t, d, NewHub())
	obs := s.EncodeObserver("/cam")
	for range 4 {
		obs(3 * time.Millisecond)
	}
	fams := scrape(t, base+"/metrics")
	for _, tc := range []struct {
		name   string
		typ    string
		labels map[string]string
		want   float64
	}{
		{"flowcam_frames_captured_total", "COUNTER", map[string]string{"path": "/cam"}, 100},
		{"flowcam_frames_encoded_total", "COUNTER", map[string]string{"path": "/cam"}, 90},
		{"flowcam_frames_passthrough_total", "COUNTER", map[string]string{"path": "/cam"}, 7},
		{"flowcam_frames_transcoded_total", "COUNTER", map[string]string{"path": "/cam"}, 2},
		{"flowcam_frames_dropped_total", "COUNTER", map[string]string{"path": "/cam"}, 1},
		{"flowcam_source_reconnects_total", "COUNTER", map[string]string{"path": "/side"}, 3},
		{"flowcam_pipeline_alive", "GAUGE", map[string]string{"path": "/side"}, 0},
		{"flowcam_pipeline_alive", "GAUGE", map[string]string{"path": "/cam"}, 1},
		{"flowcam_encode_duration_seconds", "HISTOGRAM", map[string]string{"path": "/cam"}, 4},
		{"flowcam_sessions", "GAUGE", map[string]string{"path": "/cam", "transport": "udp"}, 1},
		{"flowcam_sessions", "GAUGE", map[string]string{"path": "/cam", "transport": "multiflow"}, 1},
		{"flowcam_sessions", "GAUGE", map[string]string{"path": "/side", "transport": "tcp"}, 0},
		{"flowcam_session_bytes_total", "COUNTER", map[string]string{"session": "aa11", "path": "/cam", "transport": "udp"}, 600000},
		{"flowcam_session_packets_total", "COUNTER", map[string]string{"session": "aa11"}, 500},
		{"flowcam_session_rtcp_fraction_lost", "GAUGE", map[string]string{"session": "aa11"}, 0.25},
		{"flowcam_session_rtcp_jitter_seconds", "GAUGE", map[string]string{"session": "aa11"}, 0.002},
		{"flowcam_session_rtt_seconds", "GAUGE", map[string]string{"session": "aa11"}, 0.015},
		{"flowcam_flow_bytes_total", "COUNTER", map[string]string{"session": "bb22", "flow": "1", "interface": "wlan0"}, 2000},
		{"flowcam_flow_packets_total", "COUNTER", map[string]string{"session": "bb22", "flow": "0", "interface": "eth0"}, 10},
		{"flowcam_flow_loss_ratio", "GAUGE", map[string]string{"flow": "0"}, 0.5},
		{"flowcam_flow_rtt_seconds", "GAUGE", map[string]string{"flow": "1"}, 0.03},
		{"flowcam_flow_rate_bits_per_second", "GAUGE", map[string]string{"flow": "1"}, 2e6},
		{"flowcam_flow_capacity_bits_per_second", "GAUGE", map[string]string{"flow": "1"}, 2.5e6},
		{"flowcam_flow_queue_delay_seconds", "GAUGE", map[string]string{"flow": "1"}, 0.012},
		{"flowcam_session_skipped_frames_total", "COUNTER", map[string]string{"session": "aa11"}, 40},
		{"flowcam_session_sent_ratio", "GAUGE", map[string]string{"session": "aa11"}, 0.52},
		{"flowcam_session_stream_bits_per_second", "GAUGE", map[string]string{"session": "aa11"}, 5.7e6},
		{"flowcam_session_capacity_bits_per_second", "GAUGE", map[string]string{"session": "aa11"}, 2.9e6},
		{"flowcam_session_rate_reason", "GAUGE", map[string]string{"session": "aa11", "reason": "capacity"}, 1},
		{"flowcam_build_info", "GAUGE", map[string]string{"version": "v1.2.3", "board": "raspberrypi: Raspberry Pi 4"}, 1},
	} {
		f, ok := fams[tc.name]
		if !ok {
			t.Errorf("%s missing", tc.name)
			continue
		}
		if f.typ != tc.typ {
			t.Errorf("%s is a %s, want %s", tc.name, f.typ, tc.typ)
		}
		if v, ok := f.value(tc.labels); !ok || v != tc.want {
			t.Errorf("%s%v = %v (found %v), want %v", tc.name, tc.labels, v, ok, tc.want)
		}
	}
	for _, name := range []string{"go_goroutines", "process_cpu_seconds_total", "flowcam_start_time_seconds"} {
		if _, ok := fams[name]; !ok {
			t.Errorf("%s missing", name)
		}
	}
	if _, ok := fams["flowcam_source_reconnects_total"].value(map[string]string{"path": "/cam"}); ok {
		t.Error("a pattern path reports camera reconnects")
	}

	// A session that ended leaves no series behind; a removed path loses
	// its histogram.
	d.set(func(s *Status) { s.Sessions = s.Sessions[:1]; s.Paths = s.Paths[:1] })
	s.Forget("/side")
	fams = scrape(t, base+"/metrics")
	if _, ok := fams["flowcam_flow_bytes_total"]; ok {
		t.Error("flow series outlived their session")
	}
	if _, ok := fams["flowcam_sessions"].value(map[string]string{"path": "/side"}); ok {
		t.Error("a removed path still has a sessions series")
	}
}

func TestEncodeObserverAllocatesNothing(t *testing.T) {
	s := New(&fakeDaemon{}, NewHub(), slog.New(slog.DiscardHandler))
	obs := s.EncodeObserver("/cam")
	if n := testing.AllocsPerRun(1000, func() { obs(2 * time.Millisecond) }); n != 0 {
		t.Fatalf("observing an encode allocates %v times", n)
	}
}

func TestPublishAllocatesNothing(t *testing.T) {
	hub := NewHub()
	f := &capture.Frame{JPEG: testJPEG(t, 64, 48, 1)}
	hub.Publish("/cam", f)
	if n := testing.AllocsPerRun(1000, func() { hub.Publish("/cam", f) }); n != 0 {
		t.Fatalf("publishing a frame allocates %v times", n)
	}
}

// TestSlowViewer: a browser that stops reading neither delays the other
// viewers nor makes the server buffer frames for it, and is dropped after
// the write timeout.
func TestSlowViewer(t *testing.T) {
	d := &fakeDaemon{st: twoPaths()}
	hub := NewHub()
	_, base := serve(t, d, hub, WithWriteTimeout(2*time.Second))
	// Large frames fill the socket buffers quickly: a backlog would show.
	big := make([][]byte, 3)
	for i := range big {
		big[i] = noisyJPEG(t, 480, 360, i)
	}
	publishEvery(t, hub, "/cam", 10*time.Millisecond, big)

	slow, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	fmt.Fprintf(slow, "GET /stream.mjpg HTTP/1.1\r\nHost: x\r\n\r\n")
	if _, err := http.ReadResponse(bufio.NewReader(slow), nil); err != nil {
		t.Fatal(err)
	}
	// ... and never reads again.

	var before runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	res, err := http.Get(base + "/stream.mjpg")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	start := time.Now()
	countParts(t, res, 60)
	// Blocked behind the stalled viewer, this would take 60 write timeouts.
	if took := time.Since(start); took > 10*time.Second {
		t.Fatalf("a reading viewer got 60 frames in %v beside a stalled one", took)
	}
	var after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&after)
	if grew := int64(after.HeapInuse) - int64(before.HeapInuse); grew > 8<<20 {
		t.Fatalf("heap grew by %d MiB while a viewer stalled", grew>>20)
	}
	deadline := time.Now().Add(10 * time.Second)
	for hub.Viewers("/cam") > 1 {
		if time.Now().After(deadline) {
			t.Fatalf("the stalled viewer still holds its response (%d viewers)", hub.Viewers("/cam"))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// noisyJPEG compresses badly, so the frame is large.
func noisyJPEG(t testing.TB, w, h, seed int) []byte {
	img := image.NewGray(image.Rect(0, 0, w, h))
	x := uint32(seed*7919 + 1)
	for i := range img.Pix {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		img.Pix[i] = uint8(x)
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 95}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestForgetEndsViewers: a path a reload removed ends its MJPEG responses.
func TestForgetEndsViewers(t *testing.T) {
	d := &fakeDaemon{st: twoPaths()}
	hub := NewHub()
	s, base := serve(t, d, hub)
	hub.Publish("/side", &capture.Frame{JPEG: testJPEG(t, 32, 16, 1)})
	res, err := http.Get(base + "/stream.mjpg?path=/side")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	readParts(t, res, 1)
	s.Forget("/side")
	done := make(chan error, 1)
	go func() { _, err := io.Copy(io.Discard, res.Body); done <- err }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("response ended with %v, want a clean end", err)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("viewer of a removed path still connected")
	}
}

func TestStatusPage(t *testing.T) {
	d := &fakeDaemon{st: twoPaths()}
	d.set(withSessions)
	d.set(func(s *Status) { s.Paths[0].Source = "<script>alert(1)</script>" })
	_, base := serve(t, d, NewHub())
	code, body, h := get(t, base+"/")
	if code != http.StatusOK || !strings.HasPrefix(h.Get("Content-Type"), "text/html") {
		t.Fatalf("page: %d %s", code, h.Get("Content-Type"))
	}
	for _, want := range []string{`<img id="picture" src="/stream.mjpg?path=%2fcam"`, "10.0.0.9:5000", "wlan0",
		"raspberrypi: Raspberry Pi 4", "v1.2.3", "64x48", "stalled", "25.0 %", "15.0 ms", "&lt;script&gt;",
		"52 % (capacity)", "2.90 Mbit/s", "queueing delay", "12.0 ms"} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if strings.Contains(body, "<script>alert") {
		t.Error("page does not escape what the daemon reports")
	}
	if code, body, _ := get(t, base+"/?path=/side"); code != 200 || !strings.Contains(body, `src="/stream.mjpg?path=%2fside"`) {
		t.Errorf("?path=/side does not pick the picture: %d", code)
	}
	if code, _, _ := get(t, base+"/nothing-here"); code != http.StatusNotFound {
		t.Errorf("unknown page: %d", code)
	}
	d.set(func(s *Status) {
		s.Paths = append(s.Paths, PathStatus{Path: "/side/h264", Codec: "h264", Preview: "/side"}, PathStatus{Path: "/clip", Codec: "h264"})
	})
	if _, body, _ := get(t, base+"/?path=/side/h264"); !strings.Contains(body, `src="/stream.mjpg?path=%2fside%2fh264"`) {
		t.Error("an H.264 path with an MJPEG sibling shows no picture")
	}
	if _, body, _ := get(t, base+"/?path=/clip"); !strings.Contains(body, "no live picture for /clip: it sends H.264") ||
		strings.Contains(body, `<img id="picture"`) {
		t.Error("the page does not say why an H.264 path without a sibling has no picture")
	}

	code, body, _ = get(t, base+"/status.json")
	var st struct {
		Status
		Uptime float64 `json:"uptime_seconds"`
	}
	if err := json.Unmarshal([]byte(body), &st); err != nil || code != 200 {
		t.Fatalf("status.json: %d %v", code, err)
	}
	snakecase.Check(t, []byte(body))
	if len(st.Sessions) != 2 || st.Sessions[1].Flows[1].Interface != "wlan0" || st.Uptime < 3599 ||
		st.Paths[0].Pipeline.Captured != 100 || st.Sessions[0].Rate == nil || st.Sessions[0].Rate.Reason != "capacity" ||
		st.Sessions[1].Flows[1].Capacity != 2.5e6 {
		t.Fatalf("status.json: %+v", st)
	}
}

func TestAuthHook(t *testing.T) {
	deny := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("Authorization") != "yes" {
				w.Header().Set("WWW-Authenticate", `Basic realm="flowcam"`)
				http.Error(w, "unauthorized", http.StatusUnauthorized)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
	d := &fakeDaemon{st: twoPaths()}
	hub := NewHub()
	hub.Publish("/cam", &capture.Frame{JPEG: testJPEG(t, 64, 48, 1)})
	_, base := serve(t, d, hub, WithAuth(deny, "/healthz", "/metrics"))
	for _, tc := range []struct {
		path string
		code int
	}{{"/", 401}, {"/snapshot.jpg", 401}, {"/stream.mjpg", 401}, {"/status.json", 401}, {"/healthz", 200}, {"/metrics", 200}} {
		if code, _, _ := get(t, base+tc.path); code != tc.code {
			t.Errorf("%s without credentials: %d, want %d", tc.path, code, tc.code)
		}
	}
	req, _ := http.NewRequest("GET", base+"/snapshot.jpg", nil)
	req.Header.Set("Authorization", "yes")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("with credentials: %s", res.Status)
	}
}

// TestCloseEndsViewers: shutting down does not wait for browsers.
func TestCloseEndsViewers(t *testing.T) {
	d := &fakeDaemon{st: twoPaths()}
	hub := NewHub()
	s, base := serve(t, d, hub)
	hub.Publish("/cam", &capture.Frame{JPEG: testJPEG(t, 64, 48, 1)})
	res, err := http.Get(base + "/stream.mjpg")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	readParts(t, res, 1)
	start := time.Now()
	s.Close()
	if took := time.Since(start); took > time.Second {
		t.Fatalf("Close took %v with a viewer connected", took)
	}
	deadline := time.Now().Add(2 * time.Second)
	for hub.Viewers("/cam") > 0 {
		if time.Now().After(deadline) {
			t.Fatal("viewer handler still running after Close")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestViewerLimit: past the cap a viewer gets 503 instead of a goroutine
// and a frame buffer; HEAD answers the headers without streaming.
func TestViewerLimit(t *testing.T) {
	d := &fakeDaemon{st: twoPaths()}
	hub := NewHub()
	hub.Publish("/cam", &capture.Frame{JPEG: testJPEG(t, 64, 48, 1)})
	_, base := serve(t, d, hub, WithMaxViewers(1))
	res, err := http.Get(base + "/stream.mjpg")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	readParts(t, res, 1)
	if code, body, _ := get(t, base+"/stream.mjpg"); code != http.StatusServiceUnavailable || !strings.Contains(body, "too many") {
		t.Fatalf("second viewer over a cap of one: %d %q", code, body)
	}
	res.Body.Close()
	for end := time.Now().Add(3 * time.Second); hub.Viewers("/cam") > 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatal("the viewer that left is still counted")
		}
	}
	head, err := http.Head(base + "/stream.mjpg")
	if err != nil {
		t.Fatal(err)
	}
	head.Body.Close()
	if head.StatusCode != http.StatusOK || !strings.HasPrefix(head.Header.Get("Content-Type"), "multipart/x-mixed-replace") {
		t.Fatalf("HEAD: %s %s", head.Status, head.Header.Get("Content-Type"))
	}
}
