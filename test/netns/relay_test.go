package netns_test

import (
	"context"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v4"

	"flowcam/internal/testutil/eventually"
	"flowcam/internal/testutil/need"
	"flowcam/internal/testutil/output"
	"flowcam/internal/testutil/player"
	"flowcam/stream/client/pull"
)

// TestRelayThroughAnOutage: flowcam relay pulls over both paths
// (duplicate) while the ethernet path goes down at 8 s and up at 14 s,
// and serves the stream on the client's side. ffmpeg (UDP and TCP) and
// GStreamer play it before, during and after the outage, and ten viewers
// watching throughout each get at least 99% of the frames.
func TestRelayThroughAnOutage(t *testing.T) {
	need.Tool(t, "ffmpeg")
	need.Tool(t, "gst-launch-1.0")
	l := newLabWith(t, "multiflow:\n  interfaces: [eth, wifi]\nsize: 640x480\nfps: 25\n")
	stats := filepath.Join(l.dir, "stats-relay.json")
	const relayURL = "rtsp://127.0.0.1:8600/cam"
	args := append([]string{"relay", l.url, "--rtsp-addr", "127.0.0.1:8600", "--duration", "24s", "--stats-json", stats,
		"--log-level", "info"}, duplicate.args()...)
	cmd := l.topo.Cmd(l.topo.Client, l.client, args...)
	var stderr output.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	if !eventually.Wait(time.Minute, func() bool { return strings.Contains(stderr.String(), "relay serving") }) {
		t.Fatalf("the relay never served:\n%s", stderr.String())
	}
	start := time.Now()
	stop := make(chan struct{})
	defer close(stop)
	go ethernetOutage(l, start, stop)

	counters, closers := watchRelay(t, l, relayURL, 10)
	for _, at := range []time.Duration{2 * time.Second, 9 * time.Second, 16 * time.Second} {
		sleepUntil(start.Add(at), stop)
		playRelay(t, l, relayURL, at)
	}
	sleepUntil(start.Add(20*time.Second), stop)
	for _, c := range closers {
		c()
	}
	for i, c := range counters {
		got, sent := c.Result()
		if sent < 400 || float64(got) < 0.99*float64(sent) {
			t.Errorf("viewer %d: %d of %d frames", i, got, sent)
		} else if i == 0 {
			t.Logf("viewer 0 of 10: %d of %d frames over the outage", got, sent)
		}
	}
	if err := <-exited; err != nil {
		t.Fatalf("flowcam relay: %v\n%s", err, stderr.String())
	}
	var rep pull.Report
	if b, err := os.ReadFile(stats); err != nil || json.Unmarshal(b, &rep) != nil {
		t.Fatalf("relay report: %v", err)
	}
	t.Logf("%s", line("relay, "+outage, duplicate.name, &rep))
}

// watchRelay starts n viewers of url in the client's namespace (their
// sockets are opened there), half over UDP and half over TCP.
func watchRelay(t *testing.T, l *lab, url string, n int) ([]*player.FrameCounter, []func()) {
	var counters []*player.FrameCounter
	var closers []func()
	for i := range n {
		c := player.NewFrameCounter(25)
		tr := gortsplib.TransportUDP
		if i%2 == 1 {
			tr = gortsplib.TransportTCP
		}
		client := &gortsplib.Client{Transport: &tr, DialContext: func(ctx context.Context, network, address string) (conn net.Conn, err error) {
			err = l.topo.RunIn(l.topo.Client, func() error {
				conn, err = (&net.Dialer{}).DialContext(ctx, network, address)
				return err
			})
			return conn, err
		}, ListenPacket: func(network, address string) (pc net.PacketConn, err error) {
			err = l.topo.RunIn(l.topo.Client, func() error {
				pc, err = net.ListenPacket(network, address)
				return err
			})
			return pc, err
		}}
		if err := player.PlayWith(client, url, c.Packet, nil); err != nil {
			t.Fatalf("viewer %d: %v", i, err)
		}
		counters, closers = append(counters, c), append(closers, client.Close)
	}
	return counters, closers
}

// playRelay has ffmpeg (UDP, TCP) and GStreamer play url in the client's
// namespace: a child started from a thread in a namespace is in it.
func playRelay(t *testing.T, l *lab, url string, at time.Duration) {
	t.Helper()
	err := l.topo.RunIn(l.topo.Client, func() error {
		for _, tr := range []string{"udp", "tcp"} {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			dec, err := player.FFmpeg(ctx, url, tr, 25, "mjpeg", "640x480")
			cancel()
			if err != nil || dec.Frames != 25 {
				t.Errorf("at %v: ffmpeg over %s: %v, %d frames", at, tr, err, dec.Frames)
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if out, err := player.GStreamer(ctx, url, 25, "video/x-raw,width=640,height=480"); err != nil {
			t.Errorf("at %v: GStreamer: %v\n%s", at, err, out)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
