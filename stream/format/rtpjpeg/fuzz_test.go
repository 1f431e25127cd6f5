package rtpjpeg

import (
	"encoding/binary"
	"testing"
)

// encodePackets builds FuzzDepacketizerStream input: per packet a
// timestamp step, the marker bit and the payload length.
func encodePackets(pkts [][]byte, markers []bool, steps []byte) []byte {
	var b []byte
	for i, p := range pkts {
		m := byte(0)
		if markers[i] {
			m = 1
		}
		b = append(b, steps[i], m)
		b = binary.BigEndian.AppendUint16(b, uint16(len(p)))
		b = append(b, p...)
	}
	return b
}

// FuzzDepacketizerStream pushes a sequence of RTP/JPEG payloads (records
// of [timestamp step][marker][length u16][payload]) through one
// Depacketizer with a small MaxFrame. Whatever arrives, every frame it
// returns parses as JPEG, its scan data never exceeds MaxFrame, and the
// statistics account for every frame returned.
func FuzzDepacketizerStream(f *testing.F) {
	seen := map[string]bool{}
	for _, c := range cases {
		if c.err != nil || seen[c.file] {
			continue
		}
		seen[c.file] = true
		pkts := frame(f, c.file, 1000)
		var payloads [][]byte
		var markers []bool
		var steps []byte
		for i, p := range pkts {
			payloads = append(payloads, p.Payload)
			markers = append(markers, p.Marker)
			steps = append(steps, 0)
			if i == 1 { // a duplicate fragment
				payloads, markers, steps = append(payloads, p.Payload), append(markers, false), append(steps, 0)
			}
		}
		f.Add(uint16(60000), encodePackets(payloads, markers, steps))
		f.Add(uint16(500), encodePackets(payloads, markers, steps)) // over the limit
		if len(payloads) > 2 {                                      // a lost fragment, then the next frame
			lost := append(append([][]byte{}, payloads[:1]...), payloads[2:]...)
			f.Add(uint16(60000), encodePackets(append(lost, payloads...), append(append(markers[:1:1], markers[2:]...), markers...),
				append(make([]byte, len(lost)), append([]byte{1}, make([]byte, len(payloads)-1)...)...)))
		}
	}
	f.Add(uint16(0), []byte{0, 1, 0, 8, 0, 0, 0, 0, 1, 255, 1, 1})
	f.Fuzz(func(t *testing.T, limit uint16, data []byte) {
		d := Depacketizer{MaxFrame: int(limit) + 1}
		ts := uint32(7)
		frames := uint64(0)
		for len(data) >= 4 {
			step, marker, n := data[0], data[1]&1 == 1, min(int(binary.BigEndian.Uint16(data[2:])), len(data)-4)
			payload := data[4 : 4+n]
			data = data[4+n:]
			ts += uint32(step)
			out, err := d.Push(ts, marker, payload)
			if out == nil {
				continue
			}
			if err != nil {
				t.Fatalf("a frame and an error: %v", err)
			}
			frames++
			var pic Picture
			if err := Parse(out, &pic); err != nil {
				t.Fatalf("returned frame is not a valid JPEG: %v", err)
			}
			if len(pic.Scan) > d.MaxFrame {
				t.Fatalf("frame with %d bytes of scan data, MaxFrame %d", len(pic.Scan), d.MaxFrame)
			}
			if len(out) > d.MaxFrame+2048 {
				t.Fatalf("frame of %d bytes, MaxFrame %d", len(out), d.MaxFrame)
			}
		}
		if st := d.Stats(); st.Frames != frames {
			t.Fatalf("stats %+v, %d frames returned", st, frames)
		}
	})
}
