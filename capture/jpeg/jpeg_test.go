package jpeg

import (
	"bytes"
	"errors"
	"image"
	stdjpeg "image/jpeg"
	"math"
	"testing"

	"flowcam/capture"
	"flowcam/capture/pattern"
)

func patternFrame(t testing.TB, size capture.Size) *image.YCbCr {
	t.Helper()
	src, err := pattern.New(size, 25)
	if err != nil {
		t.Fatal(err)
	}
	img := capture.NewYCbCr(size, image.YCbCrSubsampleRatio420)
	src.Render(42, img)
	return img
}

// to422 resamples a 4:2:0 picture to 4:2:2 by repeating chroma rows.
func to422(src *image.YCbCr, tight bool) *image.YCbCr {
	size := capture.Size{Width: src.Rect.Dx(), Height: src.Rect.Dy()}
	dst := capture.NewYCbCr(size, image.YCbCrSubsampleRatio422)
	if tight {
		dst = image.NewYCbCr(src.Rect, image.YCbCrSubsampleRatio422)
	}
	for y := 0; y < size.Height; y++ {
		copy(dst.Y[y*dst.YStride:y*dst.YStride+size.Width], src.Y[y*src.YStride:])
		copy(dst.Cb[y*dst.CStride:y*dst.CStride+size.Width/2], src.Cb[y/2*src.CStride:])
		copy(dst.Cr[y*dst.CStride:y*dst.CStride+size.Width/2], src.Cr[y/2*src.CStride:])
	}
	return dst
}

// lumaPSNR compares the decoded picture with the source luma.
func lumaPSNR(t *testing.T, src *image.YCbCr, data []byte) float64 {
	t.Helper()
	dec, err := stdjpeg.Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("decode our JPEG: %v", err)
	}
	got, ok := dec.(*image.YCbCr)
	if !ok {
		t.Fatalf("decoded %T, want *image.YCbCr", dec)
	}
	if got.Rect != src.Rect {
		t.Fatalf("decoded bounds %v, want %v", got.Rect, src.Rect)
	}
	var se float64
	for y := 0; y < src.Rect.Dy(); y++ {
		for x := 0; x < src.Rect.Dx(); x++ {
			d := float64(got.Y[y*got.YStride+x]) - float64(src.Y[y*src.YStride+x])
			se += d * d
		}
	}
	mse := se / float64(src.Rect.Dx()*src.Rect.Dy())
	return 10 * math.Log10(255*255/math.Max(mse, 1e-9))
}

func TestEncode(t *testing.T) {
	p720 := patternFrame(t, capture.Size{Width: 1280, Height: 720})
	odd := patternFrame(t, capture.Size{Width: 1288, Height: 728})
	cases := []struct {
		name  string
		img   *image.YCbCr
		ratio image.YCbCrSubsampleRatio
	}{
		{"420 padded", p720, image.YCbCrSubsampleRatio420},
		{"422 padded", to422(p720, false), image.YCbCrSubsampleRatio422},
		{"422 tight odd blocks", to422(odd, true), image.YCbCrSubsampleRatio422},
		{"tiny", patternFrame(t, capture.Size{Width: 8, Height: 8}), image.YCbCrSubsampleRatio420},
	}
	enc, err := New(DefaultQuality)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out, err := enc.Encode(nil, c.img)
			if err != nil {
				t.Fatal(err)
			}
			if psnr := lumaPSNR(t, c.img, out); psnr < 30 {
				t.Errorf("luma PSNR %.1f dB, want >= 30", psnr)
			}
			hdr, err := stdjpeg.DecodeConfig(bytes.NewReader(out))
			if err != nil || hdr.Width != c.img.Rect.Dx() {
				t.Errorf("config %+v err %v", hdr, err)
			}
		})
	}
}

func TestQualityChangesSize(t *testing.T) {
	img := patternFrame(t, capture.Size{Width: 640, Height: 480})
	lo, _ := New(20)
	hi, _ := New(95)
	a, _ := lo.Encode(nil, img)
	b, _ := hi.Encode(nil, img)
	if len(a) >= len(b) {
		t.Fatalf("quality 20 gave %d bytes, quality 95 %d", len(a), len(b))
	}
}

func TestEncodeAppendsAndReuses(t *testing.T) {
	img := patternFrame(t, capture.Size{Width: 320, Height: 240})
	enc, _ := New(80)
	first, _ := enc.Encode(nil, img)
	buf := make([]byte, 0, 2*len(first))
	out, err := enc.Encode(buf, img)
	if err != nil || !bytes.Equal(out, first) || &out[0] != &buf[:1][0] {
		t.Fatalf("encode into a roomy buffer: err %v, same bytes %v, reused %v",
			err, bytes.Equal(out, first), &out[0] == &buf[:1][0])
	}
}

func TestEncodeRejects(t *testing.T) {
	if _, err := New(0); err == nil {
		t.Error("quality 0 accepted")
	}
	if _, err := New(101); err == nil {
		t.Error("quality 101 accepted")
	}
	enc, _ := New(80)
	_, err := enc.Encode(nil, image.NewYCbCr(image.Rect(0, 0, 16, 16), image.YCbCrSubsampleRatio444))
	if !errors.Is(err, ErrSampling) {
		t.Errorf("4:4:4: err %v, want ErrSampling", err)
	}
	short := image.NewYCbCr(image.Rect(0, 0, 64, 64), image.YCbCrSubsampleRatio420)
	short.Y = short.Y[:100]
	if _, err := enc.Encode(nil, short); err == nil {
		t.Error("truncated planes accepted")
	}
	if _, err := enc.Encode(nil, &image.YCbCr{SubsampleRatio: image.YCbCrSubsampleRatio420}); err == nil {
		t.Error("empty picture accepted")
	}
}

// BenchmarkEncode720p is the figure `make bench` sets beside tjbench.
func BenchmarkEncode720p(b *testing.B) {
	img := patternFrame(b, capture.Size{Width: 1280, Height: 720})
	enc, _ := New(DefaultQuality)
	var out []byte
	for b.Loop() {
		out, _ = enc.Encode(out[:0], img)
	}
	b.ReportMetric(float64(len(out)), "bytes/frame")
}
