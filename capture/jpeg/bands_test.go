package jpeg

import (
	"bytes"
	"fmt"
	"image"
	stdjpeg "image/jpeg"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"flowcam/capture"
	"flowcam/internal/testutil/need"
)

// bandSizes covers pictures of one band, heights that are and are not a
// multiple of the band height, odd widths, and sizes whose last band is a
// single partial MCU row.
var bandSizes = []capture.Size{
	{Width: 1280, Height: 720}, {Width: 1920, Height: 1080}, {Width: 640, Height: 480},
	{Width: 320, Height: 240}, {Width: 176, Height: 144}, {Width: 100, Height: 37},
	{Width: 33, Height: 17}, {Width: 16, Height: 16}, {Width: 8, Height: 8},
	{Width: 1001, Height: 999}, {Width: 64, Height: 272}, {Width: 48, Height: 129},
}

// bandPicture renders the pattern and crops it to size in tightly packed
// planes, as a file or camera of an odd size would hand it over.
func bandPicture(t testing.TB, size capture.Size, ratio image.YCbCrSubsampleRatio) *image.YCbCr {
	src := patternFrame(t, capture.Size{Width: (size.Width + 7) &^ 7, Height: (size.Height + 7) &^ 7})
	if ratio == image.YCbCrSubsampleRatio422 {
		src = to422(src, false)
	}
	dst := image.NewYCbCr(image.Rect(0, 0, size.Width, size.Height), ratio)
	for y := range size.Height {
		copy(dst.Y[y*dst.YStride:(y+1)*dst.YStride], src.Y[y*src.YStride:])
	}
	for y := range len(dst.Cb) / dst.CStride {
		copy(dst.Cb[y*dst.CStride:(y+1)*dst.CStride], src.Cb[y*src.CStride:])
		copy(dst.Cr[y*dst.CStride:(y+1)*dst.CStride], src.Cr[y*src.CStride:])
	}
	return dst
}

func encodeWith(t testing.TB, img *image.YCbCr, threads int) []byte {
	t.Helper()
	enc, err := New(DefaultQuality, WithThreads(threads))
	if err != nil {
		t.Fatal(err)
	}
	out, err := enc.Encode(nil, img)
	if err != nil {
		t.Fatalf("encode %v with %d threads: %v", img.Rect.Size(), threads, err)
	}
	return out
}

// TestBandsDecodeToTheSamePixels is the stitch's contract: restart markers
// change only the entropy coding, so every thread count must decode, in
// libjpeg and in Go's decoder, to exactly the pixels of the plain
// single-threaded JPEG; and the bytes must not depend on the thread count.
func TestBandsDecodeToTheSamePixels(t *testing.T) {
	for _, ratio := range []image.YCbCrSubsampleRatio{image.YCbCrSubsampleRatio420, image.YCbCrSubsampleRatio422} {
		for _, size := range bandSizes {
			t.Run(fmt.Sprintf("%v/%dx%d", ratio, size.Width, size.Height), func(t *testing.T) {
				img := bandPicture(t, size, ratio)
				one := encodeWith(t, img, 1)
				two := encodeWith(t, img, 2)
				for _, threads := range []int{3, 4} {
					if got := encodeWith(t, img, threads); !bytes.Equal(got, two) {
						t.Errorf("%d threads wrote other bytes than 2 threads", threads)
					}
				}
				plan := PlanFor(img.Rect.Size(), ratio)
				checkRestarts(t, two, plan)
				for name, decode := range map[string]func([]byte) (*image.YCbCr, error){"libjpeg": decodeYCbCr, "image/jpeg": decodeStd} {
					want, err := decode(one)
					if err != nil {
						t.Fatalf("%s: decoding the single-threaded JPEG: %v", name, err)
					}
					got, err := decode(two)
					if err != nil {
						t.Fatalf("%s: decoding the banded JPEG: %v", name, err)
					}
					if diff := samePixels(want, got); diff != "" {
						t.Errorf("%s: banded JPEG decodes differently: %s", name, diff)
					}
				}
			})
		}
	}
}

// checkRestarts finds the DRI segment and the restart markers in order.
func checkRestarts(t *testing.T, data []byte, plan Plan) {
	t.Helper()
	if plan.Bands == 1 {
		if bytes.Contains(data, []byte{0xff, 0xdd}) {
			t.Error("a one-band picture has a DRI segment")
		}
		return
	}
	dri := bytes.Index(data, []byte{0xff, 0xdd, 0, 4})
	sos := bytes.Index(data, []byte{0xff, 0xda})
	if dri < 0 || dri > sos {
		t.Fatalf("no DRI segment before the scan (DRI at %d, SOS at %d)", dri, sos)
	}
	if got := int(data[dri+4])<<8 | int(data[dri+5]); got != plan.Interval {
		t.Errorf("restart interval %d, want %d", got, plan.Interval)
	}
	var seen []byte
	for i := sos; i+1 < len(data); i++ {
		if data[i] == 0xff && data[i+1]&0xf8 == 0xd0 {
			seen = append(seen, data[i+1]-0xd0)
		}
	}
	if len(seen) != plan.Bands-1 {
		t.Fatalf("%d restart markers, want %d", len(seen), plan.Bands-1)
	}
	for i, n := range seen {
		if int(n) != i%8 {
			t.Fatalf("restart marker %d is RST%d, want RST%d", i, n, i%8)
		}
	}
}

func decodeYCbCr(data []byte) (*image.YCbCr, error) {
	return asYCbCr(decodeImage(bytes.NewReader(data)))
}

func decodeStd(data []byte) (*image.YCbCr, error) {
	return asYCbCr(stdjpeg.Decode(bytes.NewReader(data)))
}

func asYCbCr(img image.Image, err error) (*image.YCbCr, error) {
	if err != nil {
		return nil, err
	}
	y, ok := img.(*image.YCbCr)
	if !ok {
		return nil, fmt.Errorf("decoded %T", img)
	}
	return y, nil
}

// samePixels compares every visible sample of two decoded pictures.
func samePixels(a, b *image.YCbCr) string {
	if a.Rect != b.Rect || a.SubsampleRatio != b.SubsampleRatio {
		return fmt.Sprintf("%v %v against %v %v", a.Rect, a.SubsampleRatio, b.Rect, b.SubsampleRatio)
	}
	for y := a.Rect.Min.Y; y < a.Rect.Max.Y; y++ {
		for x := a.Rect.Min.X; x < a.Rect.Max.X; x++ {
			ya, yb := a.YOffset(x, y), b.YOffset(x, y)
			ca, cb := a.COffset(x, y), b.COffset(x, y)
			if a.Y[ya] != b.Y[yb] || a.Cb[ca] != b.Cb[cb] || a.Cr[ca] != b.Cr[cb] {
				return fmt.Sprintf("pixel %d,%d differs", x, y)
			}
		}
	}
	return ""
}

// TestBandsMatchLibjpegRestarts compares the stitched scan with libjpeg's
// own restart coding: jpegtran re-codes the single-threaded JPEG's
// coefficients losslessly with the same restart interval, and the
// entropy-coded data must come out byte for byte the same.
func TestBandsMatchLibjpegRestarts(t *testing.T) {
	if Backend != "libjpeg-turbo" {
		t.Skip("Go's encoder codes blocks past an odd-sized picture's edge its own way; the pixel test covers this build")
	}
	if !need.Has(t, "jpegtran") {
		t.Skip("jpegtran is not installed")
	}
	dir := t.TempDir()
	for _, size := range []capture.Size{{Width: 1280, Height: 720}, {Width: 1001, Height: 999}, {Width: 100, Height: 37}} {
		for _, ratio := range []image.YCbCrSubsampleRatio{image.YCbCrSubsampleRatio420, image.YCbCrSubsampleRatio422} {
			img := bandPicture(t, size, ratio)
			plan := PlanFor(img.Rect.Size(), ratio)
			in := filepath.Join(dir, "one.jpg")
			if err := os.WriteFile(in, encodeWith(t, img, 1), 0o644); err != nil {
				t.Fatal(err)
			}
			ref, err := exec.Command("jpegtran", "-copy", "none", "-restart", fmt.Sprintf("%dB", plan.Interval), in).Output()
			if err != nil {
				t.Fatalf("jpegtran: %v", err)
			}
			got := encodeWith(t, img, 2)
			if !bytes.Equal(scanOf(t, got), scanOf(t, ref)) {
				t.Errorf("%v %v: the banded scan differs from jpegtran -restart %dB", size, ratio, plan.Interval)
			}
		}
	}
}

// scanOf is a JPEG's entropy-coded data, from after SOS to EOI.
func scanOf(t *testing.T, data []byte) []byte {
	t.Helper()
	sos := bytes.Index(data, []byte{0xff, 0xda})
	if sos < 0 || sos+4 > len(data) {
		t.Fatal("no SOS segment")
	}
	return data[sos+2+(int(data[sos+2])<<8|int(data[sos+3])) : len(data)-2]
}

func TestPlanKeepsIntervalsInSixteenBits(t *testing.T) {
	for _, size := range []image.Point{{X: 1920, Y: 1080}, {X: 65535, Y: 65535}, {X: 16, Y: 65535}, {X: 1, Y: 1}} {
		p := PlanFor(size, image.YCbCrSubsampleRatio420)
		if p.Interval < 1 || p.Interval > 0xffff || p.Bands < 1 || p.Bands*p.BandRows*p.MCUHeight < size.Y {
			t.Errorf("%v: plan %+v", size, p)
		}
	}
}

func BenchmarkEncodeThreads(b *testing.B) {
	for _, size := range []capture.Size{{Width: 1280, Height: 720}, {Width: 1920, Height: 1080}} {
		img := patternFrame(b, size)
		for _, threads := range []int{1, 2, AutoThreads()} {
			b.Run(fmt.Sprintf("%dx%d/threads=%d", size.Width, size.Height, threads), func(b *testing.B) {
				enc, err := New(DefaultQuality, WithThreads(threads))
				if err != nil {
					b.Fatal(err)
				}
				dst := make([]byte, 0, 1<<20)
				for b.Loop() {
					if _, err := enc.Encode(dst[:0], img); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
