package sdnotify

import (
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// listen plays systemd: a datagram socket the notifier writes to.
func listen(t *testing.T, name string) *net.UnixConn {
	t.Helper()
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: name, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func recv(t *testing.T, c *net.UnixConn) string {
	t.Helper()
	buf := make([]byte, 4096)
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, err := c.Read(buf)
	if err != nil {
		t.Fatal(err)
	}
	return string(buf[:n])
}

func TestMessages(t *testing.T) {
	for _, socket := range []string{"path", "abstract"} {
		t.Run(socket, func(t *testing.T) {
			name := filepath.Join(t.TempDir(), "notify")
			env := name
			if socket == "abstract" {
				name = "\x00flowcam-test-" + filepath.Base(t.TempDir())
				env = "@" + name[1:]
			}
			sys := listen(t, name)
			t.Setenv("NOTIFY_SOCKET", env)
			n, err := FromEnv()
			if err != nil || !n.Enabled() {
				t.Fatalf("FromEnv: %v enabled=%v", err, n.Enabled())
			}
			defer n.Close()
			steps := []struct {
				send func() error
				want string
			}{
				{n.Ready, "READY=1"},
				{func() error { return n.Status("serving 2 paths\n3 sessions") }, "STATUS=serving 2 paths 3 sessions"},
				{n.Watchdog, "WATCHDOG=1"},
				{n.Reloading, "RELOADING=1\nMONOTONIC_USEC="},
				{n.Stopping, "STOPPING=1"},
			}
			for _, s := range steps {
				if err := s.send(); err != nil {
					t.Fatal(err)
				}
				if got := recv(t, sys); !strings.HasPrefix(got, s.want) {
					t.Errorf("got %q, want %q", got, s.want)
				}
			}
		})
	}
}

func TestNoSocketIsANoOp(t *testing.T) {
	t.Setenv("NOTIFY_SOCKET", "")
	n, err := FromEnv()
	if err != nil || n.Enabled() {
		t.Fatalf("FromEnv without a socket: %v enabled=%v", err, n.Enabled())
	}
	var nilN *Notifier
	for _, send := range []func() error{n.Ready, n.Watchdog, nilN.Ready, nilN.Stopping, nilN.Close} {
		if err := send(); err != nil {
			t.Errorf("no-op send: %v", err)
		}
	}
	if nilN.WatchdogInterval() != 0 {
		t.Error("nil notifier has a watchdog")
	}
}

func TestMissingSocketIsAnError(t *testing.T) {
	t.Setenv("NOTIFY_SOCKET", filepath.Join(t.TempDir(), "absent"))
	if _, err := FromEnv(); err == nil || !strings.Contains(err.Error(), "absent") {
		t.Errorf("FromEnv with a dead socket: %v", err)
	}
}

func TestWatchdogInterval(t *testing.T) {
	cases := []struct {
		usec, pid string
		want      time.Duration
	}{
		{"15000000", "", 15 * time.Second},
		{"15000000", "42", 15 * time.Second},
		{"15000000", "43", 0}, // meant for another process
		{"", "", 0},
		{"0", "", 0},
		{"-5", "", 0},
		{"junk", "", 0},
	}
	for _, c := range cases {
		if got := watchdogInterval(c.usec, c.pid, 42); got != c.want {
			t.Errorf("watchdogInterval(%q, %q) = %v, want %v", c.usec, c.pid, got, c.want)
		}
	}
}
