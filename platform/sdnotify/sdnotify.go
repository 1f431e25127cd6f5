// Package sdnotify speaks systemd's service notification protocol
// (sd_notify(3)): readiness, reload and stop announcements, a one-line
// status, and watchdog keep-alives, sent as datagrams to $NOTIFY_SOCKET.
// Outside systemd (no socket) every call is a cheap no-op, so the daemon
// calls it unconditionally.
package sdnotify

import (
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Notifier sends state changes to the service manager. The zero value and
// nil are valid and send nothing.
type Notifier struct {
	conn     *net.UnixConn
	watchdog time.Duration
}

// FromEnv connects to the socket systemd named in the environment. It
// returns a no-op Notifier when there is none, and an error only when a
// socket is named but unusable, which the caller should log, not die of.
func FromEnv() (*Notifier, error) {
	n := &Notifier{watchdog: watchdogInterval(os.Getenv("WATCHDOG_USEC"), os.Getenv("WATCHDOG_PID"), os.Getpid())}
	path := os.Getenv("NOTIFY_SOCKET")
	if path == "" {
		return n, nil
	}
	if strings.HasPrefix(path, "@") {
		path = "\x00" + path[1:] // abstract namespace socket
	}
	conn, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		return n, fmt.Errorf("sd_notify socket %s: %w", os.Getenv("NOTIFY_SOCKET"), err)
	}
	n.conn = conn
	return n, nil
}

// watchdogInterval parses WATCHDOG_USEC. WATCHDOG_PID, when set, must name
// this process: the variables leak into children otherwise and a child must
// not feed its parent's watchdog.
func watchdogInterval(usec, pid string, self int) time.Duration {
	if pid != "" && pid != strconv.Itoa(self) {
		return 0
	}
	n, err := strconv.ParseUint(usec, 10, 63)
	if err != nil || n == 0 {
		return 0
	}
	return time.Duration(n) * time.Microsecond
}

// Enabled reports whether a service manager is listening.
func (n *Notifier) Enabled() bool { return n != nil && n.conn != nil }

// WatchdogInterval is how often the manager expects WATCHDOG=1, or 0 when
// it does not watch this service.
func (n *Notifier) WatchdogInterval() time.Duration {
	if n == nil {
		return 0
	}
	return n.watchdog
}

// Ready says the service is up (and, after Reloading, that a reload is done).
func (n *Notifier) Ready() error { return n.send("READY=1") }

// Reloading says a reload began; systemd 253 and later want the monotonic
// time with it, and earlier ones ignore it.
func (n *Notifier) Reloading() error {
	var ts unix.Timespec
	_ = unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	return n.send("RELOADING=1\nMONOTONIC_USEC=" + strconv.FormatInt(ts.Nano()/1000, 10))
}

// Stopping says the service is shutting down.
func (n *Notifier) Stopping() error { return n.send("STOPPING=1") }

// Status sets the one line `systemctl status` shows.
func (n *Notifier) Status(s string) error {
	return n.send("STATUS=" + strings.ReplaceAll(s, "\n", " "))
}

// Watchdog feeds the watchdog.
func (n *Notifier) Watchdog() error { return n.send("WATCHDOG=1") }

// Close releases the socket.
func (n *Notifier) Close() error {
	if !n.Enabled() {
		return nil
	}
	return n.conn.Close()
}

func (n *Notifier) send(msg string) error {
	if !n.Enabled() {
		return nil
	}
	if _, err := n.conn.Write([]byte(msg)); err != nil {
		return fmt.Errorf("sd_notify %s: %w", strings.SplitN(msg, "=", 2)[0], err)
	}
	return nil
}
