// Package rtpbuf holds one frame's RTP payloads, whatever the codec: laid
// end to end in a single buffer, so that a frame is packetized once and
// shared read-only by every session, and a packetizer that has grown it to
// the largest frame allocates nothing more.
package rtpbuf

// Payloads is one frame's RTP payloads; the last one carries the marker bit.
type Payloads struct {
	buf  []byte
	ends []int
}

// Len is the number of packets.
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

// Start returns the buffer to append the next payload's bytes to, in the
// style of strconv.Append*; Finish stores what was appended.
func (p *Payloads) Start() []byte { return p.buf }

// Finish ends the payload built on Start's buffer.
func (p *Payloads) Finish(b []byte) {
	p.buf = b
	p.ends = append(p.ends, len(b))
}
