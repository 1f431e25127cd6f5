package rtph264

import (
	"testing"
)

// FuzzDepacketizer feeds packets cut from the input: each is a flags byte
// (bit 0 the marker, bit 1 a new timestamp, bit 2 a skipped sequence
// number), a length byte and that many payload bytes. Whatever comes in,
// nothing panics, an access unit stays within MaxAU and holds no empty NAL
// unit.
func FuzzDepacketizer(f *testing.F) {
	for _, c := range cases {
		p := packetize(f, c.mtu, c.au)
		var in []byte
		for i := range p.Len() {
			flags := byte(0)
			if i == p.Len()-1 {
				flags = 1
			}
			if len(p.At(i)) < 256 {
				in = append(append(in, flags, byte(len(p.At(i)))), p.At(i)...)
			}
		}
		f.Add(in)
	}
	f.Add([]byte{1, 3, 0x78, 0, 5})                // a STAP-A that claims more than it has
	f.Add([]byte{0, 3, 0x7C, 0x85, 1, 1, 2, 0x7C}) // an FU-A start, then a truncated one
	f.Fuzz(func(t *testing.T, in []byte) {
		d := Depacketizer{MaxAU: 4096}
		var seq uint16
		var ts uint32
		for len(in) >= 2 {
			flags, n := in[0], int(in[1])
			in = in[2:]
			n = min(n, len(in))
			payload := in[:n]
			in = in[n:]
			if flags&2 != 0 {
				ts += 3600
			}
			if flags&4 != 0 {
				seq++
			}
			au, _ := d.Push(seq, ts, flags&1 != 0, payload)
			seq++
			size := 0
			for _, nalu := range au {
				if len(nalu) == 0 {
					t.Fatal("an empty NAL unit")
				}
				size += len(nalu)
			}
			if size > d.MaxAU {
				t.Fatalf("an access unit of %d bytes over MaxAU %d", size, d.MaxAU)
			}
		}
	})
}
