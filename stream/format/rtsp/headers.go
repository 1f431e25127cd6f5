package rtsp

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// ErrHeader reports a header whose syntax is wrong.
var ErrHeader = errors.New("rtsp: malformed header")

// Lower transports a Transport header may name.
const (
	LowerUDP = "UDP"
	LowerTCP = "TCP"
)

// Transport is one alternative of a Transport header (RFC 2326 12.39).
type Transport struct {
	Protocol    string // "RTP/AVP" (or an unknown profile, kept to refuse it)
	Lower       string // LowerUDP or LowerTCP
	Multicast   bool
	Destination string
	Ports       [2]int // multicast RTP and RTCP ports (port=); zero when absent
	TTL         int    // multicast time to live (ttl=); zero when absent
	ClientPorts [2]int // zero when absent
	ServerPorts [2]int
	Interleaved [2]int
	HasInterl   bool
	SSRC        uint32
	HasSSRC     bool
	Mode        string // lower-cased; "" means play
}

// ParseTransports parses every comma-separated alternative, in the client's
// order of preference.
func ParseTransports(v string) ([]Transport, error) {
	var out []Transport
	for _, alt := range strings.Split(v, ",") {
		alt = strings.TrimSpace(alt)
		if alt == "" {
			continue
		}
		t, err := parseTransport(alt)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: empty Transport", ErrHeader)
	}
	return out, nil
}

func parseTransport(s string) (Transport, error) {
	parts := strings.Split(s, ";")
	var t Transport
	spec := strings.Split(strings.ToUpper(strings.TrimSpace(parts[0])), "/")
	if len(spec) < 2 || len(spec) > 3 || !isToken(spec[0]) || !isToken(spec[1]) ||
		len(spec) == 3 && !isToken(spec[2]) {
		return t, fmt.Errorf("%w: transport spec %q", ErrHeader, parts[0])
	}
	t.Protocol, t.Lower = spec[0]+"/"+spec[1], LowerUDP
	if len(spec) == 3 {
		t.Lower = spec[2]
	}
	for _, p := range parts[1:] {
		if err := t.param(strings.TrimSpace(p)); err != nil {
			return t, err
		}
	}
	return t, nil
}

func (t *Transport) param(p string) error {
	key, val, _ := strings.Cut(p, "=")
	var err error
	switch strings.ToLower(key) {
	case "unicast":
		t.Multicast = false
	case "multicast":
		t.Multicast = true
	case "destination":
		t.Destination = val
	case "port":
		t.Ports, err = parsePorts(val)
	case "ttl":
		t.TTL, err = strconv.Atoi(val)
		if err == nil && (t.TTL < 0 || t.TTL > 255) {
			err = ErrHeader
		}
	case "client_port":
		t.ClientPorts, err = parsePorts(val)
	case "server_port":
		t.ServerPorts, err = parsePorts(val)
	case "interleaved":
		t.Interleaved, err = parseChannels(val)
		t.HasInterl = err == nil
	case "ssrc":
		var n uint64
		n, err = strconv.ParseUint(val, 16, 32)
		t.SSRC, t.HasSSRC = uint32(n), err == nil
	case "mode":
		t.Mode = strings.ToLower(strings.Trim(val, `"`))
	}
	if err != nil {
		return fmt.Errorf("%w: transport parameter %q", ErrHeader, p)
	}
	return nil // unknown parameters (layers, append...) are ignored
}

// parsePorts reads "a-b" or "a" (meaning a and a+1).
func parsePorts(v string) ([2]int, error) {
	r, err := parseRange(v, 1, 65535)
	if err == nil && r[1] > 65535 {
		err = ErrHeader
	}
	return r, err
}

func parseChannels(v string) ([2]int, error) {
	r, err := parseRange(v, 0, 254)
	if err == nil && r[1] > 255 {
		err = ErrHeader
	}
	return r, err
}

func parseRange(v string, lo, hi int) ([2]int, error) {
	a, b, found := strings.Cut(v, "-")
	x, err := strconv.Atoi(a)
	if err != nil || x < lo || x > hi {
		return [2]int{}, ErrHeader
	}
	y := x + 1
	if found {
		if y, err = strconv.Atoi(b); err != nil || y < x {
			return [2]int{}, ErrHeader
		}
	}
	return [2]int{x, y}, nil
}

// String formats t as a server's reply.
func (t Transport) String() string {
	var b strings.Builder
	b.WriteString(t.Protocol)
	if t.Lower != LowerUDP && t.Lower != "" {
		// TCP, or an unknown lower transport kept so it can be refused:
		// dropping it would turn it into UDP.
		b.WriteString("/" + t.Lower)
	}
	if t.Multicast {
		b.WriteString(";multicast")
	} else {
		b.WriteString(";unicast")
	}
	if t.Destination != "" {
		fmt.Fprintf(&b, ";destination=%s", t.Destination)
	}
	if t.Ports[0] != 0 {
		fmt.Fprintf(&b, ";port=%d-%d", t.Ports[0], t.Ports[1])
	}
	if t.TTL != 0 {
		fmt.Fprintf(&b, ";ttl=%d", t.TTL)
	}
	if t.ClientPorts[0] != 0 {
		fmt.Fprintf(&b, ";client_port=%d-%d", t.ClientPorts[0], t.ClientPorts[1])
	}
	if t.ServerPorts[0] != 0 {
		fmt.Fprintf(&b, ";server_port=%d-%d", t.ServerPorts[0], t.ServerPorts[1])
	}
	if t.HasInterl {
		fmt.Fprintf(&b, ";interleaved=%d-%d", t.Interleaved[0], t.Interleaved[1])
	}
	if t.HasSSRC {
		fmt.Fprintf(&b, ";ssrc=%08X", t.SSRC)
	}
	if t.Mode != "" {
		fmt.Fprintf(&b, ";mode=%s", strings.ToLower(t.Mode))
	}
	return b.String()
}

// SessionHeader is the Session header (RFC 2326 12.37).
type SessionHeader struct {
	ID      string
	Timeout int // seconds; 0 when absent
}

// ParseSession parses "id[;timeout=N]".
func ParseSession(v string) (SessionHeader, error) {
	id, rest, _ := strings.Cut(v, ";")
	s := SessionHeader{ID: strings.TrimSpace(id)}
	if s.ID == "" || len(s.ID) > 128 || !isToken(s.ID) {
		return s, fmt.Errorf("%w: session id %q", ErrHeader, id)
	}
	for _, p := range strings.Split(rest, ";") {
		k, val, _ := strings.Cut(strings.TrimSpace(p), "=")
		if strings.EqualFold(k, "timeout") {
			n, err := strconv.Atoi(val)
			if err != nil || n < 0 {
				return s, fmt.Errorf("%w: session timeout %q", ErrHeader, val)
			}
			s.Timeout = n
		}
	}
	return s, nil
}

// String formats the header.
func (s SessionHeader) String() string {
	if s.Timeout > 0 {
		return fmt.Sprintf("%s;timeout=%d", s.ID, s.Timeout)
	}
	return s.ID
}

// RTPInfo is one stream's entry in a PLAY response's RTP-Info header.
type RTPInfo struct {
	URL     string
	Seq     uint16
	RTPTime uint32
}

// String formats the entry as "url=...;seq=...;rtptime=...".
func (r RTPInfo) String() string {
	return fmt.Sprintf("url=%s;seq=%d;rtptime=%d", r.URL, r.Seq, r.RTPTime)
}

// ParseRTPInfo parses an RTP-Info header's entries.
func ParseRTPInfo(v string) ([]RTPInfo, error) {
	var out []RTPInfo
	for _, entry := range strings.Split(v, ",") {
		var r RTPInfo
		for _, p := range strings.Split(strings.TrimSpace(entry), ";") {
			k, val, _ := strings.Cut(p, "=")
			var err error
			switch strings.TrimSpace(k) {
			case "url":
				r.URL = val
			case "seq":
				var n uint64
				n, err = strconv.ParseUint(val, 10, 16)
				r.Seq = uint16(n)
			case "rtptime":
				var n uint64
				n, err = strconv.ParseUint(val, 10, 32)
				r.RTPTime = uint32(n)
			}
			if err != nil {
				return nil, fmt.Errorf("%w: RTP-Info %q", ErrHeader, p)
			}
		}
		out = append(out, r)
	}
	return out, nil
}

// OptionTags splits a Require or Proxy-Require header into its tags.
func OptionTags(v string) []string {
	var out []string
	for _, t := range strings.Split(v, ",") {
		if t = strings.TrimSpace(t); t != "" {
			out = append(out, t)
		}
	}
	return out
}
