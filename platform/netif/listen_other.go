//go:build !linux

package netif

import (
	"errors"
	"fmt"
	"net"
)

func bound(ifname string) func(network, address string) (net.PacketConn, error) {
	return func(network, address string) (net.PacketConn, error) {
		return nil, fmt.Errorf("network interface %q: binding to an interface is only supported on Linux: %w", ifname, errors.ErrUnsupported)
	}
}
