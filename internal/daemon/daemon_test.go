package daemon

import (
	"context"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"flowcam/capture"
	"flowcam/capture/pattern"
	"flowcam/internal/testutil/eventually"
	"flowcam/platform/sdnotify"
	"flowcam/stream/server/rtspserver"
)

// stuckSource delivers one frame, then hangs like a driver that stopped.
type stuckSource struct{ sent bool }

func (s *stuckSource) Next(ctx context.Context) (*capture.Frame, error) {
	if !s.sent {
		s.sent = true
		return &capture.Frame{JPEG: []byte{0xFF, 0xD8}}, nil
	}
	<-ctx.Done()
	return nil, ctx.Err()
}
func (s *stuckSource) Close() error { return nil }

// TestWatchdogOnlyWhileFramesFlow: the daemon feeds systemd's watchdog
// while every pipeline delivers, and stops as soon as one is stuck. The
// pipelines' liveness clock is the test's, so "stuck for longer than half
// the period" is a clock step rather than a wait.
func TestWatchdogOnlyWhileFramesFlow(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "notify")
	sys, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer sys.Close()
	t.Setenv("NOTIFY_SOCKET", sock)
	t.Setenv("WATCHDOG_USEC", "1000000")
	t.Setenv("WATCHDOG_PID", "")
	notify, err := sdnotify.FromEnv()
	if err != nil {
		t.Fatal(err)
	}
	defer notify.Close()
	srv, _ := rtspserver.New(rtspserver.Config{})
	defer srv.Close()
	log := slog.New(slog.DiscardHandler)
	d := &daemon{log: log, notify: notify, srv: srv, streams: map[string]*running{}}
	clock := newManualClock()

	src, err := pattern.New(capture.Size{Width: 64, Height: 48}, 50)
	if err != nil {
		t.Fatal(err)
	}
	ok := runPipe(t, src, clock)
	d.streams["/ok"] = ok
	if !pings(t, d, sys, sock) {
		t.Fatal("no WATCHDOG=1 while the pattern flows")
	}
	d.streams["/stuck"] = runPipe(t, &stuckSource{}, clock)
	clock.advance(600 * time.Millisecond) // longer than half the period: /stuck is stuck
	// /ok's source answers again after the step (its next frame), so only
	// /stuck can be what withholds the keep-alive.
	eventually.Require(t, time.Minute, func() bool { return ok.pipe.Alive(0) }, "the pattern pipeline delivered no frame after the clock step")
	if pings(t, d, sys, sock) {
		t.Fatal("WATCHDOG=1 sent while /stuck delivers nothing")
	}
}

// manualClock is a liveness clock that moves only when the test steps it.
type manualClock struct{ ns atomic.Int64 }

func newManualClock() *manualClock {
	c := &manualClock{}
	c.ns.Store(time.Now().UnixNano())
	return c
}

func (c *manualClock) now() time.Time             { return time.Unix(0, c.ns.Load()) }
func (c *manualClock) advance(step time.Duration) { c.ns.Add(int64(step)) }

// runPipe runs src through a pipeline on clock and returns once it has
// delivered its first frame.
func runPipe(t *testing.T, src capture.Source, clock *manualClock) *running {
	enc, _ := newStreamEncoder(StreamConfig{Quality: 80, Encoder: "libjpeg"}, hardware{}, slog.New(slog.DiscardHandler))
	first := make(chan struct{})
	var once sync.Once
	sink := func(*capture.Frame) { once.Do(func() { close(first) }) }
	p := capture.NewPipeline(src, enc, sink, slog.New(slog.DiscardHandler), capture.WithClock(clock.now))
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{pipe: p, cancel: cancel, done: make(chan struct{})}
	go func() { defer close(r.done); p.Run(ctx) }()
	t.Cleanup(r.stop)
	select {
	case <-first:
	case <-r.done:
		t.Fatal("the pipeline ended before its first frame")
	case <-time.After(time.Minute):
		t.Fatal("no first frame from the pipeline")
	}
	return r
}

// pings runs one watchdog tick and reports whether it fed the watchdog.
// Everything the tick sends is queued on sys before ping returns, so a
// marker sent after it ends the tick's messages: no wait for a message
// that does not come.
func pings(t *testing.T, d *daemon, sys *net.UnixConn, sock string) bool {
	t.Helper()
	d.ping()
	const marker = "TEST-MARKER=1"
	m, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if _, err := m.Write([]byte(marker)); err != nil {
		t.Fatal(err)
	}
	fed := false
	buf := make([]byte, 512)
	sys.SetReadDeadline(time.Now().Add(time.Minute)) // against a hang only: the marker is queued
	for {
		n, err := sys.Read(buf)
		if err != nil {
			t.Fatalf("reading the notify socket: %v", err)
		}
		switch msg := string(buf[:n]); {
		case msg == marker:
			return fed
		case strings.HasPrefix(msg, "WATCHDOG=1"):
			fed = true
		}
	}
}
