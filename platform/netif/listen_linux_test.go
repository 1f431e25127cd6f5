package netif

import (
	"errors"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"flowcam/internal/testutil/need"
)

// TestListenPacketBound binds a socket to an interface and sends it a
// datagram on 127.0.0.1, which arrives through lo: the socket bound to lo gets
// it, a socket bound to any other interface must not.
func TestListenPacketBound(t *testing.T) {
	tests := []struct {
		ifname      string
		wantReceive bool
	}{
		{"lo", true},
		{otherInterface(t), false},
		{"", true}, // plain net.ListenPacket
	}
	for _, tt := range tests {
		t.Run("bind="+tt.ifname, func(t *testing.T) {
			if tt.ifname == "-" {
				need.Skip(t, "no interface other than lo on this machine")
			}
			address := "127.0.0.1:0"
			if !tt.wantReceive {
				address = "0.0.0.0:0" // 127.0.0.1 is not on the other interface
			}
			pc, err := ListenPacket(tt.ifname)("udp4", address)
			if errors.Is(err, os.ErrPermission) {
				need.Skip(t, "not allowed to bind to an interface here: %v", err)
			}
			if err != nil {
				t.Fatal(err)
			}
			defer pc.Close()

			if got := boundDevice(t, pc); got != tt.ifname {
				t.Errorf("SO_BINDTODEVICE = %q, want %q", got, tt.ifname)
			}

			port := pc.LocalAddr().(*net.UDPAddr).Port
			to := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port}
			sender, err := net.ListenPacket("udp4", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer sender.Close()
			if _, err := sender.WriteTo([]byte("frame"), to); err != nil {
				t.Fatal(err)
			}

			wait := 5 * time.Second
			if !tt.wantReceive {
				wait = 300 * time.Millisecond // lo delivers at once or never
			}
			pc.SetReadDeadline(time.Now().Add(wait))
			buf := make([]byte, 64)
			n, from, err := pc.ReadFrom(buf)
			switch {
			case tt.wantReceive && err != nil:
				t.Fatalf("ReadFrom: %v", err)
			case tt.wantReceive && (string(buf[:n]) != "frame" || from.String() != sender.LocalAddr().String()):
				t.Errorf("got %q from %v, want %q from %v", buf[:n], from, "frame", sender.LocalAddr())
			case !tt.wantReceive && err == nil:
				t.Errorf("socket bound to %s received %q from %v sent over lo", tt.ifname, buf[:n], from)
			case !tt.wantReceive && !errors.Is(err, os.ErrDeadlineExceeded):
				t.Errorf("ReadFrom: %v, want a timeout", err)
			}
		})
	}
}

// otherInterface returns a non-loopback interface to bind to (it need not be
// up: binding only names it), or "-" when there is none.
func otherInterface(t *testing.T) string {
	ifs, err := List()
	if err != nil {
		t.Fatal(err)
	}
	for _, i := range ifs {
		if !i.Loopback {
			return i.Name
		}
	}
	return "-"
}

func boundDevice(t *testing.T, pc net.PacketConn) string {
	t.Helper()
	sc, ok := pc.(syscall.Conn)
	if !ok {
		t.Fatalf("%T has no file descriptor", pc)
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var dev string
	var opErr error
	if err := rc.Control(func(fd uintptr) {
		dev, opErr = unix.GetsockoptString(int(fd), unix.SOL_SOCKET, unix.SO_BINDTODEVICE)
	}); err != nil {
		t.Fatal(err)
	}
	if opErr != nil {
		t.Fatalf("getsockopt(SO_BINDTODEVICE): %v", opErr)
	}
	return dev
}

func TestListenPacketErrors(t *testing.T) {
	tests := []struct {
		desc, ifname, network string
		want                  []string
		is                    error
	}{
		{"missing interface", "nosuch0", "udp4",
			[]string{`network interface "nosuch0"`, "not found"}, ErrNotFound},
		{"not an IP socket", "lo", "unixgram",
			[]string{`cannot bind a "unixgram" socket to network interface "lo"`}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			pc, err := ListenPacket(tt.ifname)(tt.network, "")
			if err == nil {
				pc.Close()
				t.Fatalf("ListenPacket(%q)(%q) succeeded", tt.ifname, tt.network)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("error %v does not wrap %v", err, tt.is)
			}
		})
	}
}

func TestBindError(t *testing.T) {
	tests := []struct {
		errno error
		want  string
		is    []error
	}{
		{nil, "", nil},
		{unix.EPERM, `binding socket to network interface "wlan0" (SO_BINDTODEVICE) needs CAP_NET_RAW or root: operation not permitted`,
			[]error{unix.EPERM, os.ErrPermission}},
		{unix.ENODEV, `binding socket to network interface "wlan0": network interface not found (no such device)`,
			[]error{unix.ENODEV, ErrNotFound}},
		{unix.EINVAL, `binding socket to network interface "wlan0": invalid argument`, []error{unix.EINVAL}},
	}
	for _, tt := range tests {
		t.Run(strings.TrimSpace(errString(tt.errno)), func(t *testing.T) {
			err := bindError("wlan0", tt.errno)
			if errString(err) != tt.want {
				t.Errorf("bindError = %q, want %q", errString(err), tt.want)
			}
			for _, target := range tt.is {
				if !errors.Is(err, target) {
					t.Errorf("%v does not wrap %v", err, target)
				}
			}
		})
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
