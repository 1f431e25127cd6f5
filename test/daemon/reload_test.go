package daemon_test

import (
	"bytes"
	"fmt"
	"image/jpeg"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v4"
	"github.com/pion/rtp"

	"flowcam/internal/testutil/daemon"
	"flowcam/internal/testutil/eventually"
	"flowcam/internal/testutil/player"
)

// notifications plays systemd's end of sd_notify for one daemon.
type notifications struct {
	mu   sync.Mutex
	msgs []string
}

func listenNotify(t *testing.T) *notifications {
	sock := filepath.Join(t.TempDir(), "notify")
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	t.Setenv("NOTIFY_SOCKET", sock)
	n := &notifications{}
	go func() {
		buf := make([]byte, 4096)
		for {
			k, err := c.Read(buf)
			if err != nil {
				return
			}
			n.mu.Lock()
			n.msgs = append(n.msgs, strings.SplitN(string(buf[:k]), "\n", 2)[0])
			n.mu.Unlock()
		}
	}()
	return n
}

// states lists the READY/RELOADING/STOPPING messages in order.
func (n *notifications) states() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	var out []string
	for _, m := range n.msgs {
		if !strings.HasPrefix(m, "STATUS=") && !strings.HasPrefix(m, "WATCHDOG=") {
			out = append(out, m)
		}
	}
	return strings.Join(out, " ")
}

// viewer counts a path's RTP packets and notices sequence gaps.
type viewer struct {
	mu      sync.Mutex
	packets int
	gaps    int
	last    uint16
	frame   []byte
	client  *gortsplib.Client
}

func watch(t *testing.T, url string) *viewer {
	t.Helper()
	v := &viewer{}
	c, err := player.Play(url, gortsplib.TransportTCP, func(p *rtp.Packet) {
		v.mu.Lock()
		defer v.mu.Unlock()
		if v.packets > 0 && p.SequenceNumber != v.last+1 {
			v.gaps++
		}
		v.last = p.SequenceNumber
		v.packets++
	}, func(f []byte) {
		v.mu.Lock()
		v.frame = append(v.frame[:0], f...)
		v.mu.Unlock()
	})
	if err != nil {
		t.Fatalf("play %s: %v", url, err)
	}
	v.client = c
	t.Cleanup(c.Close)
	return v
}

func (v *viewer) count() (int, int) {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.packets, v.gaps
}

func (v *viewer) size(t *testing.T) string {
	t.Helper()
	var size string
	eventually.Require(t, time.Minute, func() bool {
		v.mu.Lock()
		f := append([]byte(nil), v.frame...)
		v.mu.Unlock()
		cfg, err := jpeg.DecodeConfig(bytes.NewReader(f))
		size = fmt.Sprintf("%dx%d", cfg.Width, cfg.Height)
		return err == nil
	}, "no frame decoded")
	return size
}

// TestReloadRestartsOnlyWhatChanged: SIGHUP with /b resized and /c added
// ends /b's session only; /a's viewer receives every packet throughout. A
// broken config on the next SIGHUP changes nothing. systemd hears READY,
// then RELOADING/READY around each reload.
func TestReloadRestartsOnlyWhatChanged(t *testing.T) {
	notes := listenNotify(t)
	cfg := filepath.Join(t.TempDir(), "flowcamd.yaml")
	write := func(body string) {
		if err := os.WriteFile(cfg, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("size: 320x240\nstreams:\n  - path: /a\n  - path: /b\n")
	d, err := daemon.Start(bin, "--config", cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Stop()
	a, b := watch(t, d.URL("/a")), watch(t, d.URL("/b"))
	// /a flows before the reloads, so its gap count covers them.
	eventually.Require(t, time.Minute, func() bool { n, _ := a.count(); return n > 0 }, "/a's viewer received nothing")
	if got := b.size(t); got != "320x240" {
		t.Fatalf("/b is %s before the reload", got)
	}

	write("size: 320x240\nstreams:\n  - path: /a\n  - path: /b\n    size: 640x480\n  - path: /c\n")
	hup(t, d, "config reloaded")
	if err := d.WaitLog(`"kept":"/a","restarted":"/b","added":"/c"`, time.Minute); err != nil {
		t.Error(err)
	}
	if err := waitClosed(b.client, time.Minute); err != nil {
		t.Error("/b's viewer was not disconnected when /b changed")
	}
	if got := watch(t, d.URL("/b")).size(t); got != "640x480" {
		t.Errorf("/b is %s after the reload, want 640x480", got)
	}
	watch(t, d.URL("/c")).size(t)

	write("streams:\n  - path: /a\n    fps: 0\n")
	hup(t, d, "reload failed")
	before, _ := a.count()
	// A packet arriving after the failed reload shows /a still flows, and
	// any gap either reload left before it is counted by then.
	eventually.Require(t, time.Minute, func() bool { n, _ := a.count(); return n > before },
		"/a's viewer received nothing after the failed reload (%d packets before it)", before)
	if after, gaps := a.count(); gaps != 0 {
		t.Errorf("/a across two reloads: %d packets, %d sequence gaps; want none", after, gaps)
	}
	// READY follows the reload's log line, and reaches us over a socket.
	want := "READY=1 RELOADING=1 READY=1 RELOADING=1 READY=1"
	if !eventually.Wait(time.Minute, func() bool { return notes.states() == want }) {
		t.Errorf("sd_notify states %q, want %q", notes.states(), want)
	}
}

func hup(t *testing.T, d *daemon.Daemon, logged string) {
	t.Helper()
	n := strings.Count(d.Logs(), logged)
	if err := d.Cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	if !eventually.Wait(time.Minute, func() bool { return strings.Count(d.Logs(), logged) > n }) {
		t.Fatalf("no %q after SIGHUP:\n%s", logged, daemon.Tail(d.Logs(), 20))
	}
}

func waitClosed(c *gortsplib.Client, timeout time.Duration) error {
	done := make(chan error, 1)
	go func() { done <- c.Wait() }()
	select {
	case <-done:
		return nil
	case <-time.After(timeout):
		return os.ErrDeadlineExceeded
	}
}
