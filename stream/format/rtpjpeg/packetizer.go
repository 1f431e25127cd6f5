// Package rtpjpeg carries JPEG pictures over RTP as RFC 2435 describes, in
// both directions: the packetizer splits a baseline JPEG into payloads (with
// Q=255 and in-band quantization tables, as ffmpeg and GStreamer send), and
// the depacketizer rebuilds complete JPEG files from received packets.
package rtpjpeg

import (
	"bytes"
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
	mtu    int
	starts []int // scan offsets where restart intervals begin, reused
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

// unaligned is the restart header's F=L=1, count 0x3FFF: packets do not
// start on restart intervals, so a receiver may only resume at a restart
// marker once it holds the whole frame.
const unaligned = 0xFFFF

// maxIntervals is the most restart intervals a frame can number in the
// header's 14-bit count (0x3FFF is taken by unaligned).
const maxIntervals = 0x3FFF

// Packetize replaces dst's contents with pic's payloads. Once dst has grown
// to the largest frame it allocates nothing. A picture with restart markers
// is cut on its restart intervals (RFC 2435 section 3.1.7): each packet
// holds whole intervals, or one part of an interval too big for a packet,
// and says which, so a receiver that lost a packet can decode the frame's
// other intervals.
func (pk *Packetizer) Packetize(dst *rtpbuf.Payloads, pic *Picture) {
	dst.Reset()
	if pic.Type >= 64 {
		pk.starts = intervalStarts(pk.starts[:0], pic.Scan)
		if len(pk.starts) <= maxIntervals {
			pk.aligned(dst, pic)
			return
		}
	}
	pk.fragment(dst, pic, 0, len(pic.Scan), unaligned)
}

// aligned packs whole restart intervals into packets.
func (pk *Packetizer) aligned(dst *rtpbuf.Payloads, pic *Picture) {
	starts, scan := pk.starts, pic.Scan
	end := func(i int) int {
		if i+1 < len(starts) {
			return starts[i+1]
		}
		return len(scan)
	}
	for i := 0; i < len(starts); {
		from := starts[i]
		room := pk.mtu - rtpHeaderLen - pk.headerLen(pic, from)
		j := i
		for j < len(starts) && end(j)-from <= room {
			j++
		}
		if j == i { // one interval bigger than a packet
			pk.fragment(dst, pic, from, end(i), uint16(i))
			i++
			continue
		}
		b := pk.start(dst, pic, from, 0xC000|uint16(i))
		dst.Finish(append(b, scan[from:end(j-1)]...))
		i = j
	}
}

// fragment sends scan[from:to] in as many packets as it takes. With a
// restart interval index, the first packet has F set and the last L.
func (pk *Packetizer) fragment(dst *rtpbuf.Payloads, pic *Picture, from, to int, interval uint16) {
	for off, first := from, true; first || off < to; first = false {
		n := min(pk.mtu-rtpHeaderLen-pk.headerLen(pic, off), to-off)
		rh := uint16(unaligned)
		if interval != unaligned {
			rh = interval & maxIntervals
			if first {
				rh |= 0x8000
			}
			if off+n == to {
				rh |= 0x4000
			}
		}
		b := pk.start(dst, pic, off, rh)
		dst.Finish(append(b, pic.Scan[off:off+n]...))
		off += n
	}
}

// headerLen is the RFC 2435 headers' size in a packet starting at off.
func (pk *Packetizer) headerLen(pic *Picture, off int) int {
	n := mainHeaderLen
	if pic.Type >= 64 {
		n += restartHeaderLen
	}
	if off == 0 {
		n += quantHeaderLen
	}
	return n
}

// start begins a payload: the main header, the restart header for types
// 64-127 (rh holds F, L and the count) and, in the first packet, the
// quantization tables.
func (pk *Packetizer) start(dst *rtpbuf.Payloads, pic *Picture, off int, rh uint16) []byte {
	b := appendMainHeader(dst.Start(), off, pic)
	if pic.Type >= 64 {
		b = binary.BigEndian.AppendUint16(b, pic.Restart)
		b = binary.BigEndian.AppendUint16(b, rh)
	}
	if off == 0 {
		b = append(b, 0, 0, 0, 128) // MBZ, precision 8-bit, length
		b = append(b, pic.Quant[:]...)
	}
	return b
}

// intervalStarts lists where each restart interval begins in the scan: at
// 0 and just after every RSTn marker. Byte stuffing keeps 0xFF followed by
// 0xD0-0xD7 out of the coded data, so every such pair is a marker.
func intervalStarts(dst []int, scan []byte) []int {
	dst = append(dst, 0)
	for i := 0; ; {
		k := bytes.IndexByte(scan[i:], 0xFF)
		if k < 0 || i+k+1 >= len(scan) {
			return dst
		}
		i += k + 1
		if scan[i]&0xF8 == 0xD0 {
			if i++; i < len(scan) {
				dst = append(dst, i)
			}
		}
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
