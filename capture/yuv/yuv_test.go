package yuv

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"image"
	stdjpeg "image/jpeg"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"flowcam/capture"
	"flowcam/capture/jpeg"
	"flowcam/capture/pattern"
)

// converter is the common signature of the four conversions.
type converter func(dst *image.YCbCr, src []byte, stride, w, h int) error

// sentinel fills destination planes before a conversion, so any byte the
// converter writes outside the w x h picture shows up.
const sentinel = 0x55

// hexRows decodes rows of hex bytes ("00 01 | EE"; spaces and the "|"
// marking where row padding starts are ignored) into one buffer.
func hexRows(t testing.TB, rows []string) []byte {
	t.Helper()
	var out []byte
	for _, r := range rows {
		b, err := hex.DecodeString(strings.NewReplacer(" ", "", "|", "").Replace(r))
		if err != nil {
			t.Fatalf("bad hex row %q: %v", r, err)
		}
		out = append(out, b...)
	}
	return out
}

func fill(img *image.YCbCr, v byte) {
	for _, p := range [][]byte{img.Y, img.Cb, img.Cr} {
		for i := range p {
			p[i] = v
		}
	}
}

// newDst allocates a padded destination the way the pipeline does, filled
// with the sentinel.
func newDst(w, h int, ratio image.YCbCrSubsampleRatio) *image.YCbCr {
	img := capture.NewYCbCr(capture.Size{Width: w, Height: h}, ratio)
	fill(img, sentinel)
	return img
}

// chromaRows is the number of chroma rows of an h-row picture.
func chromaRows(ratio image.YCbCrSubsampleRatio, h int) int {
	if ratio == image.YCbCrSubsampleRatio420 {
		return (h + 1) / 2
	}
	return h
}

// checkPlanes compares the w x h picture in got with want (tight planes:
// rows of w and w/2 bytes) and checks every other byte of got still holds
// the sentinel.
func checkPlanes(t *testing.T, got *image.YCbCr, w, h int, wantY, wantCb, wantCr []byte) {
	t.Helper()
	ch := chromaRows(got.SubsampleRatio, h)
	for _, p := range []struct {
		name          string
		plane, want   []byte
		stride, pw, n int
	}{
		{"Y", got.Y, wantY, got.YStride, w, h},
		{"Cb", got.Cb, wantCb, got.CStride, w / 2, ch},
		{"Cr", got.Cr, wantCr, got.CStride, w / 2, ch},
	} {
		if len(p.want) != p.pw*p.n {
			t.Fatalf("%s: test wants %d bytes, picture has %d", p.name, len(p.want), p.pw*p.n)
		}
		bad := 0
		for i, v := range p.plane {
			row, col := i/p.stride, i%p.stride
			want := byte(sentinel)
			if row < p.n && col < p.pw {
				want = p.want[row*p.pw+col]
			}
			if v != want {
				if bad++; bad <= 5 {
					t.Errorf("%s[row %d, col %d] = %#02x, want %#02x", p.name, row, col, v, want)
				}
			}
		}
		if bad > 5 {
			t.Errorf("%s: %d bytes wrong in all", p.name, bad)
		}
	}
}

// golden cases are written out by hand: Y = 0x20*row + col,
// Cb = 0x80 + 0x10*chroma row + chroma col, Cr = 0xC0 + the same. Row
// padding is 0xEE and must not reach the output. 8-pixel rows go through
// the pair loops only; 18-pixel rows through a 16-pixel block and a tail.
var goldens = []struct {
	name           string
	conv           converter
	ratio          image.YCbCrSubsampleRatio
	w, h, stride   int
	src, y, cb, cr []string
}{
	{
		name: "YUYV 8x4", conv: YUYVToI422, ratio: image.YCbCrSubsampleRatio422, w: 8, h: 4, stride: 20,
		src: []string{
			"00 80 01 C0 02 81 03 C1 04 82 05 C2 06 83 07 C3 | EE EE EE EE",
			"20 90 21 D0 22 91 23 D1 24 92 25 D2 26 93 27 D3 | EE EE EE EE",
			"40 A0 41 E0 42 A1 43 E1 44 A2 45 E2 46 A3 47 E3 | EE EE EE EE",
			"60 B0 61 F0 62 B1 63 F1 64 B2 65 F2 66 B3 67 F3 | EE EE EE EE",
		},
		y: []string{
			"00 01 02 03 04 05 06 07",
			"20 21 22 23 24 25 26 27",
			"40 41 42 43 44 45 46 47",
			"60 61 62 63 64 65 66 67",
		},
		cb: []string{
			"80 81 82 83",
			"90 91 92 93",
			"A0 A1 A2 A3",
			"B0 B1 B2 B3",
		},
		cr: []string{
			"C0 C1 C2 C3",
			"D0 D1 D2 D3",
			"E0 E1 E2 E3",
			"F0 F1 F2 F3",
		},
	},
	{
		name: "YUYV 18x2", conv: YUYVToI422, ratio: image.YCbCrSubsampleRatio422, w: 18, h: 2, stride: 40,
		src: []string{
			"00 80 01 C0 02 81 03 C1 04 82 05 C2 06 83 07 C3 08 84 09 C4 0A 85 0B C5 0C 86 0D C6 0E 87 0F C7 10 88 11 C8 | EE EE EE EE",
			"20 90 21 D0 22 91 23 D1 24 92 25 D2 26 93 27 D3 28 94 29 D4 2A 95 2B D5 2C 96 2D D6 2E 97 2F D7 30 98 31 D8 | EE EE EE EE",
		},
		y: []string{
			"00 01 02 03 04 05 06 07 08 09 0A 0B 0C 0D 0E 0F 10 11",
			"20 21 22 23 24 25 26 27 28 29 2A 2B 2C 2D 2E 2F 30 31",
		},
		cb: []string{
			"80 81 82 83 84 85 86 87 88",
			"90 91 92 93 94 95 96 97 98",
		},
		cr: []string{
			"C0 C1 C2 C3 C4 C5 C6 C7 C8",
			"D0 D1 D2 D3 D4 D5 D6 D7 D8",
		},
	},
	{
		name: "UYVY 8x4", conv: UYVYToI422, ratio: image.YCbCrSubsampleRatio422, w: 8, h: 4, stride: 20,
		src: []string{
			"80 00 C0 01 81 02 C1 03 82 04 C2 05 83 06 C3 07 | EE EE EE EE",
			"90 20 D0 21 91 22 D1 23 92 24 D2 25 93 26 D3 27 | EE EE EE EE",
			"A0 40 E0 41 A1 42 E1 43 A2 44 E2 45 A3 46 E3 47 | EE EE EE EE",
			"B0 60 F0 61 B1 62 F1 63 B2 64 F2 65 B3 66 F3 67 | EE EE EE EE",
		},
		y: []string{
			"00 01 02 03 04 05 06 07",
			"20 21 22 23 24 25 26 27",
			"40 41 42 43 44 45 46 47",
			"60 61 62 63 64 65 66 67",
		},
		cb: []string{
			"80 81 82 83",
			"90 91 92 93",
			"A0 A1 A2 A3",
			"B0 B1 B2 B3",
		},
		cr: []string{
			"C0 C1 C2 C3",
			"D0 D1 D2 D3",
			"E0 E1 E2 E3",
			"F0 F1 F2 F3",
		},
	},
	{
		name: "UYVY 18x2", conv: UYVYToI422, ratio: image.YCbCrSubsampleRatio422, w: 18, h: 2, stride: 40,
		src: []string{
			"80 00 C0 01 81 02 C1 03 82 04 C2 05 83 06 C3 07 84 08 C4 09 85 0A C5 0B 86 0C C6 0D 87 0E C7 0F 88 10 C8 11 | EE EE EE EE",
			"90 20 D0 21 91 22 D1 23 92 24 D2 25 93 26 D3 27 94 28 D4 29 95 2A D5 2B 96 2C D6 2D 97 2E D7 2F 98 30 D8 31 | EE EE EE EE",
		},
		y: []string{
			"00 01 02 03 04 05 06 07 08 09 0A 0B 0C 0D 0E 0F 10 11",
			"20 21 22 23 24 25 26 27 28 29 2A 2B 2C 2D 2E 2F 30 31",
		},
		cb: []string{
			"80 81 82 83 84 85 86 87 88",
			"90 91 92 93 94 95 96 97 98",
		},
		cr: []string{
			"C0 C1 C2 C3 C4 C5 C6 C7 C8",
			"D0 D1 D2 D3 D4 D5 D6 D7 D8",
		},
	},
	{
		name: "NV12 8x4", conv: NV12ToI420, ratio: image.YCbCrSubsampleRatio420, w: 8, h: 4, stride: 12,
		src: []string{
			"00 01 02 03 04 05 06 07 | EE EE EE EE",
			"20 21 22 23 24 25 26 27 | EE EE EE EE",
			"40 41 42 43 44 45 46 47 | EE EE EE EE",
			"60 61 62 63 64 65 66 67 | EE EE EE EE",
			"80 C0 81 C1 82 C2 83 C3 | EE EE EE EE",
			"90 D0 91 D1 92 D2 93 D3 | EE EE EE EE",
		},
		y: []string{
			"00 01 02 03 04 05 06 07",
			"20 21 22 23 24 25 26 27",
			"40 41 42 43 44 45 46 47",
			"60 61 62 63 64 65 66 67",
		},
		cb: []string{
			"80 81 82 83",
			"90 91 92 93",
		},
		cr: []string{
			"C0 C1 C2 C3",
			"D0 D1 D2 D3",
		},
	},
	{
		name: "NV12 18x4", conv: NV12ToI420, ratio: image.YCbCrSubsampleRatio420, w: 18, h: 4, stride: 24,
		src: []string{
			"00 01 02 03 04 05 06 07 08 09 0A 0B 0C 0D 0E 0F 10 11 | EE EE EE EE EE EE",
			"20 21 22 23 24 25 26 27 28 29 2A 2B 2C 2D 2E 2F 30 31 | EE EE EE EE EE EE",
			"40 41 42 43 44 45 46 47 48 49 4A 4B 4C 4D 4E 4F 50 51 | EE EE EE EE EE EE",
			"60 61 62 63 64 65 66 67 68 69 6A 6B 6C 6D 6E 6F 70 71 | EE EE EE EE EE EE",
			"80 C0 81 C1 82 C2 83 C3 84 C4 85 C5 86 C6 87 C7 88 C8 | EE EE EE EE EE EE",
			"90 D0 91 D1 92 D2 93 D3 94 D4 95 D5 96 D6 97 D7 98 D8 | EE EE EE EE EE EE",
		},
		y: []string{
			"00 01 02 03 04 05 06 07 08 09 0A 0B 0C 0D 0E 0F 10 11",
			"20 21 22 23 24 25 26 27 28 29 2A 2B 2C 2D 2E 2F 30 31",
			"40 41 42 43 44 45 46 47 48 49 4A 4B 4C 4D 4E 4F 50 51",
			"60 61 62 63 64 65 66 67 68 69 6A 6B 6C 6D 6E 6F 70 71",
		},
		cb: []string{
			"80 81 82 83 84 85 86 87 88",
			"90 91 92 93 94 95 96 97 98",
		},
		cr: []string{
			"C0 C1 C2 C3 C4 C5 C6 C7 C8",
			"D0 D1 D2 D3 D4 D5 D6 D7 D8",
		},
	},
	{
		name: "YU12 8x4", conv: YU12ToI420, ratio: image.YCbCrSubsampleRatio420, w: 8, h: 4, stride: 10,
		src: []string{
			"00 01 02 03 04 05 06 07 | EE EE",
			"20 21 22 23 24 25 26 27 | EE EE",
			"40 41 42 43 44 45 46 47 | EE EE",
			"60 61 62 63 64 65 66 67 | EE EE",
			"80 81 82 83 | EE",
			"90 91 92 93 | EE",
			"C0 C1 C2 C3 | EE",
			"D0 D1 D2 D3 | EE",
		},
		y: []string{
			"00 01 02 03 04 05 06 07",
			"20 21 22 23 24 25 26 27",
			"40 41 42 43 44 45 46 47",
			"60 61 62 63 64 65 66 67",
		},
		cb: []string{
			"80 81 82 83",
			"90 91 92 93",
		},
		cr: []string{
			"C0 C1 C2 C3",
			"D0 D1 D2 D3",
		},
	},
	{
		name: "YU12 18x4", conv: YU12ToI420, ratio: image.YCbCrSubsampleRatio420, w: 18, h: 4, stride: 22,
		src: []string{
			"00 01 02 03 04 05 06 07 08 09 0A 0B 0C 0D 0E 0F 10 11 | EE EE EE EE",
			"20 21 22 23 24 25 26 27 28 29 2A 2B 2C 2D 2E 2F 30 31 | EE EE EE EE",
			"40 41 42 43 44 45 46 47 48 49 4A 4B 4C 4D 4E 4F 50 51 | EE EE EE EE",
			"60 61 62 63 64 65 66 67 68 69 6A 6B 6C 6D 6E 6F 70 71 | EE EE EE EE",
			"80 81 82 83 84 85 86 87 88 | EE EE",
			"90 91 92 93 94 95 96 97 98 | EE EE",
			"C0 C1 C2 C3 C4 C5 C6 C7 C8 | EE EE",
			"D0 D1 D2 D3 D4 D5 D6 D7 D8 | EE EE",
		},
		y: []string{
			"00 01 02 03 04 05 06 07 08 09 0A 0B 0C 0D 0E 0F 10 11",
			"20 21 22 23 24 25 26 27 28 29 2A 2B 2C 2D 2E 2F 30 31",
			"40 41 42 43 44 45 46 47 48 49 4A 4B 4C 4D 4E 4F 50 51",
			"60 61 62 63 64 65 66 67 68 69 6A 6B 6C 6D 6E 6F 70 71",
		},
		cb: []string{
			"80 81 82 83 84 85 86 87 88",
			"90 91 92 93 94 95 96 97 98",
		},
		cr: []string{
			"C0 C1 C2 C3 C4 C5 C6 C7 C8",
			"D0 D1 D2 D3 D4 D5 D6 D7 D8",
		},
	},
}

func TestGolden(t *testing.T) {
	for _, c := range goldens {
		for _, size := range []struct {
			name string
			w, h int
		}{{"exact", c.w, c.h}, {"larger dst", 40, 24}} {
			t.Run(c.name+"/"+size.name, func(t *testing.T) {
				src := hexRows(t, c.src)
				dst := newDst(size.w, size.h, c.ratio)
				if err := c.conv(dst, src, c.stride, c.w, c.h); err != nil {
					t.Fatal(err)
				}
				checkPlanes(t, dst, c.w, c.h, hexRows(t, c.y), hexRows(t, c.cb), hexRows(t, c.cr))
			})
		}
	}
}

// TestGoldenSourceSizes pins the V4L2 buffer layout the goldens assume:
// a packed frame is stride*h bytes, NV12 stride*h*3/2, YU12
// stride*h + 2*(stride/2)*(h/2).
func TestGoldenSourceSizes(t *testing.T) {
	for _, c := range goldens {
		want := c.stride * c.h
		switch c.name[:4] {
		case "NV12":
			want += c.stride * c.h / 2
		case "YU12":
			want += 2 * (c.stride / 2) * (c.h / 2)
		}
		if got := len(hexRows(t, c.src)); got != want {
			t.Errorf("%s: source is %d bytes, want %d", c.name, got, want)
		}
		// One byte short must be refused.
		src := hexRows(t, c.src)
		if err := c.conv(newDst(c.w, c.h, c.ratio), src[:len(src)-1], c.stride, c.w, c.h); !errors.Is(err, ErrShortSource) {
			t.Errorf("%s one byte short: err %v, want ErrShortSource", c.name, err)
		}
	}
}

// randomPicture returns a tightly described w x h picture of the given
// ratio with pseudo-random planes, so any misplaced byte is caught.
func randomPicture(w, h int, ratio image.YCbCrSubsampleRatio, seed uint64) *image.YCbCr {
	img := capture.NewYCbCr(capture.Size{Width: w, Height: h}, ratio)
	r := rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))
	for _, p := range [][]byte{img.Y, img.Cb, img.Cr} {
		for i := range p {
			p[i] = byte(r.Uint32())
		}
	}
	return img
}

// The reference packers build camera buffers the obvious way, one sample at
// a time, with 0xEE in every padding byte.

func padded(n int) []byte { return bytes.Repeat([]byte{0xEE}, n) }

func packYUYV(img *image.YCbCr, w, h, stride int, uyvy bool) []byte {
	out := padded(stride * h)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x += 2 {
			o := y*stride + 2*x
			y0, y1 := img.Y[y*img.YStride+x], img.Y[y*img.YStride+x+1]
			cb, cr := img.Cb[y*img.CStride+x/2], img.Cr[y*img.CStride+x/2]
			if uyvy {
				out[o], out[o+1], out[o+2], out[o+3] = cb, y0, cr, y1
			} else {
				out[o], out[o+1], out[o+2], out[o+3] = y0, cb, y1, cr
			}
		}
	}
	return out
}

func packNV12(img *image.YCbCr, w, h, stride int) []byte {
	out := padded(stride * h * 3 / 2)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			out[y*stride+x] = img.Y[y*img.YStride+x]
		}
	}
	for y := 0; y < h/2; y++ {
		for x := 0; x < w/2; x++ {
			out[stride*h+y*stride+2*x] = img.Cb[y*img.CStride+x]
			out[stride*h+y*stride+2*x+1] = img.Cr[y*img.CStride+x]
		}
	}
	return out
}

func packYU12(img *image.YCbCr, w, h, stride int) []byte {
	cs := stride / 2
	out := padded(stride*h + 2*cs*(h/2))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			out[y*stride+x] = img.Y[y*img.YStride+x]
		}
	}
	cb, cr := stride*h, stride*h+cs*(h/2)
	for y := 0; y < h/2; y++ {
		for x := 0; x < w/2; x++ {
			out[cb+y*cs+x] = img.Cb[y*img.CStride+x]
			out[cr+y*cs+x] = img.Cr[y*img.CStride+x]
		}
	}
	return out
}

// tight returns the w x h picture's planes without row padding.
func tight(img *image.YCbCr, w, h int) (y, cb, cr []byte) {
	ch := chromaRows(img.SubsampleRatio, h)
	for r := 0; r < h; r++ {
		y = append(y, img.Y[r*img.YStride:][:w]...)
	}
	for r := 0; r < ch; r++ {
		cb = append(cb, img.Cb[r*img.CStride:][:w/2]...)
		cr = append(cr, img.Cr[r*img.CStride:][:w/2]...)
	}
	return y, cb, cr
}

func TestRoundTrip(t *testing.T) {
	type format struct {
		name  string
		conv  converter
		ratio image.YCbCrSubsampleRatio
		pack  func(img *image.YCbCr, w, h, stride int) []byte
		row   int // packed bytes per pixel row
	}
	formats := []format{
		{"YUYV", YUYVToI422, image.YCbCrSubsampleRatio422,
			func(img *image.YCbCr, w, h, s int) []byte { return packYUYV(img, w, h, s, false) }, 2},
		{"UYVY", UYVYToI422, image.YCbCrSubsampleRatio422,
			func(img *image.YCbCr, w, h, s int) []byte { return packYUYV(img, w, h, s, true) }, 2},
		{"NV12", NV12ToI420, image.YCbCrSubsampleRatio420, packNV12, 1},
		{"YU12", YU12ToI420, image.YCbCrSubsampleRatio420, packYU12, 1},
	}
	sizes := []struct {
		w, h, pad int
	}{
		{1280, 720, 0},  // the target mode, tight rows
		{1280, 720, 64}, // with bytesperline padding
		{1294, 10, 6},   // rows that end in a tail
		{2, 2, 0},       // the smallest picture
	}
	for _, f := range formats {
		for _, s := range sizes {
			t.Run(fmt.Sprintf("%s/%dx%d+%d", f.name, s.w, s.h, s.pad), func(t *testing.T) {
				stride := f.row*s.w + s.pad
				want := randomPicture(s.w, s.h, f.ratio, uint64(s.w*s.h+s.pad))
				src := f.pack(want, s.w, s.h, stride)
				got := newDst(s.w, s.h, f.ratio)
				if err := f.conv(got, src, stride, s.w, s.h); err != nil {
					t.Fatal(err)
				}
				wy, wcb, wcr := tight(want, s.w, s.h)
				checkPlanes(t, got, s.w, s.h, wy, wcb, wcr)
			})
		}
	}
}

// TestOddHeight422 checks 4:2:2 formats take an odd number of rows.
func TestOddHeight422(t *testing.T) {
	want := randomPicture(48, 7, image.YCbCrSubsampleRatio422, 7)
	got := newDst(48, 7, image.YCbCrSubsampleRatio422)
	if err := YUYVToI422(got, packYUYV(want, 48, 7, 96, false), 96, 48, 7); err != nil {
		t.Fatal(err)
	}
	wy, wcb, wcr := tight(want, 48, 7)
	checkPlanes(t, got, 48, 7, wy, wcb, wcr)
}

func TestErrors(t *testing.T) {
	const w, h = 16, 8
	d422 := newDst(w, h, image.YCbCrSubsampleRatio422)
	d420 := newDst(w, h, image.YCbCrSubsampleRatio420)
	truncated := func(ratio image.YCbCrSubsampleRatio) *image.YCbCr {
		img := newDst(w, h, ratio)
		img.Cr = img.Cr[:img.CStride*(chromaRows(ratio, h)-1)+w/2-1]
		return img
	}
	sub := func(ratio image.YCbCrSubsampleRatio) *image.YCbCr {
		return newDst(w, h, ratio).SubImage(image.Rect(0, 0, w-2, h)).(*image.YCbCr)
	}
	big := make([]byte, 4*w*h)
	cases := []struct {
		name         string
		conv         converter
		dst          *image.YCbCr
		src          []byte
		stride, w, h int
		want         error
	}{
		{"YUYV short src", YUYVToI422, d422, big[:2*w*h-1], 2 * w, w, h, ErrShortSource},
		{"YUYV short src, padded stride", YUYVToI422, d422, big[:2*w*h+7], 2*w + 1, w, h, ErrShortSource},
		{"YUYV empty src", YUYVToI422, d422, nil, 2 * w, w, h, ErrShortSource},
		{"YUYV odd width", YUYVToI422, d422, big, 2 * w, w - 1, h, ErrSize},
		{"YUYV zero width", YUYVToI422, d422, big, 2 * w, 0, h, ErrSize},
		{"YUYV negative height", YUYVToI422, d422, big, 2 * w, w, -2, ErrSize},
		{"YUYV stride < row", YUYVToI422, d422, big, 2*w - 2, w, h, ErrStride},
		{"YUYV stride = w", YUYVToI422, d422, big, w, w, h, ErrStride},
		{"YUYV negative stride", YUYVToI422, d422, big, -2 * w, w, h, ErrStride},
		{"YUYV stride overflows", YUYVToI422, d422, big, math.MaxInt, w, h, ErrShortSource},
		{"YUYV row size overflows", YUYVToI422, d422, big, math.MaxInt, math.MaxInt - 1, h, ErrStride},
		{"YUYV huge width", YUYVToI422, d422, big, math.MaxInt - 1, math.MaxInt / 2 &^ 1, h, ErrShortSource},
		{"YUYV height overflows", YUYVToI422, d422, big, 2 * w, w, math.MaxInt, ErrShortSource},
		{"YUYV dst nil", YUYVToI422, nil, big, 2 * w, w, h, ErrDestination},
		{"YUYV dst 4:2:0", YUYVToI422, d420, big, 2 * w, w, h, ErrDestination},
		{"YUYV dst too narrow", YUYVToI422, d422, big, 2 * (w + 2), w + 2, h, ErrDestination},
		{"YUYV dst too short", YUYVToI422, d422, big[:2*w*(h+1)], 2 * w, w, h + 1, ErrDestination},
		{"YUYV dst bounds smaller", YUYVToI422, sub(image.YCbCrSubsampleRatio422), big, 2 * w, w, h, ErrDestination},
		{"YUYV dst plane truncated", YUYVToI422, truncated(image.YCbCrSubsampleRatio422), big, 2 * w, w, h, ErrDestination},
		{"UYVY short src", UYVYToI422, d422, big[:2*w*h-1], 2 * w, w, h, ErrShortSource},
		{"UYVY odd width", UYVYToI422, d422, big, 2 * w, 3, h, ErrSize},
		{"UYVY stride < row", UYVYToI422, d422, big, 2*w - 1, w, h, ErrStride},
		{"UYVY dst 4:4:4", UYVYToI422, image.NewYCbCr(image.Rect(0, 0, w, h), image.YCbCrSubsampleRatio444), big, 2 * w, w, h, ErrDestination},
		{"NV12 short src", NV12ToI420, d420, big[:w*h*3/2-1], w, w, h, ErrShortSource},
		{"NV12 no chroma plane", NV12ToI420, d420, big[:w*h], w, w, h, ErrShortSource},
		{"NV12 odd width", NV12ToI420, d420, big, w, w - 1, h, ErrSize},
		{"NV12 odd height", NV12ToI420, d420, big, w, w, h - 1, ErrSize},
		{"NV12 stride < row", NV12ToI420, d420, big, w - 2, w, h, ErrStride},
		{"NV12 stride overflows", NV12ToI420, d420, big, math.MaxInt, w, h, ErrShortSource},
		{"NV12 dst 4:2:2", NV12ToI420, d422, big, w, w, h, ErrDestination},
		{"NV12 dst too small", NV12ToI420, d420, big, w + 16, w + 16, h, ErrDestination},
		{"NV12 dst plane truncated", NV12ToI420, truncated(image.YCbCrSubsampleRatio420), big, w, w, h, ErrDestination},
		{"YU12 short src", YU12ToI420, d420, big[:w*h*3/2-1], w, w, h, ErrShortSource},
		{"YU12 short Cr plane, odd stride", YU12ToI420, d420, big[:(w+1)*h+w*h/2-1], w + 1, w, h, ErrShortSource},
		{"YU12 odd width", YU12ToI420, d420, big, w, 5, h, ErrSize},
		{"YU12 odd height", YU12ToI420, d420, big, w, w, 3, ErrSize},
		{"YU12 stride < row", YU12ToI420, d420, big, w - 1, w, h, ErrStride},
		{"YU12 dst nil", YU12ToI420, nil, big, w, w, h, ErrDestination},
		{"YU12 dst too small", YU12ToI420, d420, big, w, w, h + 2, ErrDestination},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.conv(c.dst, c.src, c.stride, c.w, c.h)
			if !errors.Is(err, c.want) {
				t.Fatalf("err %v, want %v", err, c.want)
			}
		})
	}
	// The exact-fit inputs next to those cases are accepted.
	for _, ok := range []struct {
		name         string
		conv         converter
		dst          *image.YCbCr
		src          []byte
		stride, w, h int
	}{
		{"YUYV exact", YUYVToI422, d422, big[:2*w*h], 2 * w, w, h},
		{"YUYV smaller picture", YUYVToI422, d422, big, 2 * w, w - 2, h - 1},
		{"NV12 exact", NV12ToI420, d420, big[:w*h*3/2], w, w, h},
		{"YU12 exact, odd stride", YU12ToI420, d420, big[:(w+1)*h+w*h/2], w + 1, w, h},
	} {
		if err := ok.conv(ok.dst, ok.src, ok.stride, ok.w, ok.h); err != nil {
			t.Errorf("%s: %v", ok.name, err)
		}
	}
}

func TestNoAllocs(t *testing.T) {
	const w, h = 640, 480
	src := make([]byte, 2*w*h)
	d422 := newDst(w, h, image.YCbCrSubsampleRatio422)
	d420 := newDst(w, h, image.YCbCrSubsampleRatio420)
	for _, c := range []struct {
		name   string
		conv   converter
		dst    *image.YCbCr
		stride int
	}{
		{"YUYV", YUYVToI422, d422, 2 * w},
		{"UYVY", UYVYToI422, d422, 2 * w},
		{"NV12", NV12ToI420, d420, w},
		{"YU12", YU12ToI420, d420, w},
	} {
		var err error
		allocs := testing.AllocsPerRun(20, func() { err = c.conv(c.dst, src, c.stride, w, h) })
		if err != nil || allocs != 0 {
			t.Errorf("%s: %v allocs per frame, err %v", c.name, allocs, err)
		}
	}
}

// patternYUYV renders the built-in test pattern at 4:2:2 (chroma rows
// repeated from the 4:2:0 render) and packs it as a YUYV camera buffer.
func patternYUYV(t testing.TB, w, h, stride int) (*image.YCbCr, []byte) {
	t.Helper()
	size := capture.Size{Width: w, Height: h}
	p, err := pattern.New(size, 25)
	if err != nil {
		t.Fatal(err)
	}
	img420 := capture.NewYCbCr(size, image.YCbCrSubsampleRatio420)
	p.Render(42, img420)
	img := capture.NewYCbCr(size, image.YCbCrSubsampleRatio422)
	for y := 0; y < h; y++ {
		copy(img.Y[y*img.YStride:][:w], img420.Y[y*img420.YStride:])
		copy(img.Cb[y*img.CStride:][:w/2], img420.Cb[y/2*img420.CStride:])
		copy(img.Cr[y*img.CStride:][:w/2], img420.Cr[y/2*img420.CStride:])
	}
	return img, packYUYV(img, w, h, stride, false)
}

// TestYUYVToJPEG runs a camera frame the way the pipeline will: YUYV buffer
// -> planar 4:2:2 -> libjpeg-turbo -> any JPEG decoder.
func TestYUYVToJPEG(t *testing.T) {
	const w, h = 1280, 720
	want, src := patternYUYV(t, w, h, 2*w+128)
	img := capture.NewYCbCr(capture.Size{Width: w, Height: h}, image.YCbCrSubsampleRatio422)
	if err := YUYVToI422(img, src, 2*w+128, w, h); err != nil {
		t.Fatal(err)
	}
	enc, err := jpeg.New(jpeg.DefaultQuality)
	if err != nil {
		t.Fatal(err)
	}
	out, err := enc.Encode(nil, img)
	if err != nil {
		t.Fatal(err)
	}
	dec, err := stdjpeg.Decode(bytes.NewReader(out))
	if err != nil {
		t.Fatalf("decode: %v", err)
	}
	got, ok := dec.(*image.YCbCr)
	if !ok || got.Rect != image.Rect(0, 0, w, h) || got.SubsampleRatio != image.YCbCrSubsampleRatio422 {
		t.Fatalf("decoded %T %v", dec, dec.Bounds())
	}
	var se float64
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			d := float64(got.Y[y*got.YStride+x]) - float64(want.Y[y*want.YStride+x])
			se += d * d
		}
	}
	psnr := 10 * math.Log10(255*255/math.Max(se/(w*h), 1e-9))
	t.Logf("%d bytes, luma PSNR %.1f dB", len(out), psnr)
	if psnr < 30 {
		t.Errorf("luma PSNR %.1f dB, want >= 30", psnr)
	}
}
