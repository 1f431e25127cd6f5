package daemon

import (
	"context"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"flowcam/capture"
	"flowcam/capture/pattern"
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
// while every pipeline delivers, and stops as soon as one is stuck.
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

	src, err := pattern.New(capture.Size{Width: 64, Height: 48}, 50)
	if err != nil {
		t.Fatal(err)
	}
	d.streams["/ok"] = runPipe(t, src)
	if !pings(t, d, sys) {
		t.Fatal("no WATCHDOG=1 while the pattern flows")
	}
	d.streams["/stuck"] = runPipe(t, &stuckSource{})
	time.Sleep(600 * time.Millisecond) // longer than half the period: it is stuck
	if pings(t, d, sys) {
		t.Fatal("WATCHDOG=1 sent while /stuck delivers nothing")
	}
}

func runPipe(t *testing.T, src capture.Source) *running {
	enc, _ := newStreamEncoder(StreamConfig{Quality: 80, Encoder: "libjpeg"}, hardware{}, slog.New(slog.DiscardHandler))
	p := capture.NewPipeline(src, enc, func(*capture.Frame) {}, slog.New(slog.DiscardHandler))
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{pipe: p, cancel: cancel, done: make(chan struct{})}
	go func() { defer close(r.done); p.Run(ctx) }()
	t.Cleanup(r.stop)
	time.Sleep(50 * time.Millisecond) // let it deliver its first frame
	return r
}

// pings runs one watchdog tick and reports whether it fed the watchdog.
func pings(t *testing.T, d *daemon, sys *net.UnixConn) bool {
	t.Helper()
	d.ping()
	buf := make([]byte, 512)
	for {
		sys.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
		n, err := sys.Read(buf)
		if err != nil {
			return false
		}
		if strings.HasPrefix(string(buf[:n]), "WATCHDOG=1") {
			return true
		}
	}
}
