package bench_test

import (
	"fmt"
	"image"
	"testing"

	"flowcam/capture"
	"flowcam/capture/jpeg"
	"flowcam/capture/yuv"
)

// yuyvReport is a camera's raw path: YUYV de-interleave plus encode,
// against tjbench compressing the same picture from planar 4:2:2.
type yuyvReport struct {
	convertMs, encodeMs, tjMs float64
}

// packYUYV turns the 4:2:0 test frame into what a YUYV camera delivers
// (chroma rows repeated to 4:2:2).
func packYUYV(img *image.YCbCr) []byte {
	w, h := img.Rect.Dx(), img.Rect.Dy()
	out := make([]byte, 0, 2*w*h)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x += 2 {
			c := (y/2)*img.CStride + x/2
			out = append(out, img.Y[y*img.YStride+x], img.Cb[c], img.Y[y*img.YStride+x+1], img.Cr[c])
		}
	}
	return out
}

func measureYUYV(t *testing.T, dir string, img *image.YCbCr) yuyvReport {
	t.Helper()
	src := packYUYV(img)
	size := capture.Size{Width: width, Height: height}
	dst := capture.NewYCbCr(size, image.YCbCrSubsampleRatio422)
	enc, _ := jpeg.New(quality)
	out := make([]byte, 0, 1<<20)
	var conv, total []float64
	for i := 0; i < runs; i++ {
		c := testing.Benchmark(func(b *testing.B) {
			for b.Loop() {
				yuv.YUYVToI422(dst, src, 2*width, width, height)
			}
		})
		e := testing.Benchmark(func(b *testing.B) {
			for b.Loop() {
				yuv.YUYVToI422(dst, src, 2*width, width, height)
				out, _ = enc.Encode(out[:0], dst)
			}
		})
		conv = append(conv, float64(c.NsPerOp())/1e6)
		total = append(total, float64(e.NsPerOp())/1e6)
	}
	var tj []float64
	for i := 0; i < runs; i++ {
		fig, err := encodeTjbench(dir, "422")
		if err != nil {
			t.Fatal(err)
		}
		tj = append(tj, fig.wallMs)
	}
	r := yuyvReport{convertMs: median(conv), encodeMs: median(total), tjMs: median(tj)}
	t.Logf("YUYV 1280x720: de-interleave %.2f ms, de-interleave+encode %.2f ms, tjbench 4:2:2 %.2f ms", r.convertMs, r.encodeMs, r.tjMs)
	return r
}

func (r yuyvReport) table() string {
	tb := newTable(fmt.Sprintf("camera YUYV %dx%d to JPEG q%d 4:2:2", width, height, quality), "ms/frame", "vs tjbench")
	tb.row("flowcamd de-interleave (capture/yuv)", f2(r.convertMs), "")
	tb.row("flowcamd de-interleave + encode", f2(r.encodeMs), fmt.Sprintf("%.2fx", r.encodeMs/r.tjMs))
	tb.row("tjbench compress from planar 4:2:2", f2(r.tjMs), "1.00x")
	return tb.String() + "Target: within 1.5x of tjbench's own encode time for the frame.\n"
}
