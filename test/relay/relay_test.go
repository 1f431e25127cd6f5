// Package relay_test runs flowcam relay between the real daemon and real
// players: it pulls over two flows and serves what it plays as plain
// RTSP, which ffmpeg (UDP and TCP), GStreamer and ten gortsplib viewers
// play.
package relay_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v4"

	"flowcam/internal/testutil/daemon"
	"flowcam/internal/testutil/eventually"
	"flowcam/internal/testutil/hub"
	"flowcam/internal/testutil/need"
	"flowcam/internal/testutil/output"
	"flowcam/internal/testutil/player"
	"flowcam/stream/auth"
)

const x264Helper = "ffmpeg -hide_banner -nostdin -loglevel error -re -f lavfi -i testsrc2=size=320x240:rate=25 " +
	"-c:v libx264 -preset ultrafast -tune zerolatency -g 25 -bf 0 -x264-params aud=1 -f h264 -"

// relayProc is a running flowcam relay and what it logged.
type relayProc struct{ logs output.Buffer }

func (r *relayProc) log() string { return r.logs.String() }

// waitLog waits for a log line matching re and returns its first group.
func (r *relayProc) waitLog(t *testing.T, re string) string {
	t.Helper()
	rx := regexp.MustCompile(re)
	var m []string
	if !eventually.Wait(time.Minute, func() bool { m = rx.FindStringSubmatch(r.log()); return m != nil }) {
		t.Fatalf("the relay never logged %q:\n%s", re, r.log())
	}
	if len(m) > 1 {
		return m[1]
	}
	return m[0]
}

// runRelay runs flowcam relay against url with args.
func runRelay(t *testing.T, url string, args ...string) *relayProc {
	t.Helper()
	client, err := daemon.ClientBinary(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	argv := []string{"relay", "--log-level", "info"}
	if url != "" {
		argv = append(argv, url)
	}
	cmd := exec.Command(client, append(argv, args...)...)
	r := &relayProc{}
	cmd.Stderr = &r.logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Signal(os.Interrupt); cmd.Wait() })
	return r
}

// startRelay runs flowcam relay serving on a free loopback port and
// returns the URL it serves.
func startRelay(t *testing.T, url string, args ...string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	r := runRelay(t, url, append([]string{"--rtsp-addr", addr}, args...)...)
	return r.waitLog(t, `msg="relay serving" url=(\S+)`)
}

// TestRelayPlays: the relay of an MJPEG and of an H.264 path, pulled over
// two duplicated flows, plays in ffmpeg over UDP and TCP and in GStreamer.
func TestRelayPlays(t *testing.T) {
	need.Tool(t, "ffmpeg")
	need.Tool(t, "gst-launch-1.0")
	for _, c := range []struct {
		codec, config string
	}{
		{"mjpeg", "size: 320x240\nfps: 25\nsource: pattern\n"},
		{"h264", fmt.Sprintf("size: 320x240\nfps: 25\nsource: %q\nexec:\n  format: h264\n", "exec:"+x264Helper)},
	} {
		t.Run(c.codec, func(t *testing.T) {
			d := daemon.StartConfig(t, c.config, "--http-addr", "")
			url := startRelay(t, d.URL("/cam"), "--flows", "2", "--mode", "duplicate")
			for _, tr := range []string{"udp", "tcp"} {
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				dec, err := player.FFmpeg(ctx, url, tr, 50, c.codec, "320x240")
				cancel()
				if err != nil || dec.Frames != 50 || dec.Distinct < 40 {
					t.Fatalf("ffmpeg over %s: %v, %d frames, %d distinct", tr, err, dec.Frames, dec.Distinct)
				}
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			play := player.GStreamer
			if c.codec == "h264" {
				play = player.GStreamerH264
			}
			if out, err := play(ctx, url, 25, "video/x-raw,width=320,height=240"); err != nil {
				t.Fatalf("GStreamer: %v\n%s", err, out)
			}
		})
	}
}

// TestRelayViewers: ten viewers of the relay, half over UDP and half over
// TCP, each get at least 99% of the frames sent while they watch.
func TestRelayViewers(t *testing.T) {
	d := daemon.StartConfig(t, "size: 320x240\nfps: 25\nsource: pattern\n", "--http-addr", "")
	url := startRelay(t, d.URL("/cam"), "--flows", "2", "--mode", "duplicate")
	counters := make([]*player.FrameCounter, 10)
	var wg sync.WaitGroup
	for i := range counters {
		counters[i] = player.NewFrameCounter(25)
		tr := gortsplib.TransportUDP
		if i%2 == 1 {
			tr = gortsplib.TransportTCP
		}
		c, err := player.Play(url, tr, counters[i].Packet, nil)
		if err != nil {
			t.Fatalf("viewer %d: %v", i, err)
		}
		wg.Add(1)
		go func() { defer wg.Done(); time.Sleep(8 * time.Second); c.Close() }()
	}
	delay := relayDelay(t, url, 8*time.Second)
	wg.Wait()
	for i, c := range counters {
		got, sent := c.Result()
		if sent < 150 || float64(got) < 0.99*float64(sent) {
			t.Errorf("viewer %d: %d of %d frames", i, got, sent)
		}
		if i == 0 {
			t.Logf("viewer 0: %d of %d frames in 8 s", got, sent)
		}
	}
	if delay["samples"] < 100 {
		t.Fatalf("%v frames timed through the relay's sender reports", delay["samples"])
	}
	t.Logf("the relay's own delay, its play-out to a viewer's socket: p50 %.1f ms, p95 %.1f ms, max %.1f ms (a frame interval is 40 ms)",
		delay["p50"], delay["p95"], delay["max"])
}

// relayDelay pulls url with flowcam pull for d and returns its report's
// arrival latency: from the time the relay's sender reports give a frame,
// its play-out there, to its last packet reaching this second client.
func relayDelay(t *testing.T, url string, d time.Duration) map[string]float64 {
	t.Helper()
	client, err := daemon.ClientBinary(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	stats := filepath.Join(t.TempDir(), "stats.json")
	if out, err := exec.Command(client, "pull", url, "--duration", d.String(), "--stats-json", stats).CombinedOutput(); err != nil {
		t.Fatalf("flowcam pull of the relay: %v\n%s", err, out)
	}
	var rep struct {
		Arrival map[string]float64 `json:"arrival_latency_ms"`
	}
	if b, err := os.ReadFile(stats); err != nil || json.Unmarshal(b, &rep) != nil {
		t.Fatalf("report: %v", err)
	}
	return rep.Arrival
}

// TestRelayAuth: a relay whose config file has flowcamd's auth section
// lets in a player with the password, and no other.
func TestRelayAuth(t *testing.T) {
	need.Tool(t, "ffmpeg")
	d := daemon.StartConfig(t, "size: 320x240\nfps: 25\nsource: pattern\n", "--http-addr", "")
	sha, md := auth.HashPassword("nvr", "flowcam", "watch-it")
	cfg := filepath.Join(t.TempDir(), "relay.yaml")
	body := fmt.Sprintf("url: %s\nauth:\n  users:\n    - name: nvr\n      sha256: %s\n      md5: %s\n", d.URL("/cam"), sha, md)
	if err := os.WriteFile(cfg, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	addr := hub.FreeAddr(t)
	r := runRelay(t, "", "--config", cfg, "--rtsp-addr", addr)
	url := r.waitLog(t, `msg="relay serving" url=rtsp://(\S+)`)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if dec, err := player.FFmpeg(ctx, "rtsp://nvr:watch-it@"+url, "tcp", 25, "mjpeg", "320x240"); err != nil || dec.Frames != 25 {
		t.Fatalf("with the password: %v, %d frames", err, dec.Frames)
	}
	if _, err := player.FFmpeg(ctx, "rtsp://"+url, "tcp", 5, "mjpeg", "320x240"); err == nil {
		t.Fatal("a player without the password plays the relay")
	}
}
