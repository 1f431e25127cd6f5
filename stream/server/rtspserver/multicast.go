package rtspserver

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"syscall"
	"time"

	"github.com/pion/rtp"
	"golang.org/x/sys/unix"

	"flowcam/stream/format/rtsp"
	"flowcam/stream/server/broadcast"
	"flowcam/stream/server/udpbatch"
)

// MulticastConfig turns on RFC 2326 multicast: every multicast viewer of a
// path gets the same group, and one copy of the stream goes on the wire
// for all of them. Joining and leaving the group is IGMP's, in the kernel.
type MulticastConfig struct {
	Groups netip.Prefix // addresses handed out, one per path and interface
	Ports  [2]int       // RTP ports handed out (even), RTCP one above
	TTL    int
}

// ErrNoMulticastRoute marks a multicast group the kernel has no route for.
var ErrNoMulticastRoute = errors.New("no multicast route")

// multicaster hands out groups and runs one sender per group.
type multicaster struct {
	srv *Server
	cfg MulticastConfig

	mu     sync.Mutex
	groups map[groupKey]*group
	next   int // where the search for a free address starts
}

type groupKey struct {
	stream  *Stream
	ifindex int // the interface viewers reached the server on
}

// group is one path's multicast copy: a sender (a session of its own,
// never listed, that plays to the group address) and its viewers.
type group struct {
	key     groupKey
	addr    netip.Addr
	port    int
	slot    int
	sender  *session
	refs    int // viewer sessions set up on it
	playing int // of those, playing
}

func newMulticaster(s *Server, cfg MulticastConfig) *multicaster {
	return &multicaster{srv: s, cfg: cfg, groups: map[groupKey]*group{}}
}

// join gives a viewer of st, who reached the server at local, the path's
// group on that interface, making it when it is the first.
func (m *multicaster) join(st *Stream, base string, local net.IP) (*group, error) {
	ifi, err := interfaceOf(local)
	if err != nil {
		return nil, err
	}
	key := groupKey{st, ifi.Index}
	m.mu.Lock()
	defer m.mu.Unlock()
	if g := m.groups[key]; g != nil {
		g.refs++
		return g, nil
	}
	slot, addr, ok := m.free()
	if !ok {
		return nil, fmt.Errorf("every address of rtsp.multicast.groups %s is taken", m.cfg.Groups)
	}
	span := (m.cfg.Ports[1] - m.cfg.Ports[0] + 1) / 2
	port := m.cfg.Ports[0] + 2*(slot%max(span, 1))
	media, err := dialGroup(addr, port, ifi, m.cfg.TTL)
	if err != nil {
		return nil, err
	}
	g := &group{key: key, addr: addr, port: port, slot: slot, refs: 1}
	g.sender = newSession(m.srv, st, base)
	g.sender.media = media
	g.sender.log = g.sender.log.With("multicast", fmt.Sprintf("%s:%d", addr, port))
	m.groups[key] = g
	g.sender.log.Info("multicast group opened", "interface", ifi.Name, "ttl", m.cfg.TTL)
	if !routed(addr, port) {
		g.sender.log.Warn(fmt.Sprintf("no multicast route for %s on this host: flowcamd sends the group out of %s anyway "+
			"(where the viewer came in), but viewers on this network cannot join it without one, and routers need one too: "+
			"add `ip route add 224.0.0.0/4 dev %s` here and on the viewers (or a default route)", addr, ifi.Name, ifi.Name),
			"group", addr.String())
	}
	return g, nil
}

// free finds an address of the pool no group uses. Called with m.mu held.
func (m *multicaster) free() (int, netip.Addr, bool) {
	size := 1 << (m.cfg.Groups.Addr().BitLen() - m.cfg.Groups.Bits())
	used := map[int]bool{}
	for _, g := range m.groups {
		used[g.slot] = true
	}
	for i := 0; i < min(size, 1<<16); i++ {
		slot := (m.next + i) % size
		if slot == 0 || slot == size-1 || used[slot] {
			continue // the prefix's first and last addresses are left alone
		}
		addr := m.cfg.Groups.Masked().Addr()
		for range slot {
			addr = addr.Next()
		}
		m.next = slot + 1
		return slot, addr, true
	}
	return 0, netip.Addr{}, false
}

// play counts a viewer that plays, starting the sender for the first.
// It returns the RTP-Info of the first packet when this viewer starts the
// sender; a later one joins mid-stream and gets none.
func (m *multicaster) play(g *group) (rtsp.RTPInfo, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if g.playing++; g.playing > 1 {
		return rtsp.RTPInfo{}, false
	}
	return g.sender.play()
}

// pause uncounts a playing viewer, stopping the sender after the last.
func (m *multicaster) pause(g *group) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if g.playing--; g.playing == 0 {
		g.sender.pause()
	}
}

// leave drops a viewer's reference; the last one closes the group and
// frees its address.
func (m *multicaster) leave(g *group) {
	m.mu.Lock()
	g.refs--
	last := g.refs == 0
	if last {
		delete(m.groups, g.key)
	}
	m.mu.Unlock()
	if last {
		g.sender.close("last multicast viewer left")
	}
}

// routed reports whether the host has a route for the group without
// naming an interface, as a viewer's join needs one: connecting a UDP
// socket asks the kernel for the route and sends nothing.
func routed(addr netip.Addr, port int) bool {
	c, err := net.Dial("udp4", netip.AddrPortFrom(addr, uint16(port)).String())
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// interfaceOf is the interface that has ip.
func interfaceOf(ip net.IP) (*net.Interface, error) {
	ifs, err := net.Interfaces()
	if err != nil {
		return nil, err
	}
	for i := range ifs {
		addrs, _ := ifs[i].Addrs()
		for _, a := range addrs {
			if n, ok := a.(*net.IPNet); ok && n.IP.Equal(ip) {
				return &ifs[i], nil
			}
		}
	}
	return nil, fmt.Errorf("no interface has address %s", ip)
}

// groupMedia sends a group's packets to its address, through the
// interface its viewers use.
type groupMedia struct {
	conn      *net.UDPConn // connected to the group's RTP port
	rtcp      *net.UDPConn // connected to its RTCP port
	out       *udpbatch.Writer
	batch     packetBatch
	iface     string
	dst, dstR *net.UDPAddr
}

// dialGroup opens the group's sockets on ifi, connected to the group.
func dialGroup(addr netip.Addr, port int, ifi *net.Interface, ttl int) (*groupMedia, error) {
	m := &groupMedia{iface: ifi.Name}
	for i, p := range []int{port, port + 1} {
		dst := &net.UDPAddr{IP: addr.AsSlice(), Port: p}
		c, err := dialMulticast(dst, ifi, ttl)
		if err != nil {
			m.close()
			return nil, err
		}
		if i == 0 {
			m.conn, m.dst = c, dst
		} else {
			m.rtcp, m.dstR = c, dst
		}
	}
	m.out = udpbatch.New(m.conn)
	return m, nil
}

func dialMulticast(dst *net.UDPAddr, ifi *net.Interface, ttl int) (*net.UDPConn, error) {
	d := net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		err := rc.Control(func(fd uintptr) {
			serr = unix.SetsockoptIPMreqn(int(fd), unix.IPPROTO_IP, unix.IP_MULTICAST_IF, &unix.IPMreqn{Ifindex: int32(ifi.Index)})
			if serr == nil {
				serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_IP, unix.IP_MULTICAST_TTL, ttl)
			}
		})
		return errors.Join(err, serr)
	}}
	c, err := d.Dial("udp4", dst.String())
	if errors.Is(err, unix.ENETUNREACH) {
		return nil, fmt.Errorf("%w to %s on %s: add one, e.g. `ip route add %s dev %s`",
			ErrNoMulticastRoute, dst.IP, ifi.Name, "224.0.0.0/4", ifi.Name)
	}
	if err != nil {
		return nil, fmt.Errorf("multicast to %s on %s: %w", dst, ifi.Name, err)
	}
	return c.(*net.UDPConn), nil
}

func (m *groupMedia) name() string { return "multicast" }

func (m *groupMedia) sendFrame(h rtp.Header, u *broadcast.Unit, _ time.Time) (bool, error) {
	m.batch.build(h, &u.Payloads)
	return true, m.out.WriteTo(m.batch.packets(), nil)
}

func (m *groupMedia) writeRTCP(p []byte) error {
	_, err := m.rtcp.Write(p)
	return err
}

func (m *groupMedia) close() {
	if m.conn != nil {
		m.conn.Close()
	}
	if m.rtcp != nil {
		m.rtcp.Close()
	}
}

// multicastMedia is a viewer's side of a group: the group's sender does
// the sending, so the viewer's session sends nothing itself.
type multicastMedia struct {
	m *multicaster
	g *group
}

func (v *multicastMedia) name() string { return "multicast" }
func (v *multicastMedia) sendFrame(rtp.Header, *broadcast.Unit, time.Time) (bool, error) {
	return true, nil
}
func (v *multicastMedia) writeRTCP([]byte) error { return nil }
func (v *multicastMedia) close()                 { v.m.leave(v.g) }

// reply is the Transport a multicast viewer is told.
func (v *multicastMedia) reply() rtsp.Transport {
	return rtsp.Transport{Protocol: "RTP/AVP", Lower: rtsp.LowerUDP, Multicast: true, Mode: "play",
		Destination: v.g.addr.String(), Ports: [2]int{v.g.port, v.g.port + 1}, TTL: v.m.cfg.TTL}
}
