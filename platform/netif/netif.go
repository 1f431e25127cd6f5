// Package netif discovers the machine's network interfaces and opens UDP
// sockets bound to one of them, for multi-flow streaming (one video stream
// sent over several network paths, e.g. Wi-Fi and Ethernet).
//
// It owns interface discovery (name, state, kind, addresses, read from the
// kernel and sysfs) and per-interface socket binding (SO_BINDTODEVICE). It
// does not decide which interfaces to use or how to spread packets over them:
// that belongs to stream/format/multiflow, which only sees the
// func(network, address string) (net.PacketConn, error) that cmd builds here
// with ListenPacket and injects.
package netif

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/netip"
	"os"
	"slices"
	"strings"
)

// ErrNotFound is wrapped by errors reporting a network interface that does
// not exist.
var ErrNotFound = errors.New("network interface not found")

// Interface describes one network interface at the time it was listed.
type Interface struct {
	Name  string
	Index int
	// Up is the administrative state (IFF_UP: "ip link set up").
	Up bool
	// Running means the link is usable: up and with carrier (IFF_RUNNING).
	// An interface that is Up but not Running has no cable, no Wi-Fi
	// association, or is still negotiating.
	Running bool
	// Wireless is true for 802.11 interfaces (sysfs has phy80211 or
	// wireless beside the interface).
	Wireless bool
	Loopback bool
	MTU      int
	// HardwareAddr is the MAC address in colon notation, or "" when the
	// interface has none (loopback, tunnels).
	HardwareAddr string
	// Addrs are the interface's addresses with their prefix length and host
	// bits kept, e.g. 192.168.1.20/24, in the kernel's order.
	Addrs []netip.Prefix
}

// IPv4 returns the interface's first IPv4 address, the one to advertise for
// a flow sent over it; ok is false when it has none.
func (i Interface) IPv4() (addr netip.Addr, ok bool) {
	for _, p := range i.Addrs {
		if a := p.Addr(); a.Is4() {
			return a, true
		}
	}
	return netip.Addr{}, false
}

// List returns every network interface in the kernel's (index) order.
func List() ([]Interface, error) { return system.list() }

// Lookup returns the named interfaces in the order given. If any name does
// not exist the error, which wraps ErrNotFound, names every missing one and
// the interfaces that do exist, so a typo in the configuration is easy to
// fix.
func Lookup(names ...string) ([]Interface, error) { return system.lookup(names...) }

// source is where interfaces come from; tests replace the kernel and sysfs
// with recorded ones.
type source struct {
	// root is a filesystem rooted at "/", read for sys/class/net.
	root       fs.FS
	interfaces func() ([]net.Interface, error)
	addrs      func(net.Interface) ([]net.Addr, error)
}

var system = source{
	root:       os.DirFS("/"),
	interfaces: net.Interfaces,
	addrs:      func(ni net.Interface) ([]net.Addr, error) { return ni.Addrs() },
}

func (s source) list() ([]Interface, error) {
	nis, err := s.interfaces()
	if err != nil {
		return nil, fmt.Errorf("listing network interfaces: %w", err)
	}
	out := make([]Interface, 0, len(nis))
	for _, ni := range nis {
		addrs, err := s.addrs(ni)
		if err != nil {
			return nil, fmt.Errorf("listing addresses of network interface %q: %w", ni.Name, err)
		}
		out = append(out, Interface{
			Name:         ni.Name,
			Index:        ni.Index,
			Up:           ni.Flags&net.FlagUp != 0,
			Running:      ni.Flags&net.FlagRunning != 0,
			Wireless:     isWireless(s.root, ni.Name),
			Loopback:     ni.Flags&net.FlagLoopback != 0,
			MTU:          ni.MTU,
			HardwareAddr: ni.HardwareAddr.String(),
			Addrs:        prefixes(addrs),
		})
	}
	return out, nil
}

// lookup lists once, so every returned interface comes from the same
// snapshot.
func (s source) lookup(names ...string) ([]Interface, error) {
	all, err := s.list()
	if err != nil {
		return nil, err
	}
	out := make([]Interface, 0, len(names))
	var missing []string
	for _, name := range names {
		i := slices.IndexFunc(all, func(ifc Interface) bool { return ifc.Name == name })
		if i < 0 {
			missing = append(missing, name)
			continue
		}
		out = append(out, all[i])
	}
	if len(missing) > 0 {
		available := make([]string, len(all))
		for i, ifc := range all {
			available[i] = ifc.Name
		}
		slices.Sort(available)
		return nil, &notFoundError{missing: missing, available: available}
	}
	return out, nil
}

type notFoundError struct {
	missing, available []string
}

func (e *notFoundError) Error() string {
	quoted := make([]string, len(e.missing))
	for i, name := range e.missing {
		quoted[i] = fmt.Sprintf("%q", name)
	}
	var b strings.Builder
	if len(quoted) == 1 {
		b.WriteString("network interface ")
	} else {
		b.WriteString("network interfaces ")
	}
	b.WriteString(strings.Join(quoted, ", "))
	b.WriteString(" not found; available: ")
	if len(e.available) == 0 {
		b.WriteString("none")
	} else {
		b.WriteString(strings.Join(e.available, ", "))
	}
	return b.String()
}

func (e *notFoundError) Unwrap() error { return ErrNotFound }

// isWireless checks both markers: phy80211 is the cfg80211 link every
// mac80211 driver has, wireless is the older wireless-extensions directory
// that some vendor drivers (and kernels without cfg80211 links) expose alone.
// A missing or unreadable sysfs means "not wireless".
func isWireless(root fs.FS, name string) bool {
	if root == nil || name == "" || strings.ContainsRune(name, '/') {
		return false
	}
	dir := "sys/class/net/" + name + "/"
	for _, marker := range []string{"wireless", "phy80211"} {
		if _, err := fs.Stat(root, dir+marker); err == nil {
			return true
		}
	}
	return false
}

// prefixes converts the kernel's addresses, dropping any it cannot express
// (there should be none: Linux reports every address as *net.IPNet).
func prefixes(addrs []net.Addr) []netip.Prefix {
	var out []netip.Prefix
	for _, a := range addrs {
		var ip net.IP
		var mask net.IPMask
		switch a := a.(type) {
		case *net.IPNet:
			ip, mask = a.IP, a.Mask
		case *net.IPAddr:
			ip = a.IP
		default:
			continue
		}
		addr, ok := netip.AddrFromSlice(ip)
		if !ok {
			continue
		}
		addr = addr.Unmap()
		bits := addr.BitLen()
		if mask != nil {
			ones, size := mask.Size()
			if size == 0 {
				continue // non-contiguous mask
			}
			bits = ones - (size - addr.BitLen())
		}
		if p := netip.PrefixFrom(addr, bits); p.IsValid() {
			out = append(out, p)
		}
	}
	return out
}
