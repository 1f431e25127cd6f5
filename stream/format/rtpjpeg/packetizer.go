// Package rtpjpeg carries JPEG pictures over RTP as RFC 2435 describes, in
// both directions: the packetizer splits a baseline JPEG into payloads (with
// Q=255 and in-band quantization tables, as ffmpeg and GStreamer send), and
// the depacketizer rebuilds complete JPEG files from received packets.
package rtpjpeg

import (
	"encoding/binary"
	"fmt"
)

// Payload type and clock RFC 3551 assign to JPEG.
const (
	PayloadType = 26
	ClockRate   = 90000
)

// DefaultMTU is the default largest RTP packet (header included) sent.
// It leaves room below a 1500-byte Ethernet MTU for IP, UDP and tunnels.
const DefaultMTU = 1400

const (
	rtpHeaderLen     = 12
	mainHeaderLen    = 8
	restartHeaderLen = 4
	quantHeaderLen   = 4 + 128
	// MinMTU leaves room for every header plus some scan data.
	MinMTU = rtpHeaderLen + mainHeaderLen + restartHeaderLen + quantHeaderLen + 64
	// MaxMTU is the largest UDP payload over IPv4.
	MaxMTU = 65507
)

// Payloads is one frame's RTP payloads laid end to end in a single buffer,
// so a frame is packetized once and shared read-only by every session.
type Payloads struct {
	buf  []byte
	ends []int
}

// Len is the number of packets; the last one carries the RTP marker bit.
func (p *Payloads) Len() int { return len(p.ends) }

// At returns payload i.
func (p *Payloads) At(i int) []byte {
	start := 0
	if i > 0 {
		start = p.ends[i-1]
	}
	return p.buf[start:p.ends[i]]
}

// Bytes is the total payload size.
func (p *Payloads) Bytes() int { return len(p.buf) }

// Reset empties p, keeping its storage.
func (p *Payloads) Reset() {
	p.buf, p.ends = p.buf[:0], p.ends[:0]
}

// Packetizer splits pictures into payloads that fit an MTU.
type Packetizer struct {
	mtu int
}

// NewPacketizer returns a packetizer whose RTP packets, header included, are
// at most mtu bytes.
func NewPacketizer(mtu int) (*Packetizer, error) {
	if mtu < MinMTU || mtu > MaxMTU {
		return nil, fmt.Errorf("rtpjpeg: mtu %d out of range %d-%d", mtu, MinMTU, MaxMTU)
	}
	return &Packetizer{mtu: mtu}, nil
}

// MTU reports the configured packet size limit.
func (pk *Packetizer) MTU() int { return pk.mtu }

// Packetize replaces dst's contents with pic's payloads. Once dst has grown
// to the largest frame it allocates nothing.
func (pk *Packetizer) Packetize(dst *Payloads, pic *Picture) {
	dst.Reset()
	room := pk.mtu - rtpHeaderLen
	scan := pic.Scan
	for off := 0; off == 0 || off < len(scan); {
		hdr := mainHeaderLen
		if pic.Type >= 64 {
			hdr += restartHeaderLen
		}
		if off == 0 {
			hdr += quantHeaderLen
		}
		n := min(room-hdr, len(scan)-off)
		dst.buf = appendMainHeader(dst.buf, off, pic)
		if pic.Type >= 64 {
			// F=L=1 with count 0x3FFF: packets are not aligned to restart
			// intervals, so the receiver must not decode intervals alone.
			dst.buf = binary.BigEndian.AppendUint16(dst.buf, pic.Restart)
			dst.buf = binary.BigEndian.AppendUint16(dst.buf, 0xFFFF)
		}
		if off == 0 {
			dst.buf = append(dst.buf, 0, 0, 0, 128) // MBZ, precision 8-bit, length
			dst.buf = append(dst.buf, pic.Quant[:]...)
		}
		dst.buf = append(dst.buf, scan[off:off+n]...)
		dst.ends = append(dst.ends, len(dst.buf))
		off += n
	}
}

func appendMainHeader(b []byte, off int, pic *Picture) []byte {
	return append(b,
		0, // type-specific
		byte(off>>16), byte(off>>8), byte(off),
		pic.Type,
		255, // Q: tables travel in-band
		byte(pic.Width/8), byte(pic.Height/8))
}
