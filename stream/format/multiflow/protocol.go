// Package multiflow is the wire format of one RTP stream carried over several
// UDP paths ("flows") at once: the RTSP Multiflow request and answer, the
// RFC 8285 header extension that numbers packets per flow, the HMAC'd flow
// registration and the server's rate notice (RTCP APP packets). It owns
// bytes only; the server's end of the flows is stream/server/flowsend, the
// client's is stream/client/flowrecv. docs/multiflow.md shows every layout.
package multiflow

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/pion/rtp"
)

// OptionTag is the RTSP option tag (RFC 2326 12.32) a client puts in
// Require to ask for multi-flow; a server without it answers 551.
const OptionTag = "com.flowcam.multiflow"

// HeaderName is the RTSP header that negotiates flows.
const HeaderName = "Multiflow"

// MaxFlows is the protocol's limit on flows per session.
const MaxFlows = 8

// DefaultExtID is the RFC 8285 one-byte header extension id of the flow
// sequence number.
const DefaultExtID = 1

// ExtensionOverhead is what the flow extension adds to every RTP packet:
// the 4-byte RFC 8285 header and one 4-byte element.
const ExtensionOverhead = 8

// DefaultReportInterval is how often the client reports on each flow:
// twenty times a second, so a path's queue shows within a few tens of
// milliseconds and a dead path is noticed in a fraction of a second.
const DefaultReportInterval = 50 * time.Millisecond

// ErrProtocol reports a malformed multi-flow header or packet.
var ErrProtocol = errors.New("multiflow: malformed")

// Mode is how packets are spread over flows.
type Mode int

// Modes.
const (
	Stripe    Mode = iota // each packet on one flow, shares by estimated capacity
	Duplicate             // every packet on every live flow
	Failover              // one active flow, the others on standby
)

var modeNames = [...]string{"stripe", "duplicate", "failover"}

func (m Mode) String() string {
	if int(m) < len(modeNames) {
		return modeNames[m]
	}
	return "mode(" + strconv.Itoa(int(m)) + ")"
}

// ParseMode reads a mode name.
func ParseMode(s string) (Mode, error) {
	for i, n := range modeNames {
		if strings.EqualFold(s, n) {
			return Mode(i), nil
		}
	}
	return 0, fmt.Errorf("multiflow: unknown mode %q (accepted: stripe, duplicate, failover)", s)
}

// UnmarshalText reads a mode name, so a configuration refuses an unknown
// mode where it reads it.
func (m *Mode) UnmarshalText(b []byte) error {
	v, err := ParseMode(string(b))
	if err != nil {
		return err
	}
	*m = v
	return nil
}

// MarshalText writes the mode's name.
func (m Mode) MarshalText() ([]byte, error) { return []byte(m.String()), nil }

// Request is the Multiflow header of a client's SETUP.
type Request struct {
	Flows int
	Mode  Mode
	// Report is the client's report interval on each flow; the server
	// judges a flow stalled only after it. LegacyReportInterval when 0
	// (clients that do not say).
	Report time.Duration
	// Latency is the client's play-out budget: the server sends no frame
	// that cannot arrive within it. Unsaid when 0.
	Latency time.Duration
	// Weights, in stripe mode, fix each flow's share instead of measuring
	// it (a baseline, as RIST's weighted peers). None: adaptive.
	Weights []float64
}

// LegacyReportInterval is the report interval of clients that do not name
// theirs (the protocol's first version).
const LegacyReportInterval = 100 * time.Millisecond

// Bounds on what a request may name.
const (
	minReport  = 10 * time.Millisecond
	maxReport  = 2 * time.Second
	maxLatency = 10 * time.Second
	maxWeight  = 1000
)

func (r Request) String() string {
	s := fmt.Sprintf("flows=%d;mode=%s", r.Flows, r.Mode)
	if r.Report > 0 {
		s += fmt.Sprintf(";report=%d", r.Report.Milliseconds())
	}
	if r.Latency > 0 {
		s += fmt.Sprintf(";latency=%d", r.Latency.Milliseconds())
	}
	if len(r.Weights) > 0 {
		w := make([]string, len(r.Weights))
		for i, x := range r.Weights {
			w[i] = strconv.FormatFloat(x, 'g', -1, 64)
		}
		s += ";weights=" + strings.Join(w, ",")
	}
	return s
}

// ParseRequest parses "flows=N;mode=M[;report=MS][;latency=MS][;weights=W,W...]".
// Unknown parameters are ignored, so newer clients still reach older
// servers.
func ParseRequest(v string) (Request, error) {
	r := Request{Flows: 1, Mode: Stripe}
	for _, p := range strings.Split(v, ";") {
		k, val, _ := strings.Cut(strings.TrimSpace(p), "=")
		if err := r.param(strings.ToLower(k), val); err != nil {
			return r, fmt.Errorf("%w request %q: %v", ErrProtocol, p, err)
		}
	}
	if len(r.Weights) > 0 && len(r.Weights) != r.Flows {
		return r, fmt.Errorf("%w request: %d weights for %d flows", ErrProtocol, len(r.Weights), r.Flows)
	}
	return r, nil
}

func (r *Request) param(k, val string) error {
	var err error
	switch k {
	case "flows":
		r.Flows, err = strconv.Atoi(val)
		if err == nil && r.Flows < 1 {
			err = errors.New("below 1")
		}
	case "mode":
		r.Mode, err = ParseMode(val)
	case "report":
		r.Report, err = millis(val, minReport, maxReport)
	case "latency":
		r.Latency, err = millis(val, time.Millisecond, maxLatency)
	case "weights":
		r.Weights, err = weights(val)
	}
	return err
}

// millis reads a whole number of milliseconds within [lo, hi].
func millis(v string, lo, hi time.Duration) (time.Duration, error) {
	n, err := strconv.ParseUint(v, 10, 32)
	d := time.Duration(n) * time.Millisecond
	if err == nil && (d < lo || d > hi) {
		err = fmt.Errorf("%v out of %v..%v", d, lo, hi)
	}
	return d, err
}

func weights(v string) ([]float64, error) {
	var out []float64
	for _, f := range strings.Split(v, ",") {
		w, err := strconv.ParseFloat(strings.TrimSpace(f), 64)
		if err != nil || !(w > 0 && w <= maxWeight) {
			return nil, fmt.Errorf("weight %q: want a number above 0, at most %d", f, maxWeight)
		}
		out = append(out, w)
	}
	if len(out) > MaxFlows {
		return nil, fmt.Errorf("%d weights, at most %d", len(out), MaxFlows)
	}
	return out, nil
}

// Response is the Multiflow header of the server's SETUP reply.
type Response struct {
	Mode  Mode
	Token [16]byte         // session secret for flow registration
	ExtID uint8            // header extension id of the flow sequence
	Flows []netip.AddrPort // server address of each flow, by index
}

func (r Response) String() string {
	addrs := make([]string, len(r.Flows))
	for i, a := range r.Flows {
		addrs[i] = a.String()
	}
	return fmt.Sprintf("mode=%s;token=%s;ext=%d;flows=%s", r.Mode, hex.EncodeToString(r.Token[:]),
		r.ExtID, strings.Join(addrs, ","))
}

// ParseResponse parses the server's Multiflow header.
func ParseResponse(v string) (Response, error) {
	var r Response
	for _, p := range strings.Split(v, ";") {
		k, val, _ := strings.Cut(strings.TrimSpace(p), "=")
		if err := r.param(strings.ToLower(k), val); err != nil {
			return r, fmt.Errorf("%w response %q: %v", ErrProtocol, p, err)
		}
	}
	if len(r.Flows) == 0 || len(r.Flows) > MaxFlows || r.ExtID == 0 || r.ExtID > 14 {
		return r, fmt.Errorf("%w response: %d flows, extension id %d", ErrProtocol, len(r.Flows), r.ExtID)
	}
	return r, nil
}

func (r *Response) param(k, val string) error {
	var err error
	switch k {
	case "mode":
		r.Mode, err = ParseMode(val)
	case "token":
		var b []byte
		if b, err = hex.DecodeString(val); err == nil && len(b) != len(r.Token) {
			err = errors.New("token must be 16 bytes")
		}
		copy(r.Token[:], b)
	case "ext":
		var n uint64
		n, err = strconv.ParseUint(val, 10, 8)
		r.ExtID = uint8(n)
	case "flows":
		for _, a := range strings.Split(val, ",") {
			ap, perr := netip.ParseAddrPort(strings.TrimSpace(a))
			if perr != nil {
				return perr
			}
			r.Flows = append(r.Flows, ap)
		}
	}
	return err
}

// AppendExtension appends the flow element's 3 data bytes: flow index and
// per-flow sequence number, as RTP header extension payload.
func AppendExtension(b []byte, flow uint8, seq uint16) []byte {
	return append(b, flow, byte(seq>>8), byte(seq))
}

// ParseExtension reads a flow element's data.
func ParseExtension(b []byte) (flow uint8, seq uint16, ok bool) {
	if len(b) != 3 {
		return 0, 0, false
	}
	return b[0], binary.BigEndian.Uint16(b[1:]), true
}

// IsRTCP tells RTCP from RTP on a multiplexed socket (RFC 5761 4): RTCP
// packet types 192-223 never clash with RTP payload types in use.
func IsRTCP(pkt []byte) bool {
	return len(pkt) >= 2 && pkt[1] >= 192 && pkt[1] <= 223
}

// Registration application names (RTCP APP, RFC 3550 6.7).
const (
	NameRegister = "FCRG" // client: this socket is flow N of the session
	NameAck      = "FCOK" // server: registration accepted (echoes the counter)
	macLen       = 16
)

// Registration is the payload of a flow registration or its acknowledgement.
type Registration struct {
	Flow    uint8
	Counter uint64 // strictly increasing per flow: a replayed packet is stale
}

// mac authenticates a registration with the session token, binding it to
// the session, the direction, the flow and the counter.
func mac(token [16]byte, session, name string, r Registration) []byte {
	h := hmac.New(sha256.New, token[:])
	h.Write([]byte(name))
	h.Write([]byte(session))
	var b [9]byte
	b[0] = r.Flow
	binary.BigEndian.PutUint64(b[1:], r.Counter)
	h.Write(b[:])
	return h.Sum(nil)[:macLen]
}

// appData is counter then MAC, the APP packet's application data.
func RegistrationData(token [16]byte, session, name string, r Registration) []byte {
	d := binary.BigEndian.AppendUint64(make([]byte, 0, 8+macLen), r.Counter)
	return append(d, mac(token, session, name, r)...)
}

// verify checks an APP packet's data against the token.
func VerifyRegistration(token [16]byte, session, name string, flow uint8, data []byte) (Registration, bool) {
	if len(data) != 8+macLen {
		return Registration{}, false
	}
	r := Registration{Flow: flow, Counter: binary.BigEndian.Uint64(data)}
	return r, hmac.Equal(data[8:], mac(token, session, name, r))
}

const rtpHeaderLen = 12

// AppendPacket appends an RTP packet whose header carries the RFC 8285
// one-byte extension element (flow, flow sequence). It is written by hand
// after pion's fixed header so that nothing is allocated per packet.
func AppendPacket(b []byte, h *rtp.Header, id, flow uint8, seq uint16, payload []byte) []byte {
	start := len(b)
	b = append(b, make([]byte, rtpHeaderLen)...)
	h.MarshalTo(b[start:])
	b[start] |= 0x10 // X: a header extension follows
	b = append(b, 0xBE, 0xDE, 0, 1, id<<4|2)
	b = AppendExtension(b, flow, seq)
	return append(b, payload...)
}
