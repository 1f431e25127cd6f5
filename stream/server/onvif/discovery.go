package onvif

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/xml"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/net/ipv4"
	"golang.org/x/sys/unix"
)

// WS-Discovery (2005/04, which ONVIF uses): the group and port devices
// listen on.
const (
	discoveryGroup = "239.255.255.250"
	discoveryPort  = 3702
	nsDiscovery    = "http://schemas.xmlsoap.org/ws/2005/04/discovery"
	nsAddressing   = "http://schemas.xmlsoap.org/ws/2004/08/addressing"
	deviceTypes    = "dn:NetworkVideoTransmitter tds:Device"
)

// Probe answers are bounded: a flood of probes (or a reflection attack
// with forged sources) gets at most this many replies a second, bursts of
// twice that, and one source at most perSource a second.
const (
	answersPerSecond = 20
	perSource        = 2
	maxProbe         = 8 << 10
)

// DiscoveryOptions configure WS-Discovery.
type DiscoveryOptions struct {
	Info     DeviceInfo
	HTTPPort int    // where the device service is
	UUID     string // the device's endpoint, urn:uuid:...; stable across restarts
	Logger   *slog.Logger
	Now      func() time.Time
}

// Discovery answers Probe on the discovery group and announces the
// device with Hello at start and Bye at stop.
type Discovery struct {
	o    DiscoveryOptions
	conn *ipv4.PacketConn
	raw  net.PacketConn
	done chan struct{}
	wg   sync.WaitGroup

	limit    rateLimit
	answered uint64
	dropped  uint64
}

// StartDiscovery joins the discovery group on every multicast interface
// with an IPv4 address and starts answering.
func StartDiscovery(o DiscoveryOptions) (*Discovery, error) {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	lc := net.ListenConfig{Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		err := rc.Control(func(fd uintptr) {
			// Other WS-Discovery devices on this host may listen too.
			serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEADDR, 1)
		})
		if err != nil {
			return err
		}
		return serr
	}}
	raw, err := lc.ListenPacket(context.Background(), "udp4", fmt.Sprintf("0.0.0.0:%d", discoveryPort))
	if err != nil {
		return nil, fmt.Errorf("ws-discovery: %w", err)
	}
	d := &Discovery{o: o, raw: raw, conn: ipv4.NewPacketConn(raw), done: make(chan struct{}),
		limit: rateLimit{rate: answersPerSecond, per: perSource, now: o.Now}}
	d.conn.SetControlMessage(ipv4.FlagDst|ipv4.FlagInterface, true)
	joined := 0
	for _, ifi := range multicastInterfaces() {
		if err := d.conn.JoinGroup(&ifi, &net.UDPAddr{IP: net.ParseIP(discoveryGroup)}); err == nil {
			joined++
		}
	}
	if joined == 0 {
		raw.Close()
		return nil, fmt.Errorf("ws-discovery: no interface could join %s (no multicast interface is up)", discoveryGroup)
	}
	d.announce("Hello")
	d.wg.Add(1)
	go d.serve()
	o.Logger.Info("ws-discovery: answering probes", "group", discoveryGroup, "port", discoveryPort, "interfaces", joined)
	return d, nil
}

// Close says Bye and stops answering.
func (d *Discovery) Close() {
	d.announce("Bye")
	close(d.done)
	d.raw.Close()
	d.wg.Wait()
}

// multicastInterfaces are the interfaces that are up, multicast-capable
// and have an IPv4 address.
func multicastInterfaces() []net.Interface {
	ifs, _ := net.Interfaces()
	var out []net.Interface
	for _, ifi := range ifs {
		if ifi.Flags&net.FlagUp == 0 || ifi.Flags&net.FlagMulticast == 0 || ipv4Of(&ifi) == nil {
			continue
		}
		out = append(out, ifi)
	}
	return out
}

func ipv4Of(ifi *net.Interface) net.IP {
	addrs, _ := ifi.Addrs()
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.To4() != nil {
			return n.IP.To4()
		}
	}
	return nil
}

func (d *Discovery) serve() {
	defer d.wg.Done()
	buf := make([]byte, maxProbe+1)
	for {
		n, cm, src, err := d.conn.ReadFrom(buf)
		if err != nil {
			select {
			case <-d.done:
				return
			default:
				continue
			}
		}
		from, ok := src.(*net.UDPAddr)
		if !ok || n > maxProbe || cm == nil {
			continue
		}
		d.handle(buf[:n], cm, from)
	}
}

// probe is what a Probe says.
type probe struct {
	XMLName   xml.Name `xml:"Envelope"`
	MessageID string   `xml:"Header>MessageID"`
	Action    string   `xml:"Header>Action"`
	Probe     *struct {
		Types  string `xml:"Types"`
		Scopes string `xml:"Scopes"`
	} `xml:"Body>Probe"`
}

// parseProbe reads a datagram; ok is false for anything but a Probe this
// device matches.
func parseProbe(b []byte, scopes []string) (probe, bool) {
	var p probe
	if noDirectives(b) != nil || xml.Unmarshal(b, &p) != nil || p.Probe == nil {
		return p, false
	}
	if t := strings.Fields(p.Probe.Types); len(t) > 0 {
		match := false
		for _, typ := range t {
			local := typ[strings.LastIndexByte(typ, ':')+1:]
			match = match || local == "NetworkVideoTransmitter" || local == "Device"
		}
		if !match {
			return p, false
		}
	}
	for _, want := range strings.Fields(p.Probe.Scopes) {
		found := false
		for _, have := range scopes {
			found = found || strings.HasPrefix(have, strings.TrimSuffix(want, "/"))
		}
		if !found {
			return p, false // every scope asked for must match one of ours
		}
	}
	return p, true
}

func (d *Discovery) handle(b []byte, cm *ipv4.ControlMessage, from *net.UDPAddr) {
	p, match := parseProbe(b, d.o.Info.Scopes())
	if !match {
		return
	}
	if !d.limit.allow(from.IP.String()) {
		d.dropped++
		if d.dropped == 1 || d.dropped%1000 == 0 {
			d.o.Logger.Warn("ws-discovery: probes come faster than they are answered; the rest go unanswered",
				"from", from.String(), "unanswered_total", d.dropped)
		}
		return
	}
	ifi, err := net.InterfaceByIndex(cm.IfIndex)
	if err != nil {
		return
	}
	local := ipv4Of(ifi)
	if local == nil {
		return
	}
	var out bytes.Buffer
	fmt.Fprintf(&out, `<?xml version="1.0" encoding="UTF-8"?><s:Envelope xmlns:s="%s" xmlns:a="%s" xmlns:d="%s" xmlns:dn="http://www.onvif.org/ver10/network/wsdl" xmlns:tds="%s">`+
		`<s:Header><a:MessageID>urn:uuid:%s</a:MessageID><a:RelatesTo>%s</a:RelatesTo>`+
		`<a:To>http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous</a:To>`+
		`<a:Action>%s/ProbeMatches</a:Action></s:Header><s:Body><d:ProbeMatches><d:ProbeMatch>`,
		soap12, nsAddressing, nsDiscovery, nsDevice, newUUID(), escape(p.MessageID), nsDiscovery)
	d.endpoint(&out, local)
	out.WriteString(`</d:ProbeMatch></d:ProbeMatches></s:Body></s:Envelope>`)
	d.conn.WriteTo(out.Bytes(), &ipv4.ControlMessage{IfIndex: cm.IfIndex}, from)
	d.answered++
}

// endpoint is the device's description in ProbeMatch and Hello: its
// address, types, scopes and where its device service is.
func (d *Discovery) endpoint(w *bytes.Buffer, local net.IP) {
	fmt.Fprintf(w, `<a:EndpointReference><a:Address>%s</a:Address></a:EndpointReference><d:Types>%s</d:Types>`+
		`<d:Scopes>%s</d:Scopes><d:XAddrs>http://%s:%d%s</d:XAddrs><d:MetadataVersion>1</d:MetadataVersion>`,
		escape(d.o.UUID), deviceTypes, escape(strings.Join(d.o.Info.Scopes(), " ")), local, d.o.HTTPPort, DevicePath)
}

// announce multicasts Hello or Bye on every interface.
func (d *Discovery) announce(kind string) {
	group := &net.UDPAddr{IP: net.ParseIP(discoveryGroup), Port: discoveryPort}
	for _, ifi := range multicastInterfaces() {
		var out bytes.Buffer
		fmt.Fprintf(&out, `<?xml version="1.0" encoding="UTF-8"?><s:Envelope xmlns:s="%s" xmlns:a="%s" xmlns:d="%s" xmlns:dn="http://www.onvif.org/ver10/network/wsdl" xmlns:tds="%s">`+
			`<s:Header><a:MessageID>urn:uuid:%s</a:MessageID><a:To>urn:schemas-xmlsoap-org:ws:2005:04:discovery</a:To>`+
			`<a:Action>%s/%s</a:Action></s:Header><s:Body><d:%s>`, soap12, nsAddressing, nsDiscovery, nsDevice, newUUID(), nsDiscovery, kind, kind)
		if kind == "Bye" {
			fmt.Fprintf(&out, `<a:EndpointReference><a:Address>%s</a:Address></a:EndpointReference>`, escape(d.o.UUID))
		} else {
			d.endpoint(&out, ipv4Of(&ifi))
		}
		fmt.Fprintf(&out, `</d:%s></s:Body></s:Envelope>`, kind)
		d.conn.SetMulticastInterface(&ifi)
		d.conn.WriteTo(out.Bytes(), nil, group)
	}
}

// newUUID is a random (version 4) UUID.
func newUUID() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// rateLimit is a token bucket over all sources plus a per-source one.
type rateLimit struct {
	rate, per int
	now       func() time.Time
	tokens    float64
	last      time.Time
	sources   map[string]*sourceBucket
}

type sourceBucket struct {
	tokens float64
	last   time.Time
}

func (l *rateLimit) allow(src string) bool {
	now := l.now()
	l.tokens = min(float64(2*l.rate), l.tokens+now.Sub(l.last).Seconds()*float64(l.rate))
	if l.last.IsZero() {
		l.tokens = float64(2 * l.rate)
	}
	l.last = now
	if l.sources == nil || len(l.sources) > 4096 {
		l.sources = map[string]*sourceBucket{} // a spoofed flood must not grow it without end
	}
	s := l.sources[src]
	if s == nil {
		s = &sourceBucket{tokens: float64(l.per), last: now}
		l.sources[src] = s
	}
	s.tokens = min(float64(l.per), s.tokens+now.Sub(s.last).Seconds()*float64(l.per))
	s.last = now
	if l.tokens < 1 || s.tokens < 1 {
		return false
	}
	l.tokens--
	s.tokens--
	return true
}
