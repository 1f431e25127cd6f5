package daemon_test

import (
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v4"

	"flowcam/internal/testutil/daemon"
	"flowcam/internal/testutil/eventually"
	"flowcam/internal/testutil/player"
	"flowcam/internal/testutil/rawrtsp"
	"flowcam/stream/format/rtsp"
)

// TestTwentyConcurrentClients holds 10 UDP and 10 TCP viewers for 10 s of
// stream (250 frames at 25 fps); each must get at least 99% of the frames
// sent.
func TestTwentyConcurrentClients(t *testing.T) {
	const n = 20
	counters := make([]*player.FrameCounter, n)
	clients := make([]*gortsplib.Client, n)
	for i := range clients {
		tr := gortsplib.TransportUDP
		if i%2 == 1 {
			tr = gortsplib.TransportTCP
		}
		counters[i] = player.NewFrameCounter(25)
		clients[i] = startGortsplib(t, shared.URL("/cam"), tr, counters[i].Packet, nil)
	}
	// The stream's clock, not ours, measures the 10 s: a busy machine
	// stretches the wait, not the test.
	const frames = 10 * 25
	eventually.Wait(2*time.Minute, func() bool {
		for _, c := range counters {
			if _, sent := c.Result(); sent < frames {
				return false
			}
		}
		return true
	})
	for _, c := range clients {
		c.Close()
	}
	total := 0
	for i, c := range counters {
		got, sent := c.Result()
		total += got
		t.Logf("client %2d (%s): %d of %d frames", i, []string{"udp", "tcp"}[i%2], got, sent)
		if sent < frames || float64(got) < 0.99*float64(sent) {
			t.Errorf("client %d got %d of %d frames (< 99%%)", i, got, sent)
		}
	}
	t.Logf("%d clients received %d frames in 10 s of stream", n, total)
}

func dialShared(t *testing.T) *rawrtsp.Client {
	t.Helper()
	c, err := rawrtsp.Dial(shared.Addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func setupUDP(t *testing.T, c *rawrtsp.Client, url string) (string, rtsp.Transport, *rawrtsp.UDPReceiver) {
	t.Helper()
	u, err := rawrtsp.ListenUDP()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(u.Close)
	id, tr, _, err := c.Setup(url+"/trackID=0", u.Transport())
	if err != nil {
		t.Fatal(err)
	}
	return id, tr, u
}

func TestPausePlayTeardown(t *testing.T) {
	c := dialShared(t)
	url := shared.URL("/cam")
	id, tr, viewer := setupUDP(t, c, url)
	session := rtsp.Field{Name: "Session", Value: id}
	if res, err := c.Do(rtsp.Play, url, session); err != nil || res.Status != 200 {
		t.Fatalf("PLAY: %v %v", res, err)
	}
	if n := len(viewer.Packets(time.Second)); n < 20 {
		t.Fatalf("%d packets in the first second of PLAY", n)
	}
	if res, err := c.Do(rtsp.Pause, url, session); err != nil || res.Status != 200 {
		t.Fatalf("PAUSE: %v %v", res, err)
	}
	viewer.Packets(200 * time.Millisecond) // already in flight
	if n := len(viewer.Packets(time.Second)); n != 0 {
		t.Fatalf("%d packets arrived while paused", n)
	}
	if res, err := c.Do(rtsp.Play, url, session); err != nil || res.Status != 200 {
		t.Fatalf("PLAY after PAUSE: %v %v", res, err)
	}
	if n := len(viewer.Packets(time.Second)); n < 20 {
		t.Fatalf("%d packets after resuming", n)
	}
	if err := rawrtsp.PortsFree(tr.ServerPorts); err == nil {
		t.Fatal("server ports free while the session holds them")
	}
	if res, err := c.Do(rtsp.Teardown, url, session); err != nil || res.Status != 200 {
		t.Fatalf("TEARDOWN: %v %v", res, err)
	}
	if err := rawrtsp.PortsFree(tr.ServerPorts); err != nil {
		t.Fatalf("server ports %v still held after TEARDOWN: %v", tr.ServerPorts, err)
	}
}

// TestSessionTimeout: a viewer that vanishes without TEARDOWN is closed
// after the configured timeout and its ports are released.
func TestSessionTimeout(t *testing.T) {
	d, err := daemon.Start(bin, "--session-timeout", "2s", "--size", "320x240")
	if err != nil {
		t.Fatal(err)
	}
	defer d.Stop()
	c, err := rawrtsp.Dial(d.Addr)
	if err != nil {
		t.Fatal(err)
	}
	id, tr, viewer := setupUDP(t, c, d.URL("/cam"))
	if res, err := c.Do(rtsp.Play, d.URL("/cam"), rtsp.Field{Name: "Session", Value: id}); err != nil || res.Status != 200 {
		t.Fatalf("PLAY: %v %v", res, err)
	}
	if len(viewer.Packets(500*time.Millisecond)) == 0 {
		t.Fatal("no packets")
	}
	c.Close()
	viewer.Close() // no RTCP, no keep-alive: the client is gone
	deadline := time.Now().Add(10 * time.Second)
	for rawrtsp.PortsFree(tr.ServerPorts) != nil && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	if err := rawrtsp.PortsFree(tr.ServerPorts); err != nil {
		t.Fatalf("ports %v still held 10 s after the client vanished: %v", tr.ServerPorts, err)
	}
	if err := d.WaitLog(`"reason":"timeout"`, 5*time.Second); err != nil {
		t.Fatal(err)
	}
}

// TestBadInputOthersUnaffected sends malformed and invalid requests while a
// viewer plays; each gets its 4xx and the viewer loses nothing.
func TestBadInputOthersUnaffected(t *testing.T) {
	viewer := player.NewFrameCounter(25)
	client := startGortsplib(t, shared.URL("/cam"), gortsplib.TransportUDP, viewer.Packet, nil)
	defer client.Close()
	url := shared.URL("/cam")
	transport := func(v string) rtsp.Field { return rtsp.Field{Name: "Transport", Value: v} }
	requests := []struct {
		name   string
		method string
		url    string
		h      []rtsp.Field
		status int
	}{
		{"unknown path", rtsp.Describe, shared.URL("/nope"), nil, 404},
		{"unknown track", rtsp.Setup, url + "/trackID=3", []rtsp.Field{transport("RTP/AVP/TCP;unicast")}, 404},
		{"play without setup", rtsp.Play, url, nil, 455},
		{"unknown session", rtsp.Play, url, []rtsp.Field{{Name: "Session", Value: "0000"}}, 454},
		{"multicast", rtsp.Setup, url + "/trackID=0", []rtsp.Field{transport("RTP/AVP;multicast")}, 461},
		{"no client ports", rtsp.Setup, url + "/trackID=0", []rtsp.Field{transport("RTP/AVP;unicast")}, 461},
	}
	for _, r := range requests {
		c := dialShared(t)
		res, err := c.Do(r.method, r.url, r.h...)
		if err != nil || res.Status != r.status {
			t.Errorf("%s: %v %v, want %d", r.name, res, err, r.status)
		}
	}
	raw := []struct {
		name, data string
		status     int
	}{
		{"garbage", "\x00\x01\x02 hello\r\n\r\n", 400},
		{"no cseq", "OPTIONS * RTSP/1.0\r\n\r\n", 400},
		{"oversized header", "OPTIONS * RTSP/1.0\r\nCSeq: 1\r\nX: " + strings.Repeat("y", 100000) + "\r\n\r\n", 400},
		{"oversized body", "SET_PARAMETER * RTSP/1.0\r\nCSeq: 1\r\nContent-Length: 99999999\r\n\r\n", 413},
	}
	for _, r := range raw {
		c := dialShared(t)
		c.Send(r.data)
		res, err := c.Read()
		if err != nil || res.Status != r.status {
			t.Errorf("%s: %v %v, want %d", r.name, res, err, r.status)
		}
	}
	// Abrupt disconnects in every state.
	for i := 0; i < 20; i++ {
		c := dialShared(t)
		if i%2 == 0 {
			c.Setup(url+"/trackID=0", "RTP/AVP/TCP;unicast")
		}
		c.Send("PLAY " + url + " RTSP/1.0\r\nCSe")
		c.Close()
	}
	// The daemon has dropped every abusive session once no TCP session is
	// left (the viewer plays over UDP); the viewer's frames then run on
	// for another second of stream past that point.
	eventually.Require(t, time.Minute, func() bool {
		return scrapeDaemon(t, &http.Client{Timeout: 10 * time.Second})[`flowcam_sessions{path="/cam",transport="tcp"}`] == 0
	}, "TCP sessions of closed connections are still open")
	_, mark := viewer.Result()
	eventually.Require(t, time.Minute, func() bool { _, sent := viewer.Result(); return sent >= mark+25 },
		"the viewer received no frame for a minute after the abuse (%d frames sent before)", mark)
	got, sent := viewer.Result()
	t.Logf("viewer received %d of %d frames during the abuse", got, sent)
	if sent < 25 || float64(got) < 0.99*float64(sent) {
		t.Fatalf("viewer got %d of %d frames", got, sent)
	}
}

func TestBadConfigFailsAtStart(t *testing.T) {
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"--fps", "0"}, "fps = 0"},
		{[]string{"--size", "1000x7"}, "size"},
		{[]string{"--source", ""}, "accepted values are pattern"},
		{[]string{"--source", "/nonexistent/clip.mkv"}, "/nonexistent/clip.mkv"},
		{[]string{"--quality", "0"}, "quality"},
	}
	for _, c := range cases {
		_, err := daemon.Start(bin, c.args...)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: %v, want an exit naming %q", c.args, err, c.want)
		}
	}
}

// TestSignalsStopCleanly stops a daemon with viewers on each transport by
// SIGINT and SIGTERM. The daemon bounds its own shutdown to under a second.
func TestSignalsStopCleanly(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		d, err := daemon.Start(bin, "--size", "640x480")
		if err != nil {
			t.Fatal(err)
		}
		udp, tcp := player.NewFrameCounter(25), player.NewFrameCounter(25)
		viewers := []*gortsplib.Client{
			startGortsplib(t, d.URL("/cam"), gortsplib.TransportUDP, udp.Packet, nil),
			startGortsplib(t, d.URL("/cam"), gortsplib.TransportTCP, tcp.Packet, nil),
		}
		// Stop with frames flowing to both.
		eventually.Require(t, time.Minute, func() bool {
			u, _ := udp.Result()
			c, _ := tcp.Result()
			return u > 0 && c > 0
		}, "%v: the viewers received no frame", sig)
		took, err := d.Signal(sig, 5*time.Second)
		for _, v := range viewers {
			v.Close()
		}
		t.Logf("%v: exited after %v", sig, took.Round(time.Millisecond))
		if err != nil {
			t.Fatalf("%v: %v", sig, err)
		}
		if !strings.Contains(d.Logs(), "flowcamd stopped") {
			t.Fatalf("%v: no clean stop in the log:\n%s", sig, d.Logs())
		}
	}
}
