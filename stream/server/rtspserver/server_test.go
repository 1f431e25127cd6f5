package rtspserver

import (
	"bytes"
	"fmt"
	"image"
	stdjpeg "image/jpeg"
	"io"
	"log/slog"
	"net"
	"os"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"

	"flowcam/internal/testutil/eventually"
	"flowcam/internal/testutil/feeder"
	"flowcam/internal/testutil/rawrtsp"
	"flowcam/stream/format/rtpjpeg"
	"flowcam/stream/format/rtsp"
	"flowcam/stream/server/broadcast"
)

const testFPS = 50

// fixture is a server on loopback fed by a frame generator: the fake sits
// below the server, which is exercised through real sockets.
type fixture struct {
	srv  *Server
	addr string
	url  string
	b    *broadcast.Broadcaster
}

func testFrames(t testing.TB) [][]byte {
	var out [][]byte
	for i := 0; i < 5; i++ {
		img := image.NewYCbCr(image.Rect(0, 0, 320, 240), image.YCbCrSubsampleRatio420)
		for j := range img.Y {
			img.Y[j] = uint8(j/320*4 + i*40)
		}
		var buf bytes.Buffer
		if err := stdjpeg.Encode(&buf, img, nil); err != nil {
			t.Fatal(err)
		}
		out = append(out, buf.Bytes())
	}
	return out
}

func logger(t testing.TB) *slog.Logger {
	if os.Getenv("FLOWCAM_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

func start(t *testing.T, cfg Config) *fixture {
	t.Helper()
	pk, _ := rtpjpeg.NewPacketizer(rtpjpeg.DefaultMTU)
	b := broadcast.New(broadcast.JPEG(pk), logger(t))
	srv, addr := serve(t, cfg, Stream{Path: "/cam", Width: 320, Height: 240, FPS: testFPS, Frames: b})
	stop := feeder.Start(b, testFrames(t), testFPS)
	t.Cleanup(stop) // cleanups run last first: the feeder stops before the server
	return &fixture{srv: srv, addr: addr, url: "rtsp://" + addr + "/cam", b: b}
}

// serve runs a server for st on a loopback port until t ends.
func serve(t testing.TB, cfg Config, st Stream) (*Server, string) {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = logger(t)
	}
	srv, err := New(cfg, st)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return srv, ln.Addr().String()
}

func (f *fixture) dial(t *testing.T) *rawrtsp.Client {
	t.Helper()
	c, err := rawrtsp.Dial(f.addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func hdr(name, value string) rtsp.Field { return rtsp.Field{Name: name, Value: value} }

// TestStatusCodes walks the RTSP state machine and its error answers on
// one connection, which must survive every refusal.
func TestStatusCodes(t *testing.T) {
	f := start(t, Config{})
	c := f.dial(t)
	base := "rtsp://" + f.addr
	cases := []struct {
		name   string
		method string
		url    string
		h      []rtsp.Field
		status int
		check  func(*rtsp.Response) error
	}{
		{"options", rtsp.Options, "*", nil, 200, func(r *rtsp.Response) error {
			return want(strings.Contains(r.Header.Get("Public"), "GET_PARAMETER"), "Public %q", r.Header.Get("Public"))
		}},
		{"describe", rtsp.Describe, f.url, []rtsp.Field{hdr("Accept", "application/sdp")}, 200, func(r *rtsp.Response) error {
			sdp := string(r.Body)
			return want(r.Header.Get("Content-Base") == f.url+"/" && strings.Contains(sdp, "a=control:trackID=0") &&
				strings.Contains(sdp, "a=framerate:50") && strings.Contains(sdp, "a=x-dimensions:320,240") &&
				strings.Contains(sdp, "m=video 0 RTP/AVP 26"), "SDP:\n%s", sdp)
		}},
		{"describe trailing slash", rtsp.Describe, f.url + "/", nil, 200, nil},
		{"describe unknown path", rtsp.Describe, base + "/nope", nil, 404, nil},
		{"describe not a url", rtsp.Describe, "cam", nil, 400, nil},
		{"setup unknown track", rtsp.Setup, f.url + "/trackID=7", []rtsp.Field{hdr("Transport", "RTP/AVP/TCP;unicast")}, 404, nil},
		{"setup unknown path", rtsp.Setup, base + "/other/trackID=0", []rtsp.Field{hdr("Transport", "RTP/AVP/TCP;unicast")}, 404, nil},
		{"setup multicast", rtsp.Setup, f.url + "/trackID=0", []rtsp.Field{hdr("Transport", "RTP/AVP;multicast")}, 461, nil},
		{"setup udp without ports", rtsp.Setup, f.url + "/trackID=0", []rtsp.Field{hdr("Transport", "RTP/AVP;unicast")}, 461, nil},
		{"setup third-party destination", rtsp.Setup, f.url + "/trackID=0",
			[]rtsp.Field{hdr("Transport", "RTP/AVP;unicast;destination=192.0.2.1;client_port=4000-4001")}, 461, nil},
		{"setup record", rtsp.Setup, f.url + "/trackID=0", []rtsp.Field{hdr("Transport", "RTP/AVP/TCP;mode=record")}, 461, nil},
		{"setup no transport", rtsp.Setup, f.url + "/trackID=0", nil, 461, nil},
		{"setup savp", rtsp.Setup, f.url + "/trackID=0", []rtsp.Field{hdr("Transport", "RTP/SAVP;unicast;client_port=4000-4001")}, 461, nil},
		{"play without setup", rtsp.Play, f.url, nil, 455, nil},
		{"play unknown session", rtsp.Play, f.url, []rtsp.Field{hdr("Session", "deadbeef")}, 454, nil},
		{"pause unknown session", rtsp.Pause, f.url, []rtsp.Field{hdr("Session", "deadbeef")}, 454, nil},
		{"teardown without session", rtsp.Teardown, f.url, nil, 455, nil},
		{"get_parameter keep-alive", rtsp.GetParameter, f.url, nil, 200, nil},
		{"set_parameter unknown", rtsp.SetParameter, f.url, nil, 200, nil},
		{"record", rtsp.Record, f.url, nil, 405, nil},
		{"announce", rtsp.Announce, f.url, nil, 405, nil},
		{"unknown method", "FROB", f.url, nil, 501, nil},
		{"require unsupported", rtsp.Options, "*", []rtsp.Field{hdr("Require", "com.example.magic")}, 551, func(r *rtsp.Response) error {
			return want(r.Header.Get("Unsupported") == "com.example.magic", "Unsupported %q", r.Header.Get("Unsupported"))
		}},
	}
	for _, tc := range cases {
		res, err := c.Do(tc.method, tc.url, tc.h...)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if res.Status != tc.status {
			t.Errorf("%s: status %d %s, want %d", tc.name, res.Status, res.Reason, tc.status)
			continue
		}
		if tc.check != nil {
			if err := tc.check(res); err != nil {
				t.Errorf("%s: %v", tc.name, err)
			}
		}
	}
}

func want(ok bool, format string, args ...any) error {
	if ok {
		return nil
	}
	return fmt.Errorf(format, args...)
}

func TestMalformedRequests(t *testing.T) {
	f := start(t, Config{})
	cases := []struct {
		name   string
		raw    string
		status int
		closes bool
	}{
		{"garbage", "\x16\x03\x01garbage\r\n\r\n", 400, false},
		{"missing cseq", "OPTIONS * RTSP/1.0\r\n\r\n", 400, false},
		{"version", "OPTIONS * RTSP/2.0\r\nCSeq: 1\r\n\r\n", 505, false},
		{"GET as an RTSP method", "GET rtsp://x/cam RTSP/1.0\r\nCSeq: 1\r\n\r\n", 501, false},
		{"bad header", "OPTIONS * RTSP/1.0\r\nCSeq: 1\r\nno colon here\r\n\r\n", 400, false},
		{"huge body", "SET_PARAMETER * RTSP/1.0\r\nCSeq: 1\r\nContent-Length: 100000000\r\n\r\n", 413, true},
		{"huge line", "OPTIONS rtsp://" + strings.Repeat("x", 10000) + " RTSP/1.0\r\n\r\n", 414, true},
		{"huge header", "OPTIONS * RTSP/1.0\r\nCSeq: 1\r\n" + strings.Repeat("X-Pad: 0123456789012345678901234567890123456789\r\n", 400) + "\r\n", 400, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := f.dial(t)
			if err := c.Send(tc.raw); err != nil {
				t.Fatal(err)
			}
			res, err := c.Read()
			if err != nil || res.Status != tc.status {
				t.Fatalf("got %v %v, want status %d", res, err, tc.status)
			}
			res, err = c.Do(rtsp.Options, "*")
			if tc.closes != (err != nil) {
				t.Fatalf("after the bad request: %v %v (connection should close: %v)", res, err, tc.closes)
			}
		})
	}
}

func newUDPClient(t *testing.T) *rawrtsp.UDPReceiver {
	t.Helper()
	u, err := rawrtsp.ListenUDP()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(u.Close)
	return u
}

func frames(t *testing.T, u *rawrtsp.UDPReceiver, n int) []rtp.Packet {
	t.Helper()
	pkts, err := u.Frames(n, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	return pkts
}

func playUDP(t *testing.T, f *fixture) (*rawrtsp.Client, *rawrtsp.UDPReceiver, string, rtsp.Transport, rtsp.RTPInfo) {
	t.Helper()
	c := f.dial(t)
	u := newUDPClient(t)
	id, tr, _, err := c.Setup(f.url+"/trackID=0", u.Transport())
	if err != nil {
		t.Fatal(err)
	}
	res, err := c.Do(rtsp.Play, f.url, hdr("Session", id))
	if err != nil || res.Status != 200 {
		t.Fatalf("PLAY: %v %v", res, err)
	}
	infos, err := rtsp.ParseRTPInfo(res.Header.Get("RTP-Info"))
	if err != nil || len(infos) != 1 || infos[0].URL != f.url+"/trackID=0" {
		t.Fatalf("RTP-Info %q: %v", res.Header.Get("RTP-Info"), err)
	}
	return c, u, id, tr, infos[0]
}

func TestPlayPauseResume(t *testing.T) {
	f := start(t, Config{})
	c, u, id, tr, info := playUDP(t, f)
	if !tr.HasSSRC || tr.ServerPorts[0]%2 != 0 || tr.ServerPorts[1] != tr.ServerPorts[0]+1 {
		t.Fatalf("transport reply %+v", tr)
	}
	pkts := frames(t, u, 10)
	if pkts[0].SequenceNumber != info.Seq || pkts[0].Timestamp != info.RTPTime || pkts[0].SSRC != tr.SSRC {
		t.Fatalf("first packet seq %d ts %d ssrc %x; RTP-Info seq %d rtptime %d ssrc %x",
			pkts[0].SequenceNumber, pkts[0].Timestamp, pkts[0].SSRC, info.Seq, info.RTPTime, tr.SSRC)
	}
	checkContiguous(t, pkts)

	if res, err := c.Do(rtsp.Pause, f.url, hdr("Session", id)); err != nil || res.Status != 200 {
		t.Fatalf("PAUSE: %v %v", res, err)
	}
	// PAUSE answers once the writer has stopped, so what it sent is already
	// queued: drain that, then give a packet sent while paused (there
	// should be none) a while to show up. Neither wait synchronises.
	pkts = append(pkts, u.Packets(200*time.Millisecond)...)
	if got := u.Packets(500 * time.Millisecond); len(got) != 0 {
		t.Fatalf("%d packets arrived while paused", len(got))
	}
	last := pkts[len(pkts)-1].SequenceNumber
	res, err := c.Do(rtsp.Play, f.url, hdr("Session", id))
	if err != nil || res.Status != 200 {
		t.Fatalf("PLAY again: %v %v", res, err)
	}
	infos, _ := rtsp.ParseRTPInfo(res.Header.Get("RTP-Info"))
	more := frames(t, u, 5)
	if more[0].SequenceNumber != last+1 || len(infos) != 1 || infos[0].Seq != last+1 {
		t.Fatalf("resumed at seq %d (RTP-Info %v), want %d: numbering must continue", more[0].SequenceNumber, infos, last+1)
	}
	checkContiguous(t, more)
}

// checkContiguous proves no packet or frame was lost, repeated or
// reordered, and frames carry one timestamp with the marker on their last
// packet.
func checkContiguous(t *testing.T, pkts []rtp.Packet) {
	t.Helper()
	for i := 1; i < len(pkts); i++ {
		if pkts[i].SequenceNumber != pkts[i-1].SequenceNumber+1 {
			t.Fatalf("sequence jumps from %d to %d", pkts[i-1].SequenceNumber, pkts[i].SequenceNumber)
		}
		if !pkts[i-1].Marker && pkts[i].Timestamp != pkts[i-1].Timestamp {
			t.Fatalf("timestamp changed inside a frame at seq %d", pkts[i].SequenceNumber)
		}
		if d := pkts[i].Timestamp - pkts[i-1].Timestamp; pkts[i-1].Marker && d != 90000/testFPS {
			t.Fatalf("frame timestamps %d apart at seq %d: a frame was skipped or repeated", d, pkts[i].SequenceNumber)
		}
	}
}

func TestTeardownReleasesPorts(t *testing.T) {
	f := start(t, Config{})
	c, u, id, tr, _ := playUDP(t, f)
	frames(t, u, 2)
	if err := rawrtsp.PortsFree(tr.ServerPorts); err == nil {
		t.Fatal("server ports bindable while the session holds them")
	}
	if res, err := c.Do(rtsp.Teardown, f.url, hdr("Session", id)); err != nil || res.Status != 200 {
		t.Fatalf("TEARDOWN: %v %v", res, err)
	}
	if err := rawrtsp.PortsFree(tr.ServerPorts); err != nil {
		t.Fatalf("ports %v still held after TEARDOWN: %v", tr.ServerPorts, err)
	}
	if res, _ := c.Do(rtsp.Play, f.url, hdr("Session", id)); res.Status != 454 {
		t.Fatalf("PLAY after TEARDOWN: %d, want 454", res.Status)
	}
	if n := len(f.srv.Sessions()); n != 0 {
		t.Fatalf("%d sessions left", n)
	}
}

// stepClock is a server clock that runs with real time, plus the steps a
// test adds: a session timeout passes at a step instead of after a wait.
type stepClock struct{ skew atomic.Int64 }

func (c *stepClock) Now() time.Time       { return time.Now().Add(time.Duration(c.skew.Load())) }
func (c *stepClock) step(d time.Duration) { c.skew.Add(int64(d)) }

func noSessions(f *fixture) func() bool {
	return func() bool { return len(f.srv.Sessions()) == 0 }
}

func hasSession(f *fixture, id string) bool {
	for _, s := range f.srv.Sessions() {
		if s.ID == id {
			return true
		}
	}
	return false
}

// waitGoroutines waits until no more than max goroutines run, and fails
// with all their stacks if they never get there.
func waitGoroutines(t *testing.T, max int, what string) {
	t.Helper()
	if !eventually.Wait(time.Minute, func() bool { return runtime.NumGoroutine() <= max }) {
		buf := make([]byte, 1<<16)
		t.Fatalf("%d goroutines %s, want at most %d:\n%s", runtime.NumGoroutine(), what, max, buf[:runtime.Stack(buf, true)])
	}
}

// The session timeout is long and the server's clock is stepped past it, so
// a session cannot time out early on a slow machine, and the test does not
// wait it out.
const stepTimeout = 10 * time.Second

func TestTimeoutReleasesPortsAndGoroutines(t *testing.T) {
	baseline := runtime.NumGoroutine()
	clock := &stepClock{}
	f := start(t, Config{SessionTimeout: stepTimeout, Now: clock.Now})
	var ports [][2]int
	for i := 0; i < 3; i++ {
		c, u, _, tr, _ := playUDP(t, f)
		frames(t, u, 1)
		c.Close() // the client vanishes without TEARDOWN or keep-alives
		ports = append(ports, tr.ServerPorts)
	}
	clock.step(stepTimeout + time.Second)
	if !eventually.Wait(time.Minute, noSessions(f)) {
		t.Fatalf("%d sessions survived their timeout", len(f.srv.Sessions()))
	}
	for _, p := range ports {
		if err := rawrtsp.PortsFree(p); err != nil {
			t.Fatalf("ports %v still held after timeout: %v", p, err)
		}
	}
	// Server, reaper and frame feeder remain; nothing of the sessions.
	waitGoroutines(t, baseline+4, "after the sessions timed out")
}

// TestKeepAliveHoldsSession: GET_PARAMETER keeps a session that would
// otherwise time out. A second session, sent no keep-alives, shows the
// timeout was due and the reaper has looked.
func TestKeepAliveHoldsSession(t *testing.T) {
	clock := &stepClock{}
	f := start(t, Config{SessionTimeout: stepTimeout, Now: clock.Now})
	c, u, id, _, _ := playUDP(t, f)
	_, _, idle, _, _ := playUDP(t, f)
	keepAlive := func(i int) {
		t.Helper()
		if res, err := c.Do(rtsp.GetParameter, f.url, hdr("Session", id)); err != nil || res.Status != 200 {
			t.Fatalf("keep-alive %d: %v %v", i, res, err)
		}
	}
	// Two steps of 60% of the timeout each, a keep-alive after each: the
	// idle session is past its timeout, the kept one never is.
	for i := 0; i < 2; i++ {
		clock.step(stepTimeout * 6 / 10)
		keepAlive(i)
	}
	eventually.Require(t, time.Minute, func() bool { return !hasSession(f, idle) }, "the session without keep-alives did not time out")
	if !hasSession(f, id) {
		t.Fatal("the session with keep-alives timed out")
	}
	keepAlive(2)
	frames(t, u, 1)
}

func TestReceiverReportsAndSpoofing(t *testing.T) {
	f := start(t, Config{RTCPInterval: 100 * time.Millisecond})
	_, u, _, tr, _ := playUDP(t, f)
	frames(t, u, 1)
	// A sender report must arrive on the client's RTCP port.
	u.RTCP.SetReadDeadline(time.Now().Add(3 * time.Second))
	buf := make([]byte, 1500)
	n, err := u.RTCP.Read(buf)
	if err != nil {
		t.Fatalf("no sender report: %v", err)
	}
	pkts, err := rtcp.Unmarshal(buf[:n])
	sr, ok := pkts[0].(*rtcp.SenderReport)
	if err != nil || !ok || sr.SSRC != tr.SSRC || sr.PacketCount == 0 {
		t.Fatalf("first RTCP packet %+v err %v", pkts[0], err)
	}
	rr, _ := (&rtcp.ReceiverReport{SSRC: 1, Reports: []rtcp.ReceptionReport{{
		SSRC: tr.SSRC, FractionLost: 64, TotalLost: 7, Jitter: 90,
		LastSenderReport: uint32(sr.NTPTime >> 16), Delay: 0,
	}}}).Marshal()
	server := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: tr.ServerPorts[1]}
	// From a foreign address first: it must be ignored and counted.
	spoof, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 2)})
	if err != nil {
		t.Fatal(err)
	}
	defer spoof.Close()
	spoof.WriteTo(rr, server)
	u.RTCP.WriteTo(rr, server)
	u.RTCP.WriteTo([]byte("junk"), server)
	var s SessionInfo
	if !eventually.Wait(time.Minute, func() bool {
		s = f.srv.Sessions()[0]
		return s.Reports == 1 && s.Spoofed == 1 && s.InvalidRTCP == 1
	}) {
		t.Fatalf("stats %+v", s)
	}
	if s.FractionLost != 0.25 || s.TotalLost != 7 || s.Jitter != 90 || s.RTT <= 0 || s.RTT > time.Second {
		t.Fatalf("report read wrong: %+v", s)
	}
}

func TestTCPInterleaved(t *testing.T) {
	f := start(t, Config{RTCPInterval: 100 * time.Millisecond})
	c := f.dial(t)
	id, tr, _, err := c.Setup(f.url+"/trackID=0", "RTP/AVP/TCP;unicast;interleaved=4-5")
	if err != nil || tr.Interleaved != [2]int{4, 5} {
		t.Fatalf("SETUP: %+v %v", tr, err)
	}
	// A second TCP session on the same connection gets its own channels.
	id2, tr2, _, err := c.Setup(f.url+"/trackID=0", "RTP/AVP/TCP;unicast")
	if err != nil || tr2.Interleaved != [2]int{0, 1} {
		t.Fatalf("second SETUP: %+v %v", tr2, err)
	}
	if res, _ := c.Do(rtsp.Teardown, f.url, hdr("Session", id2)); res.Status != 200 {
		t.Fatalf("TEARDOWN second: %d", res.Status)
	}
	if res, err := c.Do(rtsp.Play, f.url, hdr("Session", id)); err != nil || res.Status != 200 {
		t.Fatalf("PLAY: %v %v", res, err)
	}
	var pkts []rtp.Packet
	sawSR := false
	for markers := 0; markers < 10 || !sawSR; {
		fr, err := c.ReadFrame(5 * time.Second)
		if err != nil {
			t.Fatal(err)
		}
		switch fr.Channel {
		case 4:
			var p rtp.Packet
			if err := p.Unmarshal(fr.Data); err != nil {
				t.Fatal(err)
			}
			pkts = append(pkts, p)
			if p.Marker {
				markers++
			}
		case 5:
			sawSR = true
		default:
			t.Fatalf("frame on channel %d", fr.Channel)
		}
	}
	checkContiguous(t, pkts)
	rr, _ := (&rtcp.ReceiverReport{SSRC: 1, Reports: []rtcp.ReceptionReport{{SSRC: tr.SSRC, FractionLost: 128}}}).Marshal()
	c.Conn.Write(append(rtsp.AppendInterleavedHeader(nil, 5, len(rr)), rr...))
	eventually.Wait(time.Minute, func() bool { return f.srv.Sessions()[0].Reports != 0 })
	if s := f.srv.Sessions()[0]; s.Reports != 1 || s.FractionLost != 0.5 {
		t.Fatalf("interleaved receiver report not read: %+v", s)
	}
	c.Close()
	eventually.Require(t, time.Minute, noSessions(f), "TCP session outlived its connection")
}

// TestStalledTCPViewerDoesNotStallOthers: a viewer that stops reading loses
// frames and is eventually dropped, while another keeps every frame.
func TestStalledTCPViewerDoesNotStallOthers(t *testing.T) {
	f := start(t, Config{WriteTimeout: 300 * time.Millisecond})
	stalled := f.dial(t)
	stalled.Conn.(*net.TCPConn).SetReadBuffer(4096)
	id, _, _, err := stalled.Setup(f.url+"/trackID=0", "RTP/AVP/TCP;unicast")
	if err != nil {
		t.Fatal(err)
	}
	stalled.Send(fmt.Sprintf("PLAY %s RTSP/1.0\r\nCSeq: 9\r\nSession: %s\r\n\r\n", f.url, id))
	_, u, _, _, _ := playUDP(t, f)
	pkts := frames(t, u, testFPS*2) // two seconds of video
	checkContiguous(t, pkts)
	eventually.Wait(time.Minute, func() bool { return len(f.srv.Sessions()) <= 1 })
	if n := len(f.srv.Sessions()); n != 1 {
		t.Fatalf("%d sessions: the stalled viewer was not dropped", n)
	}
}

func TestCloseEndsEverything(t *testing.T) {
	baseline := runtime.NumGoroutine()
	f := start(t, Config{})
	for i := 0; i < 3; i++ {
		_, u, _, _, _ := playUDP(t, f)
		frames(t, u, 1)
	}
	c := f.dial(t)
	id, _, _, _ := c.Setup(f.url+"/trackID=0", "RTP/AVP/TCP;unicast")
	c.Do(rtsp.Play, f.url, hdr("Session", id))
	start := time.Now()
	f.srv.Close()
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Close took %v", d)
	}
	if _, err := c.Read(); err == nil {
		t.Fatal("connection still open after Close")
	}
	if n := len(f.srv.Sessions()); n != 0 {
		t.Fatalf("%d sessions after Close", n)
	}
	waitGoroutines(t, baseline+2, "after Close") // the frame feeder remains
}
