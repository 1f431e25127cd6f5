package daemon_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"image/jpeg"
	"io"
	"mime"
	"mime/multipart"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v4"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"flowcam/internal/testutil/daemon"
	"flowcam/internal/testutil/eventually"
	"flowcam/internal/testutil/player"
)

// TestHTTP checks the daemon's HTTP side from outside: a snapshot, live
// MJPEG, metrics that grow while an RTSP viewer plays, and the health
// check.
func TestHTTP(t *testing.T) {
	if shared.HTTPAddr == "" {
		t.Fatal("flowcamd did not log its HTTP address")
	}
	client := &http.Client{Timeout: 10 * time.Second}

	t.Run("healthz", func(t *testing.T) {
		res, err := client.Get(shared.HTTPURL("/healthz"))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusOK || strings.TrimSpace(string(body)) != "ok" {
			t.Fatalf("healthz: %s %q", res.Status, body)
		}
	})

	t.Run("snapshot", func(t *testing.T) {
		// Right after start there may be no frame yet: 503 says so.
		var res *http.Response
		for end := time.Now().Add(3 * time.Second); ; time.Sleep(50 * time.Millisecond) {
			var err error
			if res, err = client.Get(shared.HTTPURL("/snapshot.jpg?path=/cam")); err != nil {
				t.Fatal(err)
			}
			if res.StatusCode != http.StatusServiceUnavailable || time.Now().After(end) {
				break
			}
			res.Body.Close()
		}
		defer res.Body.Close()
		if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != "image/jpeg" {
			t.Fatalf("snapshot: %s %s", res.Status, res.Header.Get("Content-Type"))
		}
		img, err := jpeg.Decode(res.Body)
		if err != nil {
			t.Fatal(err)
		}
		if b := img.Bounds(); b.Dx() != 1280 || b.Dy() != 720 {
			t.Fatalf("snapshot is %dx%d, want 1280x720", b.Dx(), b.Dy())
		}
	})

	t.Run("mjpeg", func(t *testing.T) {
		if n := distinctMJPEGFrames(t, shared.HTTPURL("/stream.mjpg"), 2*time.Second); n < 20 {
			t.Fatalf("%d distinct frames in 2 s of /stream.mjpg, want at least 20", n)
		}
	})

	t.Run("metrics", func(t *testing.T) {
		c, err := player.Play(shared.URL("/cam"), gortsplib.TransportTCP, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		counters := []string{
			`flowcam_frames_captured_total{path="/cam"}`,
			`flowcam_frames_encoded_total{path="/cam"}`,
			`flowcam_encode_duration_seconds_count{path="/cam"}`,
			`flowcam_session_bytes_total{transport="tcp"}`,
			`flowcam_session_packets_total{transport="tcp"}`,
		}
		// above is whether every counter in now exceeds its value in then.
		above := func(now, then map[string]float64) bool {
			for _, name := range counters {
				if now[name] <= then[name] {
					return false
				}
			}
			return true
		}
		// First the viewer's session shows, then every counter moves on.
		var first, second map[string]float64
		eventually.Wait(time.Minute, func() bool {
			first = scrapeDaemon(t, client)
			return above(first, nil) && first[`flowcam_sessions{path="/cam",transport="tcp"}`] >= 1
		})
		eventually.Wait(time.Minute, func() bool {
			second = scrapeDaemon(t, client)
			return above(second, first)
		})
		for _, name := range counters {
			if !(second[name] > first[name] && first[name] > 0) {
				t.Errorf("%s went from %v to %v; want it growing", name, first[name], second[name])
			}
		}
		if second[`flowcam_sessions{path="/cam",transport="tcp"}`] < 1 {
			t.Errorf("flowcam_sessions does not count the TCP viewer: %v", second)
		}
	})

	t.Run("status", func(t *testing.T) {
		res, err := client.Get(shared.HTTPURL("/status.json"))
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var st struct {
			Paths []struct {
				Path  string
				Width int
				Alive bool
			}
		}
		if err := json.NewDecoder(res.Body).Decode(&st); err != nil {
			t.Fatal(err)
		}
		if len(st.Paths) != 1 || st.Paths[0].Path != "/cam" || st.Paths[0].Width != 1280 || !st.Paths[0].Alive {
			t.Fatalf("status.json: %+v", st)
		}
	})
}

// distinctMJPEGFrames reads url for d and counts the different JPEGs.
func distinctMJPEGFrames(t *testing.T, url string, d time.Duration) int {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	_, params, err := mime.ParseMediaType(res.Header.Get("Content-Type"))
	if err != nil {
		t.Fatal(err)
	}
	mr := multipart.NewReader(res.Body, params["boundary"])
	seen := map[[32]byte]bool{}
	for end := time.Now().Add(d); time.Now().Before(end); {
		p, err := mr.NextPart()
		if err != nil {
			t.Fatalf("after %d frames: %v", len(seen), err)
		}
		data, err := io.ReadAll(p)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := jpeg.DecodeConfig(bytes.NewReader(data)); err != nil {
			t.Fatalf("part is not a JPEG: %v", err)
		}
		seen[sha256.Sum256(data)] = true
	}
	return len(seen)
}

// scrapeDaemon returns every flowcam_ sample, keyed by name and the labels
// asked for in the checks (path and transport).
func scrapeDaemon(t *testing.T, client *http.Client) map[string]float64 {
	t.Helper()
	res, err := client.Get(shared.HTTPURL("/metrics"))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	add := func(name, labels string, v float64) { out[name+labels] += v }
	for name, f := range fams {
		if !strings.HasPrefix(name, "flowcam_") {
			continue
		}
		for _, m := range f.GetMetric() {
			var path, transport string
			for _, l := range m.GetLabel() {
				switch l.GetName() {
				case "path":
					path = l.GetValue()
				case "transport":
					transport = l.GetValue()
				}
			}
			key, v := name, 0.0
			switch {
			case m.Counter != nil:
				v = m.Counter.GetValue()
			case m.Gauge != nil:
				v = m.Gauge.GetValue()
			case m.Histogram != nil:
				key, v = name+"_count", float64(m.Histogram.GetSampleCount())
			}
			switch {
			case strings.HasPrefix(key, "flowcam_session_"):
				add(key, `{transport="`+transport+`"}`, v)
			case transport != "":
				add(key, `{path="`+path+`",transport="`+transport+`"}`, v)
			case path != "":
				add(key, `{path="`+path+`"}`, v)
			default:
				add(key, "", v)
			}
		}
	}
	return out
}

// TestHTTPFollowsReload: a SIGHUP that adds and removes paths changes what
// HTTP serves; a viewer of the removed path is ended, not left hanging.
func TestHTTPFollowsReload(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "flowcamd.yaml")
	write := func(paths ...string) {
		body := "size: 320x240\nfps: 10\nstreams:\n"
		for _, p := range paths {
			body += "  - path: " + p + "\n"
		}
		if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("/a", "/b")
	d, err := daemon.Start(bin, "--config", cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Stop()
	client := &http.Client{Timeout: 10 * time.Second}
	res, err := http.Get(d.HTTPURL("/stream.mjpg?path=/b"))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	_, params, _ := mime.ParseMediaType(res.Header.Get("Content-Type"))
	if _, err := multipart.NewReader(res.Body, params["boundary"]).NextPart(); err != nil {
		t.Fatalf("/stream.mjpg?path=/b before the reload: %v", err)
	}
	ended := make(chan error, 1)
	go func() { _, err := io.Copy(io.Discard, res.Body); ended <- err }()

	write("/a", "/c")
	if err := d.Cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	select {
	case <-ended:
	case <-time.After(5 * time.Second):
		t.Fatal("MJPEG viewer of a removed path still connected after the reload")
	}
	for end := time.Now().Add(5 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		codes := map[string]int{}
		for _, p := range []string{"/a", "/b", "/c"} {
			codes[p] = httpStatus(t, client, d.HTTPURL("/snapshot.jpg?path="+p))
		}
		if codes["/a"] == 200 && codes["/b"] == 404 && codes["/c"] == 200 {
			return
		}
		if time.Now().After(end) {
			t.Fatalf("after the reload, snapshots answer %v; want /a and /c 200, /b 404", codes)
		}
	}
}

// TestHTTPViewerLimits: http.max_viewers caps the MJPEG responses (one
// more gets 503), and http.write_timeout drops a viewer that stopped
// reading, which frees its place.
func TestHTTPViewerLimits(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "flowcamd.yaml")
	body := "size: 640x480\nhttp:\n  max_viewers: 2\n  write_timeout: 1s\n"
	if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	d, err := daemon.Start(bin, "--config", cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Stop()
	url := d.HTTPURL("/stream.mjpg?path=/cam")
	client := &http.Client{Timeout: 10 * time.Second}

	reader, err := http.Get(url)
	if err != nil || reader.StatusCode != 200 {
		t.Fatalf("first viewer: %v %v", reader, err)
	}
	defer reader.Body.Close()
	go io.Copy(io.Discard, reader.Body)
	stalled := stalledViewer(t, d.HTTPAddr)
	defer stalled.Close()
	if code := httpStatus(t, client, url); code != http.StatusServiceUnavailable {
		t.Fatalf("a third viewer with max_viewers 2 got %d, want 503", code)
	}
	// The stalled viewer's socket fills, a write waits write_timeout, and
	// the server drops it: its place is free again.
	for end := time.Now().Add(20 * time.Second); httpStatus(t, client, url) != 200; time.Sleep(250 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatal("a viewer that stopped reading still holds its place 20 s later (write_timeout 1s)")
		}
	}
}

// stalledViewer asks for /stream.mjpg on a socket with a tiny receive
// buffer and never reads from it.
func stalledViewer(t *testing.T, addr string) net.Conn {
	t.Helper()
	dialer := net.Dialer{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		c.Control(func(fd uintptr) { serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
		return serr
	}}
	c, err := dialer.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(c, "GET /stream.mjpg?path=/cam HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	status := make([]byte, len("HTTP/1.1 200"))
	if _, err := io.ReadFull(c, status); err != nil || string(status) != "HTTP/1.1 200" {
		t.Fatalf("stalled viewer: %q %v", status, err)
	}
	return c
}

// httpStatus opens url, returns the status and closes the response (an
// MJPEG stream's too, once its headers came).
func httpStatus(t *testing.T, client *http.Client, url string) int {
	t.Helper()
	res, err := client.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode
}
