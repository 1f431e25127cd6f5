package yuv

import (
	"image"
	"testing"

	"flowcam/capture/jpeg"
)

// benchConvert times one 1280x720 conversion per op; MB/s counts the
// camera buffer read.
func benchConvert(b *testing.B, conv converter, ratio image.YCbCrSubsampleRatio, stride, size int) {
	const w, h = 1280, 720
	src := make([]byte, size)
	for i := range src {
		src[i] = byte(i * 7)
	}
	dst := newDst(w, h, ratio)
	b.SetBytes(int64(len(src)))
	b.ReportAllocs()
	for b.Loop() {
		if err := conv(dst, src, stride, w, h); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkYUYVToI422_720p(b *testing.B) {
	benchConvert(b, YUYVToI422, image.YCbCrSubsampleRatio422, 2*1280, 2*1280*720)
}

func BenchmarkUYVYToI422_720p(b *testing.B) {
	benchConvert(b, UYVYToI422, image.YCbCrSubsampleRatio422, 2*1280, 2*1280*720)
}

func BenchmarkNV12ToI420_720p(b *testing.B) {
	benchConvert(b, NV12ToI420, image.YCbCrSubsampleRatio420, 1280, 1280*720*3/2)
}

func BenchmarkYU12ToI420_720p(b *testing.B) {
	benchConvert(b, YU12ToI420, image.YCbCrSubsampleRatio420, 1280, 1280*720*3/2)
}

// BenchmarkYUYVToJPEG_720p is the per-frame cost of a YUYV camera in the
// pipeline: de-interleave, then libjpeg-turbo at quality 80.
func BenchmarkYUYVToJPEG_720p(b *testing.B) {
	const w, h = 1280, 720
	_, src := patternYUYV(b, w, h, 2*w)
	img := newDst(w, h, image.YCbCrSubsampleRatio422)
	enc, err := jpeg.New(80)
	if err != nil {
		b.Fatal(err)
	}
	var out []byte
	b.ReportAllocs()
	for b.Loop() {
		if err := YUYVToI422(img, src, 2*w, w, h); err != nil {
			b.Fatal(err)
		}
		if out, err = enc.Encode(out[:0], img); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/frame")
	b.ReportMetric(float64(len(out)), "bytes/frame")
}
