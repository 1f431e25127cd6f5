// Package hostile_test drives the real flowcamd with hostile clients while
// a well-behaved ffmpeg client watches: fuzzed and oversized requests,
// slowloris, connection churn, vanishing clients, spoofed RTCP and every
// limit. The daemon must answer each with the documented status or close,
// never crash or stall, and end with its goroutines, descriptors and
// sessions back where they were.
package hostile_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v4"
	"github.com/pion/rtp"

	"flowcam/internal/testutil/daemon"
	"flowcam/internal/testutil/eventually"
	"flowcam/internal/testutil/need"
	"flowcam/internal/testutil/player"
	"flowcam/stream/format/rtsp"
)

const (
	fps            = 25
	requestTimeout = time.Second
	idleTimeout    = 5 * time.Second
	sessionTimeout = 3 * time.Second
	perIPSessions  = 4
	perIPConns     = 32
	ratePerSecond  = 20
	udpLo, udpHi   = 32000, 32999
	fuzzRequests   = 10000
)

// The daemon's limits for the attack. The defaults, but with short timeouts
// so slowloris, idle connections and vanished sessions are dealt with
// within the test, and small per-address limits so they can be hit.
// requests_per_second stays at the default 20 (bursts of 40): the 10 000
// fuzzed requests are spread over about 900 connections of at most 20
// requests each rather than allowed through a raised limit, so the rate
// limit protecting real deployments is the one being attacked, and its
// own test (TestHostile/rate) floods one connection past it.
var config = fmt.Sprintf(`size: 640x480
fps: %d
rtsp:
  session_timeout: %s
  write_timeout: 2s
  max_sessions: 64
  max_sessions_per_ip: %d
  max_connections: 256
  max_connections_per_ip: %d
  requests_per_second: %d
  request_timeout: %s
  idle_timeout: %s
  max_line_bytes: 4096
  max_header_bytes: 16384
  max_body_bytes: 65536
  udp_ports: "%d-%d"
`, fps, sessionTimeout, perIPSessions, perIPConns, ratePerSecond, requestTimeout, idleTimeout, udpLo, udpHi)

// Every attack comes from its own loopback address, so each per-address
// limit sees only its own attacker. The well-behaved clients use 127.0.0.1.
const (
	// fuzz workers: 127.0.1.1 to 127.0.1.8
	sizeIP     = "127.0.0.4"
	slowIP     = "127.0.0.5"
	cycleIP    = "127.0.0.6"
	vanishUDP  = "127.0.0.7"
	vanishTCP  = "127.0.0.17"
	spoofOwner = "127.0.0.8"
	spoofer    = "127.0.0.9"
	sessIP     = "127.0.0.10"
	connIP     = "127.0.0.11"
	rateIP     = "127.0.0.12"
)

func TestHostile(t *testing.T) {
	need.Tool(t, "ffmpeg")
	for _, k := range []string{"SESSION_TIMEOUT", "WRITE_TIMEOUT", "MAX_SESSIONS", "MAX_SESSIONS_PER_IP", "MAX_CONNECTIONS",
		"MAX_CONNECTIONS_PER_IP", "REQUESTS_PER_SECOND", "REQUEST_TIMEOUT", "IDLE_TIMEOUT", "UDP_PORTS"} {
		t.Setenv("FLOWCAM_RTSP_"+k, "") // this test's config file decides
	}
	dir := t.TempDir()
	bin, err := daemon.Binary(dir)
	if err != nil {
		t.Fatal(err)
	}
	cfg := dir + "/flowcamd.yaml"
	if err := os.WriteFile(cfg, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	d, err := daemon.Start(bin, "--config", cfg, "--source", "pattern")
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := d.Stop(); err != nil {
			t.Errorf("stopping flowcamd: %v", err)
		}
		if f := os.Getenv("HOSTILE_LOG"); f != "" {
			os.WriteFile(f, []byte(d.Logs()), 0o644)
		}
		if t.Failed() {
			t.Logf("--- flowcamd log (tail; HOSTILE_LOG=FILE saves all of it) ---\n%s", daemon.Tail(d.Logs(), 80))
		}
	}()
	url := d.URL("/cam")

	watcher := startFFmpeg(t, url)
	defer watcher.stop()
	if !watcher.waitFrames(25, 20*time.Second) {
		t.Fatalf("ffmpeg received no frames:\n%s", watcher.output())
	}
	// The baseline is taken with ffmpeg's session playing, once the
	// daemon's counts have stopped moving.
	if !eventually.Wait(time.Minute, func() bool {
		s := sessions(t, d)
		return len(s) == 1 && s[0].Playing && s[0].Frames > 0
	}) {
		t.Fatalf("ffmpeg's session is not listed as playing: %+v", sessions(t, d))
	}
	base := steady(t, d)
	t.Logf("baseline with ffmpeg watching: %v", base)

	seed := time.Now().UnixNano()
	if s := os.Getenv("HOSTILE_SEED"); s != "" {
		seed, _ = strconv.ParseInt(s, 10, 64)
	}
	t.Logf("fuzz seed %d (HOSTILE_SEED=%d replays the requests)", seed, seed)

	var stuck []net.Conn // clients that stopped reading; closed at the end
	var stuckMu sync.Mutex
	attacks := []struct {
		name string
		run  func(t *testing.T)
	}{
		{"fuzz", func(t *testing.T) { fuzz(t, d, seed) }},
		{"oversized", func(t *testing.T) { oversized(t, d) }},
		{"slowloris", func(t *testing.T) { slowloris(t, d) }},
		{"cycles", func(t *testing.T) { cycles(t, d) }},
		{"vanish", func(t *testing.T) {
			c := vanish(t, d)
			stuckMu.Lock()
			stuck = append(stuck, c...)
			stuckMu.Unlock()
		}},
		{"spoof", func(t *testing.T) { spoof(t, d) }},
		{"session-limit", func(t *testing.T) { sessionLimit(t, d) }},
		{"connection-limit", func(t *testing.T) { connectionLimit(t, d) }},
		{"rate", func(t *testing.T) { rateLimit(t, d) }},
		{"soap", func(t *testing.T) { soap(t, d) }},
		{"tunnel", func(t *testing.T) { tunnel(t, d) }},
	}
	// All at once: the group returns when every attack has.
	t.Run("attacks", func(t *testing.T) {
		for _, a := range attacks {
			t.Run(a.name, func(t *testing.T) {
				t.Parallel()
				a.run(t)
			})
		}
	})
	if !d.Alive() {
		t.Fatalf("flowcamd died under attack:\n%s", daemon.Tail(d.Logs(), 80))
	}
	if l := d.Logs(); strings.Contains(l, "panic") || strings.Contains(l, "goroutine ") {
		t.Errorf("panic in the log:\n%s", daemon.Tail(l, 80))
	}

	// Vanished sessions are reaped, including those whose client keeps a
	// socket open but stopped reading; only ffmpeg's remains.
	deadline := time.Now().Add(sessionTimeout + 12*time.Second)
	var left []sessionStatus
	for {
		left = sessions(t, d)
		if len(left) == 1 || time.Now().After(deadline) {
			break
		}
		time.Sleep(250 * time.Millisecond)
	}
	if len(left) != 1 || !strings.HasPrefix(left[0].Client, "127.0.0.1:") {
		t.Errorf("sessions after the attack: %+v, want only ffmpeg's", left)
	}
	if err := d.WaitLog(`"reason":"timeout"`, 5*time.Second); err != nil {
		t.Errorf("no session closed by timeout: %v", err)
	} else {
		t.Logf("%d sessions reaped by timeout", strings.Count(d.Logs(), `"reason":"timeout"`))
	}
	for _, c := range stuck {
		c.Close()
	}

	// The server still answers and plays to a fresh client.
	stillServes(t, d)

	watcher.report(t)
	after := settle(t, d, &base)
	t.Logf("after the attack: %v (baseline %v)", after, base)
}

// ---- the well-behaved ffmpeg client ------------------------------------

type ffmpegWatcher struct {
	cmd     *exec.Cmd
	mu      sync.Mutex
	samples []sample
	out     bytes.Buffer
	done    chan struct{}
}

type sample struct {
	at     time.Time
	frames int
}

var frameRE = regexp.MustCompile(`frame=\s*(\d+)`)

// startFFmpeg plays url over TCP (copying the JPEG frames, no decoding, so
// ffmpeg's own CPU does not compete with the daemon) and samples its
// frame count twice a second from the progress lines.
func startFFmpeg(t *testing.T, url string) *ffmpegWatcher {
	w := &ffmpegWatcher{done: make(chan struct{})}
	w.cmd = exec.Command("ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-stats", "-stats_period", "0.5",
		"-rtsp_transport", "tcp", "-i", url, "-c", "copy", "-f", "null", "-")
	stderr, err := w.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := w.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(w.done)
		sc := bufio.NewScanner(stderr)
		sc.Split(splitCRLF)
		for sc.Scan() {
			line := sc.Text()
			w.mu.Lock()
			if m := frameRE.FindStringSubmatch(line); m != nil {
				n, _ := strconv.Atoi(m[1])
				w.samples = append(w.samples, sample{time.Now(), n})
			} else if w.out.Len() < 16<<10 {
				w.out.WriteString(line + "\n")
			}
			w.mu.Unlock()
		}
	}()
	return w
}

// splitCRLF splits ffmpeg's stderr at \r (progress) and \n (messages).
func splitCRLF(data []byte, atEOF bool) (int, []byte, error) {
	if i := bytes.IndexAny(data, "\r\n"); i >= 0 {
		return i + 1, data[:i], nil
	}
	if atEOF && len(data) > 0 {
		return len(data), data, nil
	}
	return 0, nil, nil
}

func (w *ffmpegWatcher) frames() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.samples) == 0 {
		return 0
	}
	return w.samples[len(w.samples)-1].frames
}

func (w *ffmpegWatcher) waitFrames(n int, timeout time.Duration) bool {
	for end := time.Now().Add(timeout); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
		if w.frames() >= n {
			return true
		}
	}
	return false
}

func (w *ffmpegWatcher) output() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.out.String()
}

func (w *ffmpegWatcher) stop() {
	if w.cmd.ProcessState == nil {
		w.cmd.Process.Signal(syscall.SIGINT)
		select {
		case <-w.done:
		case <-time.After(5 * time.Second):
			w.cmd.Process.Kill()
		}
		w.cmd.Wait()
	}
}

// report checks that ffmpeg kept receiving: at least 90% of the frames the
// stream's rate promises over the run, and no stall longer than 2 s
// (sampled every 0.5 s, so 2.5 s between increases).
func (w *ffmpegWatcher) report(t *testing.T) int {
	select {
	case <-w.done:
		t.Errorf("ffmpeg exited during the attack:\n%s", w.output())
	default:
	}
	w.mu.Lock()
	s := append([]sample(nil), w.samples...)
	w.mu.Unlock()
	if len(s) < 2 {
		t.Fatalf("ffmpeg reported no progress:\n%s", w.output())
	}
	first, last := s[0], s[len(s)-1]
	got := last.frames - first.frames
	expected := int(last.at.Sub(first.at).Seconds() * fps)
	var gap time.Duration
	changed := first.at
	for i := 1; i < len(s); i++ {
		if s[i].frames > s[i-1].frames {
			gap = max(gap, s[i].at.Sub(changed))
			changed = s[i].at
		}
	}
	gap = max(gap, last.at.Sub(changed))
	t.Logf("ffmpeg: %d of %d expected frames (%.1f%%) over %v; longest stall %v",
		got, expected, 100*float64(got)/float64(max(expected, 1)), last.at.Sub(first.at).Round(time.Millisecond), gap.Round(time.Millisecond))
	if float64(got) < 0.9*float64(expected) {
		t.Errorf("ffmpeg got %d of %d frames (< 90%%)", got, expected)
	}
	if gap > 2500*time.Millisecond {
		t.Errorf("ffmpeg received no frame for %v", gap)
	}
	return got
}

// ---- daemon state ----------------------------------------------------------

type sessionStatus struct {
	ID, Client, Transport string
	Playing               bool
	Frames                uint64
	FractionLost          float64 `json:"fraction_lost"`
	TotalLost             uint32  `json:"total_lost"`
	Jitter                int64   `json:"jitter_ns"`
}

func sessions(t *testing.T, d *daemon.Daemon) []sessionStatus {
	t.Helper()
	c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	res, err := c.Get(d.HTTPURL("/status.json"))
	if err != nil {
		t.Errorf("status.json: %v", err)
		return nil
	}
	defer res.Body.Close()
	var st struct{ Sessions []sessionStatus }
	if err := json.NewDecoder(res.Body).Decode(&st); err != nil {
		t.Errorf("status.json: %v", err)
	}
	return st.Sessions
}

// settle reads the daemon's resources; with a baseline it polls for up to
// 10 s until they are back within a small constant of it (a scrape's own
// goroutines, a connection still closing), and fails if they are not.
func settle(t *testing.T, d *daemon.Daemon, base *daemon.Resources) daemon.Resources {
	t.Helper()
	const slackFDs, slackGoroutines = 4, 8
	var r daemon.Resources
	var err error
	for end := time.Now().Add(10 * time.Second); ; time.Sleep(250 * time.Millisecond) {
		r, err = d.Resources()
		if err != nil {
			t.Fatalf("resources: %v", err)
		}
		if base == nil || (r.FDs <= base.FDs+slackFDs && r.Goroutines <= base.Goroutines+slackGoroutines) || time.Now().After(end) {
			break
		}
	}
	if base != nil {
		if r.FDs > base.FDs+slackFDs {
			t.Errorf("open descriptors %d, baseline %d: leak", r.FDs, base.FDs)
			if l, err := exec.Command("ls", "-l", fmt.Sprintf("/proc/%d/fd", d.Cmd.Process.Pid)).Output(); err == nil {
				t.Logf("%s", l)
			}
		}
		if r.Goroutines > base.Goroutines+slackGoroutines {
			t.Errorf("goroutines %d, baseline %d: leak", r.Goroutines, base.Goroutines)
		}
	}
	return r
}

// steady reads the daemon's resources until two readings in a row agree
// (a scrape's goroutines and connections come and go), for a baseline.
// If they keep moving it settles for the last reading: the leak check
// allows some slack anyway.
func steady(t *testing.T, d *daemon.Daemon) daemon.Resources {
	t.Helper()
	var last daemon.Resources
	read := func() daemon.Resources {
		r, err := d.Resources()
		if err != nil {
			t.Fatalf("resources: %v", err)
		}
		return r
	}
	last = read()
	eventually.Wait(30*time.Second, func() bool {
		r := read()
		same := r.FDs == last.FDs && r.Goroutines == last.Goroutines
		last = r
		return same
	})
	return last
}

// stillServes: OPTIONS and DESCRIBE answer, and a fresh gortsplib client
// plays.
func stillServes(t *testing.T, d *daemon.Daemon) {
	t.Helper()
	c := dial(t, "127.0.0.1", d.Addr)
	defer c.Close()
	for _, m := range []string{rtsp.Options, rtsp.Describe} {
		res, err := c.do(m, d.URL("/cam"))
		if err != nil || res.Status != 200 {
			t.Errorf("%s after the attack: %v %v", m, res, err)
		}
	}
	var mu sync.Mutex
	frames := 0
	p, err := player.Play(d.URL("/cam"), gortsplib.TransportTCP, func(p *rtp.Packet) {
		if p.Marker {
			mu.Lock()
			frames++
			mu.Unlock()
		}
	}, nil)
	if err != nil {
		t.Errorf("a fresh gortsplib client cannot play: %v", err)
		return
	}
	defer p.Close()
	for end := time.Now().Add(10 * time.Second); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
		mu.Lock()
		n := frames
		mu.Unlock()
		if n >= 25 {
			t.Logf("a fresh gortsplib client plays: %d frames", n)
			return
		}
	}
	t.Errorf("a fresh gortsplib client got %d frames in 10 s", frames)
}

// ---- raw RTSP from a chosen loopback address --------------------------------

type client struct {
	net.Conn
	r    *rtsp.Reader
	cseq int
}

func dialFrom(local, addr string) (*client, error) {
	d := net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}}
	nc, err := d.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	return &client{Conn: nc, r: rtsp.NewReader(nc, rtsp.Limits{MaxBody: 1 << 20})}, nil
}

func dial(t *testing.T, local, addr string) *client {
	t.Helper()
	c, err := dialFrom(local, addr)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func (c *client) do(method, url string, h ...rtsp.Field) (*rtsp.Response, error) {
	c.cseq++
	req := &rtsp.Request{Method: method, URL: url, Header: append(rtsp.Header{{Name: "CSeq", Value: strconv.Itoa(c.cseq)}}, h...)}
	if _, err := c.Write(req.AppendTo(nil)); err != nil {
		return nil, err
	}
	return c.read(5 * time.Second)
}

// read returns the next response within timeout, skipping media.
func (c *client) read(timeout time.Duration) (*rtsp.Response, error) {
	c.SetReadDeadline(time.Now().Add(timeout))
	for {
		res, f, err := c.r.ReadResponse()
		if f != nil && err == nil {
			continue
		}
		return res, err
	}
}

// closedWithin reports whether the server closes the connection within
// timeout (reading and discarding whatever comes first).
func (c *client) closedWithin(timeout time.Duration) error {
	c.SetReadDeadline(time.Now().Add(timeout))
	_, err := io.Copy(io.Discard, c)
	if err == nil || isReset(err) {
		return nil
	}
	return err
}

func isReset(err error) bool {
	return errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
