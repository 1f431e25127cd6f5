// Package rtpjpeg carries JPEG pictures over RTP as RFC 2435 describes, in
// both directions: the packetizer splits a baseline JPEG into payloads (with
// Q=255 and in-band quantization tables, as ffmpeg and GStreamer send), and
// the depacketizer rebuilds complete JPEG files from received packets.
package rtpjpeg

import (
	"encoding/binary"
	"fmt"

	"flowcam/stream/format/rtpbuf"
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
func (pk *Packetizer) Packetize(dst *rtpbuf.Payloads, pic *Picture) {
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
		b := appendMainHeader(dst.Start(), off, pic)
		if pic.Type >= 64 {
			// F=L=1 with count 0x3FFF: packets are not aligned to restart
			// intervals, so the receiver must not decode intervals alone.
			b = binary.BigEndian.AppendUint16(b, pic.Restart)
			b = binary.BigEndian.AppendUint16(b, 0xFFFF)
		}
		if off == 0 {
			b = append(b, 0, 0, 0, 128) // MBZ, precision 8-bit, length
			b = append(b, pic.Quant[:]...)
		}
		dst.Finish(append(b, scan[off:off+n]...))
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
