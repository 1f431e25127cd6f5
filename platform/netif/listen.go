package netif

import "net"

// ListenPacket returns a function with net.ListenPacket's signature whose
// sockets are bound to the network interface ifname (SO_BINDTODEVICE), so
// everything they send leaves through that interface even when the main
// route points elsewhere, and they receive only what arrives on it. This is
// what lets one stream use Wi-Fi and Ethernet at once. The destination must
// still be reachable through that interface (on its subnet, or via a default
// route on it, as DHCP installs on each link): when no route through it
// matches, Linux assumes the destination is on the link, so sends succeed
// but packets to a remote address are lost. Only IP networks ("udp", "udp4",
// "udp6", "ip4:…") can be bound.
//
// Binding needs CAP_NET_RAW or root on Linux kernels before 5.7; newer
// kernels let any process bind a socket once, at creation, which is all this
// does. When the kernel refuses, the error says that CAP_NET_RAW or root is
// needed. A name that does not exist gives an error wrapping ErrNotFound.
// The interface may be down or absent when ListenPacket is called: the name is
// resolved each time the returned function runs.
//
// An empty ifname returns net.ListenPacket itself (no binding). Binding is
// implemented on Linux only; elsewhere a non-empty ifname gives a function
// that always fails.
func ListenPacket(ifname string) func(network, address string) (net.PacketConn, error) {
	if ifname == "" {
		return net.ListenPacket
	}
	return bound(ifname)
}
