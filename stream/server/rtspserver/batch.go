package rtspserver

import (
	"github.com/pion/rtp"

	"flowcam/stream/format/rtpbuf"
	"flowcam/stream/format/rtsp"
)

const interleavedHeaderLen = 4

// packetBatch is one frame's RTP packets laid out back to back, each
// preceded by room for an interleaved-frame header. TCP then sends a whole
// frame with one write, and UDP hands all its packets to one sendmmsg.
type packetBatch struct {
	buf  []byte
	offs []int
	pkts [][]byte

	heads, bodies [][]byte // split: the headers in buf, the shared payloads
}

// build lays out a frame: h is its first packet's header; sequence numbers
// follow on and the marker goes on the last packet.
func (b *packetBatch) build(h rtp.Header, p *rtpbuf.Payloads) {
	b.buf, b.offs, b.pkts = b.buf[:0], b.offs[:0], b.pkts[:0]
	n := p.Len()
	for i := 0; i < n; i++ {
		h.Marker = i == n-1
		b.add(&h, p.At(i))
		h.SequenceNumber++
	}
}

// split lays out only a frame's RTP headers and pairs each with its
// payload, which stays where the broadcaster put it: UDP sends the two as
// separate iovecs, so a viewer costs no copy of the frame.
func (b *packetBatch) split(h rtp.Header, p *rtpbuf.Payloads) (heads, bodies [][]byte) {
	n := p.Len()
	size := h.MarshalSize()
	b.buf = append(b.buf[:0], make([]byte, n*size)...)
	b.heads, b.bodies = b.heads[:0], b.bodies[:0]
	for i := 0; i < n; i++ {
		h.Marker = i == n-1
		head := b.buf[i*size : (i+1)*size]
		h.MarshalTo(head)
		b.heads, b.bodies = append(b.heads, head), append(b.bodies, p.At(i))
		h.SequenceNumber++
	}
	return b.heads, b.bodies
}

func (b *packetBatch) add(h *rtp.Header, payload []byte) {
	start := len(b.buf) + interleavedHeaderLen
	n := h.MarshalSize()
	b.buf = append(b.buf, make([]byte, interleavedHeaderLen+n)...)
	h.MarshalTo(b.buf[start:])
	b.buf = append(b.buf, payload...)
	b.offs = append(b.offs, start)
}

// packets returns each RTP packet, without the interleaved room.
func (b *packetBatch) packets() [][]byte {
	b.pkts = b.pkts[:0]
	for i, off := range b.offs {
		end := len(b.buf)
		if i+1 < len(b.offs) {
			end = b.offs[i+1] - interleavedHeaderLen
		}
		b.pkts = append(b.pkts, b.buf[off:end])
	}
	return b.pkts
}

// interleaved fills in each packet's '$' header for channel ch and returns
// the whole frame as one contiguous write.
func (b *packetBatch) interleaved(ch uint8) []byte {
	pkts := b.packets()
	for i, off := range b.offs {
		rtsp.AppendInterleavedHeader(b.buf[off-interleavedHeaderLen:off-interleavedHeaderLen], ch, len(pkts[i]))
	}
	return b.buf
}
