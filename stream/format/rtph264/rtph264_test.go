package rtph264

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"

	gortsplibh264 "github.com/bluenviron/gortsplib/v4/pkg/format/rtph264"
	"github.com/pion/rtp"

	"flowcam/internal/testutil/golden"
	"flowcam/stream/format/rtpbuf"
)

// nalu is a NAL unit of n bytes with header h and a counting body.
func nalu(h byte, n int) []byte {
	b := make([]byte, n)
	b[0] = h
	for i := 1; i < n; i++ {
		b[i] = byte(i)
	}
	return b
}

var (
	sps = []byte{0x67, 0x42, 0xC0, 0x1F, 0xDA, 0x01, 0x40, 0x16, 0xE8, 0x06, 0xD0, 0xA1, 0x35}
	pps = []byte{0x68, 0xCE, 0x06, 0xE2}
)

// cases feed both directions: Packetize must give the golden payloads,
// and the depacketizer (ours and gortsplib's) must give the access unit
// back from them.
var cases = []struct {
	name string
	mtu  int
	au   [][]byte
}{
	{"one small slice", 200, [][]byte{nalu(0x41, 40)}},
	{"parameter sets and a key frame in one STAP-A", 200, [][]byte{sps, pps, nalu(0x65, 60)}},
	{"a large key frame in FU-A after the parameter sets", 112, [][]byte{sps, pps, nalu(0x65, 300)}},
	{"units that do not fit together go alone", 112, [][]byte{nalu(0x06, 60), nalu(0x41, 60)}},
	{"a fragment that ends exactly at the MTU", 112, [][]byte{nalu(0x41, 1+98*2)}},
}

func packetize(t testing.TB, mtu int, au [][]byte) *rtpbuf.Payloads {
	t.Helper()
	pk, err := NewPacketizer(mtu)
	if err != nil {
		t.Fatal(err)
	}
	var p rtpbuf.Payloads
	if err := pk.Packetize(&p, au); err != nil {
		t.Fatal(err)
	}
	return &p
}

func TestPacketize(t *testing.T) {
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := packetize(t, c.mtu, c.au)
			var dump strings.Builder
			for i := range p.Len() {
				if len(p.At(i))+rtpHeaderLen > c.mtu {
					t.Errorf("payload %d of %d bytes exceeds the MTU %d", i, len(p.At(i)), c.mtu)
				}
				fmt.Fprintf(&dump, "%s\n", hex.EncodeToString(p.At(i)))
			}
			golden.File(t, "testdata/"+strings.ReplaceAll(c.name, " ", "_")+".golden", []byte(dump.String()))
		})
	}
}

// packets turns payloads into RTP packets from sequence number seq, the
// last with the marker bit.
func packets(p *rtpbuf.Payloads, seq uint16, ts uint32) []*rtp.Packet {
	var out []*rtp.Packet
	for i := range p.Len() {
		out = append(out, &rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 96, SequenceNumber: seq + uint16(i),
			Timestamp: ts, Marker: i == p.Len()-1}, Payload: p.At(i)})
	}
	return out
}

func TestDepacketize(t *testing.T) {
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			pkts := packets(packetize(t, c.mtu, c.au), 65530, 3000) // across the sequence wrap
			var d Depacketizer
			theirs := &gortsplibh264.Decoder{PacketizationMode: 1}
			if err := theirs.Init(); err != nil {
				t.Fatal(err)
			}
			var ours, gortsplib [][]byte
			for _, p := range pkts {
				au, err := d.PushPacket(p)
				if err != nil {
					t.Fatal(err)
				}
				if au != nil {
					ours = au
				}
				if au, err := theirs.Decode(p); err == nil {
					gortsplib = au
				}
			}
			if !equalAU(ours, c.au) {
				t.Errorf("our depacketizer gave %x, want %x", ours, c.au)
			}
			if !equalAU(gortsplib, c.au) {
				t.Errorf("gortsplib's decoder gave %x, want %x", gortsplib, c.au)
			}
		})
	}
}

func equalAU(a, b [][]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !bytes.Equal(a[i], b[i]) {
			return false
		}
	}
	return true
}

// TestDepacketizeLoss: an access unit with a lost packet is dropped
// whole and counted; the ones around it come through.
func TestDepacketizeLoss(t *testing.T) {
	big := [][]byte{sps, pps, nalu(0x65, 300)}
	small := [][]byte{nalu(0x41, 40)}
	for _, c := range []struct {
		name string
		drop int // index into the first unit's packets
	}{{"the STAP-A", 0}, {"a middle fragment", 2}, {"the last fragment, with the marker", 4}} {
		t.Run(c.name, func(t *testing.T) {
			before := packets(packetize(t, 112, small), 99, 0)
			first := packets(packetize(t, 112, big), 100, 3600)
			second := packets(packetize(t, 112, small), uint16(100+len(first)), 7200)
			var d Depacketizer
			var got [][][]byte
			for i, p := range append(append(before, first...), second...) {
				if i == c.drop+1 {
					continue
				}
				au, err := d.PushPacket(p)
				if err != nil {
					t.Fatal(err)
				}
				if au != nil {
					got = append(got, append([][]byte(nil), au...))
				}
			}
			if len(got) != 2 || !equalAU(got[0], small) || !equalAU(got[1], small) {
				t.Fatalf("got %d units %x, want the ones before and after", len(got), got)
			}
			if s := d.Stats(); s.Incomplete != 1 || s.AUs != 2 {
				t.Fatalf("stats %+v", s)
			}
		})
	}
}

// TestDepacketizeNoMarker: a sender that never sets the marker bit still
// has its units returned, each when the next one starts.
func TestDepacketizeNoMarker(t *testing.T) {
	var d Depacketizer
	var got int
	for i := range 5 {
		p := packets(packetize(t, 200, [][]byte{nalu(0x41, 40)}), uint16(i), uint32(i*3600))[0]
		p.Marker = false
		if au, _ := d.PushPacket(p); au != nil {
			got++
		}
	}
	if got != 4 {
		t.Fatalf("%d units returned, want 4 (the fifth waits for its end)", got)
	}
}

func TestFmtp(t *testing.T) {
	f := Fmtp(sps, pps)
	if f != "packetization-mode=1; profile-level-id=42C01F; sprop-parameter-sets=Z0LAH9oBQBboBtChNQ==,aM4G4g==" {
		t.Fatalf("fmtp %q", f)
	}
	s, p, err := ParseFmtp(f)
	if err != nil || !bytes.Equal(s, sps) || !bytes.Equal(p, pps) {
		t.Fatalf("ParseFmtp: %x %x %v", s, p, err)
	}
	if _, _, err := ParseFmtp("packetization-mode=2"); err == nil {
		t.Fatal("mode 2 accepted")
	}
	if _, _, err := ParseFmtp("sprop-parameter-sets=!!"); err == nil {
		t.Fatal("bad base64 accepted")
	}
}

func BenchmarkPacketize(b *testing.B) {
	au := [][]byte{sps, pps, nalu(0x65, 60000)} // a 720p key frame's size
	pk, _ := NewPacketizer(1400)
	var p rtpbuf.Payloads
	b.ReportAllocs()
	b.SetBytes(60000)
	for b.Loop() {
		if err := pk.Packetize(&p, au); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDepacketize(b *testing.B) {
	au := [][]byte{sps, pps, nalu(0x65, 60000)}
	pk, _ := NewPacketizer(1400)
	var p rtpbuf.Payloads
	pk.Packetize(&p, au)
	var d Depacketizer
	b.ReportAllocs()
	b.SetBytes(60000)
	seq := uint16(0)
	for i := 0; b.Loop(); i++ {
		for j := range p.Len() {
			if _, err := d.Push(seq, uint32(i), j == p.Len()-1, p.At(j)); err != nil {
				b.Fatal(err)
			}
			seq++
		}
	}
}

func TestPacketizeAllocatesNothing(t *testing.T) {
	au := [][]byte{sps, pps, nalu(0x65, 60000)}
	pk, _ := NewPacketizer(1400)
	var p rtpbuf.Payloads
	pk.Packetize(&p, au)
	if n := testing.AllocsPerRun(20, func() { pk.Packetize(&p, au) }); n != 0 {
		t.Fatalf("%v allocations per access unit", n)
	}
}
