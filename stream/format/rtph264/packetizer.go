// Package rtph264 carries H.264 over RTP as RFC 6184 describes, in
// packetization mode 1 (non-interleaved), in both directions: the
// packetizer turns an access unit's NAL units into payloads (single NAL
// unit packets, STAP-A to aggregate small ones such as the parameter sets,
// FU-A to fragment large ones), the depacketizer assembles access units
// from received packets, and the SDP side writes and reads the fmtp
// parameters (profile-level-id, sprop-parameter-sets).
package rtph264

import (
	"encoding/binary"
	"errors"
	"fmt"

	"flowcam/stream/format/rtpbuf"
)

// ClockRate is RFC 6184's RTP clock.
const ClockRate = 90000

// NAL unit types this package handles itself.
const (
	typeSTAPA = 24
	typeFUA   = 28
)

const (
	rtpHeaderLen = 12
	fuHeaderLen  = 2
	// MinMTU leaves room for an FU-A packet with some slice data.
	MinMTU = rtpHeaderLen + fuHeaderLen + 64
	// MaxMTU is the largest UDP payload over IPv4.
	MaxMTU = 65507
)

// ErrEmpty is an access unit with no NAL unit, or an empty NAL unit.
var ErrEmpty = errors.New("rtph264: empty NAL unit")

// Packetizer splits access units into payloads that fit an MTU.
type Packetizer struct {
	mtu int
}

// NewPacketizer returns a packetizer whose RTP packets, header included,
// are at most mtu bytes.
func NewPacketizer(mtu int) (*Packetizer, error) {
	if mtu < MinMTU || mtu > MaxMTU {
		return nil, fmt.Errorf("rtph264: mtu %d out of range %d-%d", mtu, MinMTU, MaxMTU)
	}
	return &Packetizer{mtu: mtu}, nil
}

// MTU reports the configured packet size limit.
func (pk *Packetizer) MTU() int { return pk.mtu }

// Packetize replaces dst's contents with the payloads of one access unit,
// its NAL units given without start codes, in decoding order. Runs of NAL
// units that fit one packet together go as a STAP-A, a NAL unit that fits
// alone as itself, a larger one as FU-A fragments. Once dst has grown to
// the largest access unit it allocates nothing.
func (pk *Packetizer) Packetize(dst *rtpbuf.Payloads, au [][]byte) error {
	dst.Reset()
	if len(au) == 0 {
		return ErrEmpty
	}
	room := pk.mtu - rtpHeaderLen
	for i := 0; i < len(au); {
		if len(au[i]) == 0 {
			return ErrEmpty
		}
		if n := aggregate(au[i:], room); n > 1 {
			dst.Finish(appendSTAPA(dst.Start(), au[i:i+n]))
			i += n
			continue
		}
		if len(au[i]) <= room {
			dst.Finish(append(dst.Start(), au[i]...))
		} else {
			fragment(dst, au[i], room)
		}
		i++
	}
	return nil
}

// aggregate counts how many NAL units from the start of nalus fit one
// STAP-A: a header byte, then each with a 2-byte size.
func aggregate(nalus [][]byte, room int) int {
	size, n := 1, 0
	for _, nalu := range nalus {
		if len(nalu) == 0 || size+2+len(nalu) > room {
			break
		}
		size += 2 + len(nalu)
		n++
	}
	return n
}

// appendSTAPA writes a STAP-A whose F bit is any of its NAL units' and
// whose NRI is the highest of theirs (RFC 6184 5.7.1).
func appendSTAPA(b []byte, nalus [][]byte) []byte {
	var f, nri byte
	for _, n := range nalus {
		f |= n[0] & 0x80
		nri = max(nri, n[0]&0x60)
	}
	b = append(b, f|nri|typeSTAPA)
	for _, n := range nalus {
		b = binary.BigEndian.AppendUint16(b, uint16(len(n)))
		b = append(b, n...)
	}
	return b
}

// fragment writes a NAL unit as FU-A packets: the NAL header's F and NRI in
// the FU indicator, its type in the FU header with the start and end bits.
func fragment(dst *rtpbuf.Payloads, nalu []byte, room int) {
	indicator := nalu[0]&0xE0 | typeFUA
	typ := nalu[0] & 0x1F
	body := nalu[1:]
	chunk := room - fuHeaderLen
	for off := 0; off < len(body); off += chunk {
		end := min(off+chunk, len(body))
		header := typ
		if off == 0 {
			header |= 0x80
		}
		if end == len(body) {
			header |= 0x40
		}
		dst.Finish(append(append(dst.Start(), indicator, header), body[off:end]...))
	}
}
