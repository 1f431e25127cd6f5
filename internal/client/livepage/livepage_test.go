package livepage

import (
	"bytes"
	"encoding/json"
	"image"
	"image/jpeg"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"flowcam/internal/testutil/golden"
	"flowcam/stream/client/playout"
	"flowcam/stream/client/pull"
)

// seconds are three seconds of a two-path pull: wifi's RTT grows as a
// queue builds, and a frame is lost in the third.
func seconds() []pull.Snapshot {
	snap := func(t int, complete, lost uint64, wifiRTT time.Duration) pull.Snapshot {
		return pull.Snapshot{Elapsed: time.Duration(t) * time.Second, FPS: 25, Latency: 40 * time.Millisecond,
			Delay: 30 * time.Millisecond, Stats: playout.Stats{FramesComplete: complete, FramesIncomplete: lost},
			Paths: []pull.PathSnapshot{{Name: "eth", Bitrate: 3e6, RTT: 2 * time.Millisecond},
				{Name: "wifi", Bitrate: 1e6, Loss: 0.02, RTT: wifiRTT}}}
	}
	return []pull.Snapshot{snap(1, 25, 0, 40*time.Millisecond), snap(2, 50, 0, 90*time.Millisecond), snap(3, 74, 1, 60*time.Millisecond)}
}

func TestSamples(t *testing.T) {
	r := newRing(2)
	var last Sample
	for _, s := range seconds() {
		last = r.add(s)
	}
	if len(r.s) != 2 || r.s[0].T != 2 {
		t.Fatalf("ring keeps %d samples from %v s, want the last 2", len(r.s), r.s[0].T)
	}
	if last.Complete != 24 || last.Lost != 1 || last.FPS != 25 || last.LatencyMS != 40 {
		t.Fatalf("third second: %+v", last)
	}
	// The lost frame's last packet comes after all: it is late, not lost.
	turned := seconds()[2]
	turned.Elapsed, turned.Stats.FramesIncomplete, turned.Stats.FramesLate = 4*time.Second, 0, 1
	if s := r.add(turned); s.Lost != 0 || s.Late != 1 {
		t.Fatalf("a lost frame turned late: %+v", s)
	}
	eth, wifi := last.Paths[0], last.Paths[1]
	if eth.Share != 0.75 || wifi.Share != 0.25 || wifi.Loss != 0.02 || wifi.RTTMS != 60 || wifi.QueueMS != 20 || eth.QueueMS != 0 {
		t.Fatalf("paths: %+v", last.Paths)
	}
}

func listen(t *testing.T) *Page {
	t.Helper()
	p, err := Listen(Config{Addr: "127.0.0.1:0", URL: "rtsp://cam/cam", Problem: func() string { return "recording stopped: disk full" }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// TestMetricsGolden pins /metrics.
func TestMetricsGolden(t *testing.T) {
	p := listen(t)
	for _, s := range seconds() {
		p.Observe(s)
	}
	var b bytes.Buffer
	p.writeMetrics(&b)
	golden.File(t, "testdata/metrics.golden", b.Bytes())
}

func get(t *testing.T, url string) (int, string, string) {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, res.Header.Get("Content-Type"), string(b)
}

// TestRoutes: the page, its script, stats, and the played-out picture.
func TestRoutes(t *testing.T) {
	p := listen(t)
	for _, s := range seconds() {
		p.Observe(s)
	}
	var pic bytes.Buffer
	jpeg.Encode(&pic, image.NewGray(image.Rect(0, 0, 32, 16)), nil)
	p.WriteFrame(&playout.Frame{Data: pic.Bytes(), Key: true})
	base := strings.TrimSuffix(p.URL(), "/")
	if code, ct, body := get(t, base+"/"); code != 200 || !strings.HasPrefix(ct, "text/html") ||
		!strings.Contains(body, `src="/stream.mjpg?path=/cam"`) || strings.Count(body, `class="chart"`) != 7 ||
		!strings.Contains(body, "disk full") {
		t.Fatalf("page: %d %s\n%s", code, ct, body)
	}
	if code, _, body := get(t, base+"/charts.js"); code != 200 || !strings.Contains(body, "function chart(") {
		t.Fatalf("charts.js: %d", code)
	}
	code, _, body := get(t, base+"/stats.json")
	var st statsJSON
	if err := json.Unmarshal([]byte(body), &st); code != 200 || err != nil || len(st.Samples) != 3 || st.Problem == "" {
		t.Fatalf("stats.json: %d %v %s", code, err, body)
	}
	if code, ct, body := get(t, base+"/snapshot.jpg?path=/cam"); code != 200 || ct != "image/jpeg" || body != pic.String() {
		t.Fatalf("snapshot: %d %s, %d bytes", code, ct, len(body))
	}
}

func TestAddressInUse(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if _, err := Listen(Config{Addr: ln.Addr().String()}); err == nil || !strings.Contains(err.Error(), "--http-addr "+ln.Addr().String()) {
		t.Fatalf("err %v, want the address named", err)
	}
}

// TestCloseEndsViewers: a browser watching the picture does not keep the
// page, and so the pull, from closing.
func TestCloseEndsViewers(t *testing.T) {
	p, err := Listen(Config{Addr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	var pic bytes.Buffer
	jpeg.Encode(&pic, image.NewGray(image.Rect(0, 0, 32, 16)), nil)
	p.WriteFrame(&playout.Frame{Data: pic.Bytes(), Key: true})
	res, err := http.Get(strings.TrimSuffix(p.URL(), "/") + "/stream.mjpg?path=/cam")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	res.Body.Read(make([]byte, 64)) // the viewer is in
	closed := make(chan error, 1)
	go func() { closed <- p.Close() }()
	select {
	case <-closed:
	case <-time.After(time.Minute):
		t.Fatal("Close waits for the MJPEG viewer")
	}
}
