package netif

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

func bound(ifname string) func(network, address string) (net.PacketConn, error) {
	lc := net.ListenConfig{
		Control: func(network, address string, c syscall.RawConn) error {
			var opErr error
			err := c.Control(func(fd uintptr) {
				opErr = unix.SetsockoptString(int(fd), unix.SOL_SOCKET, unix.SO_BINDTODEVICE, ifname)
			})
			if err != nil {
				return err
			}
			return bindError(ifname, opErr)
		},
	}
	return func(network, address string) (net.PacketConn, error) {
		if !strings.HasPrefix(network, "udp") && !strings.HasPrefix(network, "ip") {
			return nil, fmt.Errorf("cannot bind a %q socket to network interface %q: only IP sockets can be bound", network, ifname)
		}
		return lc.ListenPacket(context.Background(), network, address)
	}
}

// bindError turns setsockopt's errno into advice; net wraps it in an
// *net.OpError naming the network and address.
func bindError(ifname string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, unix.EPERM):
		return fmt.Errorf("binding socket to network interface %q (SO_BINDTODEVICE) needs CAP_NET_RAW or root: %w", ifname, err)
	case errors.Is(err, unix.ENODEV):
		return fmt.Errorf("binding socket to network interface %q: %w (%w)", ifname, ErrNotFound, err)
	}
	return fmt.Errorf("binding socket to network interface %q: %w", ifname, err)
}
