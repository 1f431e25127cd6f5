package rtpjpeg

import (
	"bytes"
	"image"
	stdjpeg "image/jpeg"
	"testing"

	"flowcam/stream/format/rtpbuf"

	"github.com/bluenviron/gortsplib/v4/pkg/format"
	"github.com/bluenviron/gortsplib/v4/pkg/format/rtpmjpeg"
	"github.com/pion/rtp"
)

// frame packetizes a test file at a small MTU so frames span many packets.
func frame(t testing.TB, file string, ts uint32) []*rtp.Packet {
	t.Helper()
	var pic Picture
	if err := Parse(readFile(t, file), &pic); err != nil {
		t.Fatal(err)
	}
	pk, _ := NewPacketizer(300)
	var p rtpbuf.Payloads
	pk.Packetize(&p, &pic)
	return packets(&p, ts)
}

func push(d *Depacketizer, pkts ...*rtp.Packet) (frames int) {
	for _, p := range pkts {
		if out, _ := d.PushPacket(p); out != nil {
			frames++
		}
	}
	return frames
}

func TestDepacketizerLossAndDuplicates(t *testing.T) {
	a, b := frame(t, "420.jpg", 1000), frame(t, "420.jpg", 4600)
	if len(a) < 4 {
		t.Fatalf("need a multi-packet frame, got %d packets", len(a))
	}
	cases := []struct {
		name                          string
		pkts                          []*rtp.Packet
		frames                        int
		incomplete, duplicates, wrong uint64
	}{
		{name: "clean", pkts: cat(a, b), frames: 2},
		{name: "middle lost", pkts: cat(without(a, 2), b), frames: 1, incomplete: 1},
		{name: "first lost", pkts: cat(without(a, 0), b), frames: 1, incomplete: 1},
		{name: "marker lost", pkts: cat(without(a, len(a)-1), b), frames: 1, incomplete: 1},
		{name: "duplicated", pkts: cat(a[:3], a[1:2], a[3:], b), frames: 2, duplicates: 1},
		{name: "whole frame twice", pkts: cat(a, a, b), frames: 2, duplicates: uint64(len(a))},
		{name: "garbage between", pkts: cat(a, []*rtp.Packet{{Payload: []byte{1, 2}}}, b), frames: 2, wrong: 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var d Depacketizer
			got := push(&d, c.pkts...)
			s := d.Stats()
			if got != c.frames || s.Incomplete != c.incomplete || s.Duplicates != c.duplicates || s.Malformed != c.wrong {
				t.Fatalf("frames %d stats %+v, want frames %d incomplete %d duplicates %d malformed %d",
					got, s, c.frames, c.incomplete, c.duplicates, c.wrong)
			}
		})
	}
}

func cat(parts ...[]*rtp.Packet) (out []*rtp.Packet) {
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func without(p []*rtp.Packet, i int) []*rtp.Packet {
	return cat(p[:i], p[i+1:])
}

func TestDepacketizerTableForms(t *testing.T) {
	var pic Picture
	if err := Parse(readFile(t, "420.jpg"), &pic); err != nil {
		t.Fatal(err)
	}
	scan := pic.Scan
	hdr := []byte{0, 0, 0, 0, 1, 80, 160 / 8, 120 / 8}
	t.Run("Q below 128 uses RFC tables", func(t *testing.T) {
		var d Depacketizer
		out, err := d.Push(1, true, append(hdr, scan...))
		var got Picture
		if err != nil || Parse(out, &got) != nil || got.Quant != MakeTables(80) {
			t.Fatalf("err %v, tables match %v", err, got.Quant == MakeTables(80))
		}
	})
	t.Run("tables omitted after the first frame", func(t *testing.T) {
		var d Depacketizer
		first := append(append([]byte{0, 0, 0, 0, 1, 255, 20, 15, 0, 0, 0, 128}, pic.Quant[:]...), scan...)
		later := append([]byte{0, 0, 0, 0, 1, 255, 20, 15, 0, 0, 0, 0}, scan...)
		if out, err := d.Push(1, true, first); out == nil {
			t.Fatal(err)
		}
		out, err := d.Push(2, true, later)
		var got Picture
		if err != nil || Parse(out, &got) != nil || got.Quant != pic.Quant {
			t.Fatalf("cached tables not used: %v", err)
		}
	})
	t.Run("omitted tables never seen", func(t *testing.T) {
		var d Depacketizer
		if out, _ := d.Push(1, true, append([]byte{0, 0, 0, 0, 1, 200, 20, 15, 0, 0, 0, 0}, scan...)); out != nil {
			t.Fatal("frame returned without quantization tables")
		}
	})
}

// TestGortsplibDecodesOurPackets checks our payloads with an independent
// RFC 2435 implementation (which has no restart-marker types 64/65).
func TestGortsplibDecodesOurPackets(t *testing.T) {
	for _, file := range []string{"420.jpg", "422.jpg", "420-q10.jpg"} {
		t.Run(file, func(t *testing.T) {
			dec, err := (&format.MJPEG{}).CreateDecoder()
			if err != nil {
				t.Fatal(err)
			}
			var out []byte
			for _, p := range frame(t, file, 90000) {
				out, err = dec.Decode(p)
				if err != nil && err != rtpmjpeg.ErrMorePacketsNeeded {
					t.Fatal(err)
				}
			}
			if out == nil {
				t.Fatal("gortsplib returned no frame")
			}
			checkSamePicture(t, readFile(t, file), out)
		})
	}
}

func FuzzDepacketizer(f *testing.F) {
	for _, p := range frame(f, "422-restart.jpg", 1) {
		f.Add(p.Timestamp, p.Marker, p.Payload)
	}
	f.Add(uint32(0), true, []byte{0, 0, 0, 0, 65, 255, 1, 1, 0, 1, 0xff, 0xff, 0, 0, 0, 64})
	f.Fuzz(func(t *testing.T, ts uint32, marker bool, payload []byte) {
		var d Depacketizer
		d.MaxFrame = 1 << 16
		// Feed the input as two fragments of one frame and as a frame of its own.
		d.Push(ts, false, payload)
		out, _ := d.Push(ts, marker, payload)
		if out == nil {
			out, _ = d.Push(ts+1, true, payload)
		}
		if out != nil {
			var pic Picture
			if err := Parse(out, &pic); err != nil {
				t.Fatalf("rebuilt frame is not a valid JPEG: %v", err)
			}
		}
	})
}

func FuzzParse(f *testing.F) {
	for _, c := range cases {
		f.Add(readFile(f, c.file))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var pic Picture
		if Parse(data, &pic) != nil {
			return
		}
		pk, _ := NewPacketizer(MinMTU)
		var p rtpbuf.Payloads
		pk.Packetize(&p, &pic)
		checkLayout(t, &p, &pic, MinMTU)
		var d Depacketizer
		var out []byte
		for _, pkt := range packets(&p, 7) {
			out, _ = d.PushPacket(pkt)
		}
		var back Picture
		if err := Parse(out, &back); err != nil || !bytes.Equal(back.Scan, pic.Scan) {
			t.Fatalf("accepted picture did not survive the round trip: %v", err)
		}
	})
}

// jpeg720p encodes a busy 1280x720 picture with Go's encoder (standard
// tables), roughly the size of a camera frame.
func jpeg720p(t testing.TB) []byte {
	img := image.NewYCbCr(image.Rect(0, 0, 1280, 720), image.YCbCrSubsampleRatio420)
	for i := range img.Y {
		img.Y[i] = uint8(i*7 ^ i>>5)
	}
	for i := range img.Cb {
		img.Cb[i], img.Cr[i] = uint8(i>>3), uint8(i*3)
	}
	var buf bytes.Buffer
	if err := stdjpeg.Encode(&buf, img, &stdjpeg.Options{Quality: 80}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestPacketizeAllocatesNothing(t *testing.T) {
	for name, data := range map[string][]byte{"plain": jpeg720p(t), "restart intervals": readFile(t, "420-restart.jpg")} {
		pk, _ := NewPacketizer(DefaultMTU)
		var pic Picture
		var p rtpbuf.Payloads
		allocs := testing.AllocsPerRun(20, func() {
			if err := Parse(data, &pic); err != nil {
				t.Fatal(err)
			}
			pk.Packetize(&p, &pic)
		})
		if allocs != 0 {
			t.Errorf("%s: %v allocations per frame, want 0", name, allocs)
		}
	}
}

func BenchmarkPacketize720p(b *testing.B) {
	data := jpeg720p(b)
	pk, _ := NewPacketizer(DefaultMTU)
	var pic Picture
	var p rtpbuf.Payloads
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if err := Parse(data, &pic); err != nil {
			b.Fatal(err)
		}
		pk.Packetize(&p, &pic)
	}
	b.ReportMetric(float64(p.Len()), "packets/frame")
}

func BenchmarkDepacketize720p(b *testing.B) {
	data := jpeg720p(b)
	pk, _ := NewPacketizer(DefaultMTU)
	var pic Picture
	var p rtpbuf.Payloads
	if err := Parse(data, &pic); err != nil {
		b.Fatal(err)
	}
	pk.Packetize(&p, &pic)
	pkts := packets(&p, 0)
	var d Depacketizer
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for i := 0; b.Loop(); i++ {
		for _, pkt := range pkts {
			pkt.Timestamp = uint32(i)
			d.PushPacket(pkt)
		}
	}
}
