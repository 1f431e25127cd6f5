package rtpjpeg

import (
	"bytes"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"image"
	stdjpeg "image/jpeg"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"flowcam/stream/format/rtpbuf"

	"github.com/pion/rtp"
)

var update = flag.Bool("update", false, "rewrite golden files")

// cases feeds both directions: each valid picture is packetized, checked
// against the RFC 2435 layout and rebuilt; each invalid one must be refused
// with the right reason. Files in testdata are made by testdata/generate.sh.
var cases = []struct {
	name    string
	file    string
	mtu     int
	typ     uint8
	restart uint16
	err     error
	golden  bool
}{
	{name: "420", file: "420.jpg", mtu: DefaultMTU, typ: 1, golden: true},
	{name: "420 smallest mtu", file: "420.jpg", mtu: MinMTU, typ: 1},
	{name: "420 q10", file: "420-q10.jpg", mtu: 500, typ: 1},
	{name: "422", file: "422.jpg", mtu: 1000, typ: 0},
	{name: "420 restart", file: "420-restart.jpg", mtu: 600, typ: 65, restart: 10},
	{name: "422 restart", file: "422-restart.jpg", mtu: 400, typ: 64, restart: 3, golden: true},
	{name: "16-bit tables", file: "420-16bit.jpg", err: ErrPrecision},
	{name: "444", file: "444.jpg", err: ErrSampling},
	{name: "gray", file: "gray.jpg", err: ErrSampling},
	{name: "progressive", file: "progressive.jpg", err: ErrBaseline},
	{name: "optimized huffman", file: "optimized.jpg", err: ErrHuffman},
	{name: "too wide", file: "2048x16.jpg", err: ErrDimensions},
	{name: "not multiple of 8", file: "100x50.jpg", err: ErrDimensions},
}

func readFile(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// packets wraps payloads in RTP packets as a session would.
func packets(p *rtpbuf.Payloads, ts uint32) []*rtp.Packet {
	out := make([]*rtp.Packet, p.Len())
	for i := range out {
		out[i] = &rtp.Packet{
			Header: rtp.Header{Version: 2, PayloadType: PayloadType, SequenceNumber: uint16(100 + i),
				Timestamp: ts, SSRC: 0x1234, Marker: i == p.Len()-1},
			Payload: p.At(i),
		}
	}
	return out
}

func TestCases(t *testing.T) {
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			data := readFile(t, c.file)
			var pic Picture
			err := Parse(data, &pic)
			if c.err != nil {
				if !errors.Is(err, c.err) {
					t.Fatalf("Parse: err %v, want %v", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if pic.Type != c.typ || pic.Restart != c.restart || pic.Width != 160 || pic.Height != 120 {
				t.Fatalf("parsed type %d restart %d size %dx%d", pic.Type, pic.Restart, pic.Width, pic.Height)
			}
			pk, err := NewPacketizer(c.mtu)
			if err != nil {
				t.Fatal(err)
			}
			var p rtpbuf.Payloads
			pk.Packetize(&p, &pic)
			checkLayout(t, &p, &pic, c.mtu)
			rebuilt := depacketize(t, packets(&p, 9000))
			checkSamePicture(t, data, rebuilt)
			if c.golden {
				checkGolden(t, c.name, &p)
			}
		})
	}
}

// checkLayout verifies every RFC 2435 header field of every payload.
func checkLayout(t *testing.T, p *rtpbuf.Payloads, pic *Picture, mtu int) {
	t.Helper()
	off := 0
	for i := 0; i < p.Len(); i++ {
		b := p.At(i)
		if len(b)+rtpHeaderLen > mtu {
			t.Fatalf("packet %d is %d bytes with its RTP header, mtu %d", i, len(b)+rtpHeaderLen, mtu)
		}
		got := int(b[1])<<16 | int(b[2])<<8 | int(b[3])
		if b[0] != 0 || got != off || b[4] != pic.Type || b[5] != 255 ||
			int(b[6])*8 != pic.Width || int(b[7])*8 != pic.Height {
			t.Fatalf("packet %d main header % x, want offset %d", i, b[:8], off)
		}
		hdr := mainHeaderLen
		if pic.Type >= 64 {
			if r := int(b[8])<<8 | int(b[9]); r != int(pic.Restart) {
				t.Fatalf("packet %d restart header % x", i, b[8:12])
			}
			hdr += restartHeaderLen
		}
		if i == 0 {
			q := b[hdr:]
			if q[0] != 0 || q[1] != 0 || q[2] != 0 || q[3] != 128 || !bytes.Equal(q[4:132], pic.Quant[:]) {
				t.Fatalf("first packet quantization header % x", q[:4])
			}
			hdr += quantHeaderLen
		}
		if pic.Type >= 64 {
			checkAligned(t, i, uint16(b[10])<<8|uint16(b[11]), off, off+len(b)-hdr, restartIntervals(pic.Scan))
		}
		off += len(b) - hdr
	}
	if off != len(pic.Scan) {
		t.Fatalf("payloads carry %d scan bytes, picture has %d", off, len(pic.Scan))
	}
}

// restartIntervals finds each restart interval's [start, end) in a scan by
// walking it byte by byte.
func restartIntervals(scan []byte) [][2]int {
	var out [][2]int
	start := 0
	for i := 0; i+1 < len(scan); i++ {
		if scan[i] == 0xFF && scan[i+1] >= 0xD0 && scan[i+1] <= 0xD7 && i+2 < len(scan) {
			out = append(out, [2]int{start, i + 2})
			start = i + 2
		}
	}
	return append(out, [2]int{start, len(scan)})
}

// checkAligned holds a packet carrying scan[from:to] to RFC 2435's
// restart header rules: F when it starts an interval, L when it ends one,
// the count naming the (first) interval, and whole intervals only when
// both are set.
func checkAligned(t *testing.T, pkt int, rh uint16, from, to int, iv [][2]int) {
	t.Helper()
	f, l, n := rh&0x8000 != 0, rh&0x4000 != 0, int(rh&0x3FFF)
	if n >= len(iv) {
		t.Fatalf("packet %d: restart count %d, the frame has %d intervals", pkt, n, len(iv))
	}
	in := iv[n]
	switch {
	case f && l:
		last := n
		for last < len(iv) && iv[last][1] < to {
			last++
		}
		if from != in[0] || last == len(iv) || iv[last][1] != to {
			t.Fatalf("packet %d: F and L for interval %d, but it carries %d-%d, not whole intervals from %v", pkt, n, from, to, in)
		}
	case f:
		if from != in[0] || to >= in[1] {
			t.Fatalf("packet %d: F for interval %d %v, carries %d-%d", pkt, n, in, from, to)
		}
	case l:
		if from <= in[0] || to != in[1] {
			t.Fatalf("packet %d: L for interval %d %v, carries %d-%d", pkt, n, in, from, to)
		}
	default:
		if from <= in[0] || to >= in[1] {
			t.Fatalf("packet %d: middle of interval %d %v, carries %d-%d", pkt, n, in, from, to)
		}
	}
}

func depacketize(t *testing.T, pkts []*rtp.Packet) []byte {
	t.Helper()
	var d Depacketizer
	for i, pkt := range pkts {
		out, err := d.PushPacket(pkt)
		if err != nil {
			t.Fatalf("packet %d: %v", i, err)
		}
		if (out != nil) != pkt.Marker {
			t.Fatalf("packet %d: frame returned %v, marker %v", i, out != nil, pkt.Marker)
		}
		if out != nil {
			return bytes.Clone(out)
		}
	}
	t.Fatal("no frame completed")
	return nil
}

// checkSamePicture proves the rebuilt JPEG carries the same coded picture:
// same scan bytes, tables and size, and the same decoded pixels.
func checkSamePicture(t *testing.T, orig, rebuilt []byte) {
	t.Helper()
	var a, b Picture
	if err := Parse(orig, &a); err != nil {
		t.Fatal(err)
	}
	if err := Parse(rebuilt, &b); err != nil {
		t.Fatalf("rebuilt JPEG does not parse: %v", err)
	}
	if !bytes.Equal(a.Scan, b.Scan) || a.Quant != b.Quant || a.Type != b.Type ||
		a.Width != b.Width || a.Height != b.Height || a.Restart != b.Restart {
		t.Fatal("rebuilt picture differs from the original")
	}
	ia, err := stdjpeg.Decode(bytes.NewReader(orig))
	if err != nil {
		t.Fatal(err)
	}
	ib, err := stdjpeg.Decode(bytes.NewReader(rebuilt))
	if err != nil {
		t.Fatalf("rebuilt JPEG does not decode: %v", err)
	}
	ya, yb := ia.(*image.YCbCr), ib.(*image.YCbCr)
	if !bytes.Equal(ya.Y, yb.Y) || !bytes.Equal(ya.Cb, yb.Cb) || !bytes.Equal(ya.Cr, yb.Cr) {
		t.Fatal("rebuilt JPEG decodes to different pixels")
	}
}

func checkGolden(t *testing.T, name string, p *rtpbuf.Payloads) {
	t.Helper()
	var sb strings.Builder
	for i := 0; i < p.Len(); i++ {
		fmt.Fprintf(&sb, "%s\n", hex.EncodeToString(p.At(i)))
	}
	path := filepath.Join("testdata", strings.ReplaceAll(name, " ", "-")+".golden")
	if *update {
		if err := os.WriteFile(path, []byte(sb.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if sb.String() != string(want) {
		t.Fatalf("payloads differ from %s", path)
	}
}

func TestStandardTablesMatchEncoders(t *testing.T) {
	// libjpeg's quality scaling is RFC 2435's: q80 and q10 files carry
	// exactly MakeTables' output.
	for file, q := range map[string]int{"420.jpg": 80, "420-q10.jpg": 10} {
		var pic Picture
		if err := Parse(readFile(t, file), &pic); err != nil {
			t.Fatal(err)
		}
		if pic.Quant != MakeTables(q) {
			t.Errorf("%s: tables differ from MakeTables(%d)", file, q)
		}
	}
	// Go's encoder uses the Annex K Huffman tables too: Parse accepts it.
	var buf bytes.Buffer
	img := image.NewYCbCr(image.Rect(0, 0, 64, 48), image.YCbCrSubsampleRatio420)
	if err := stdjpeg.Encode(&buf, img, nil); err != nil {
		t.Fatal(err)
	}
	var pic Picture
	if err := Parse(buf.Bytes(), &pic); err != nil {
		t.Fatalf("Go-encoded JPEG refused: %v", err)
	}
}

// stripDHT removes the Huffman tables, as UVC cameras do.
func stripDHT(t *testing.T, data []byte) []byte {
	t.Helper()
	out := append([]byte(nil), data[:2]...)
	pos := 2
	for {
		marker, _, next, err := nextSegment(data, pos)
		if err != nil {
			t.Fatal(err)
		}
		if marker != mDHT {
			out = append(out, data[pos:next]...)
		}
		pos = next
		if marker == mSOS {
			return append(out, data[pos:]...)
		}
	}
}

func TestCameraFrameWithoutHuffmanTables(t *testing.T) {
	orig := readFile(t, "422.jpg")
	data := stripDHT(t, orig)
	if len(data) >= len(orig) {
		t.Fatal("no DHT removed")
	}
	var pic Picture
	if err := Parse(data, &pic); err != nil {
		t.Fatal(err)
	}
	pk, _ := NewPacketizer(DefaultMTU)
	var p rtpbuf.Payloads
	pk.Packetize(&p, &pic)
	checkSamePicture(t, orig, depacketize(t, packets(&p, 1)))
}

func TestParseRejectsDamage(t *testing.T) {
	good := readFile(t, "420.jpg")
	var pic Picture
	for name, data := range map[string][]byte{
		"empty":        nil,
		"no SOI":       good[2:],
		"truncated":    good[:len(good)/2],
		"header only":  good[:200],
		"bad length":   append(append([]byte{}, good[:4]...), 0xFF, 0xFF),
		"marker noise": append([]byte{0xFF, 0xD8, 0xFF, 0xD0}, good[2:]...),
	} {
		if err := Parse(data, &pic); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: err %v, want ErrMalformed", name, err)
		}
	}
	if err := Parse(append(bytes.Clone(good), 0, 0, 0), &pic); err != nil {
		t.Errorf("trailing bytes after EOI: %v", err)
	}
}

func TestNewPacketizerLimits(t *testing.T) {
	for _, mtu := range []int{0, MinMTU - 1, MaxMTU + 1} {
		if _, err := NewPacketizer(mtu); err == nil {
			t.Errorf("mtu %d accepted", mtu)
		}
	}
}
