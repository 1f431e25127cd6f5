package bench_test

import (
	"bufio"
	"fmt"
	"image"
	"image/draw"
	"maps"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"flowcam/capture"
	"flowcam/capture/jpeg"
	"flowcam/capture/pattern"
)

// encodeFig is one encoder's figures for one frame (or their medians).
type encodeFig struct {
	wallMs  float64 // wall time per frame
	cpuMs   float64 // CPU time per frame; NaN when the tool only reports wall time
	fpsCore float64 // frames per second of one core's time
	bytes   float64 // JPEG size
}

// encodeReport is the encode comparison: flowcamd against tjbench and
// ffmpeg on the same picture.
type encodeReport struct {
	jpeg         []byte // flowcamd's JPEG of the frame, for the packetizer
	ours, tj, ff encodeFig
	ffmpegQ      int // ffmpeg -q:v whose size is closest to ours
	tjVer, fVer  string
}

// newFrame renders the pattern frame every encoder is given.
func newFrame(t *testing.T) *image.YCbCr {
	t.Helper()
	size := capture.Size{Width: width, Height: height}
	src, err := pattern.New(size, fps)
	if err != nil {
		t.Fatalf("pattern source: %v", err)
	}
	img := capture.NewYCbCr(size, image.YCbCrSubsampleRatio420)
	src.Render(patternFrame, img)
	return img
}

// measureEncode runs the three encoders `runs` times each on img.
func measureEncode(t *testing.T, dir string, img *image.YCbCr) encodeReport {
	var rep encodeReport
	var ours []encodeFig
	for i := range runs {
		fig, out := encodeOurs(t, img)
		t.Logf("encode flowcamd run %d: %.3f ms/frame wall, %.3f ms CPU, %d bytes", i+1, fig.wallMs, fig.cpuMs, len(out))
		ours, rep.jpeg = append(ours, fig), out
	}
	rep.ours = medianFig(ours)

	if err := writePPM(filepath.Join(dir, "frame.ppm"), img); err != nil {
		t.Fatal(err)
	}
	if err := writeI420(filepath.Join(dir, "frame.yuv"), img); err != nil {
		t.Fatal(err)
	}

	var tj []encodeFig
	for i := range runs {
		fig, err := encodeTjbench(dir, "420")
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("encode tjbench run %d: %.1f frames/s, %.0f bytes", i+1, fig.fpsCore, fig.bytes)
		tj = append(tj, fig)
	}
	rep.tj = medianFig(tj)

	q, err := chooseQ(t, dir, len(rep.jpeg))
	if err != nil {
		t.Fatal(err)
	}
	rep.ffmpegQ = q
	var ff []encodeFig
	for i := range runs {
		fig, err := encodeFFmpeg(t, dir, q, i+1)
		if err != nil {
			t.Fatal(err)
		}
		ff = append(ff, fig)
	}
	rep.ff = medianFig(ff)

	// Debian's package version is the library's (epoch and revision aside).
	rep.tjVer = version(`(?:\d+:)?([0-9.]+)`, "dpkg-query", "-W", "-f=${Version}", "libjpeg-turbo-progs")
	rep.fVer = version(`ffmpeg version (?:n)?([0-9.]+)`, "ffmpeg", "-version")
	return rep
}

// encodeOurs times flowcamd's encoder with testing.Benchmark and also reads
// the thread's CPU clock around the loop: the encoder is single-threaded, so
// the benchmark goroutine is pinned to one OS thread for the reading to
// cover exactly the encoding work.
func encodeOurs(t *testing.T, img *image.YCbCr) (encodeFig, []byte) {
	t.Helper()
	enc, err := jpeg.New(quality)
	if err != nil {
		t.Fatalf("jpeg.New(%d): %v", quality, err)
	}
	dst := make([]byte, 0, 1<<20)
	var out []byte
	var encErr, clockErr error
	r := testing.Benchmark(func(b *testing.B) {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		c0, err0 := threadCPU()
		for b.Loop() {
			out, encErr = enc.Encode(dst[:0], img)
		}
		c1, err1 := threadCPU()
		if clockErr = firstErr(err0, err1); clockErr == nil {
			b.ReportMetric(float64(c1-c0)/float64(b.N), "cpu-ns/op")
		}
	})
	switch {
	case encErr != nil:
		t.Fatalf("encoding the pattern frame: %v", encErr)
	case clockErr != nil:
		t.Fatalf("reading the thread CPU clock: %v", clockErr)
	case r.N == 0:
		t.Fatal("encode benchmark did not run")
	}
	ns := float64(r.T.Nanoseconds()) / float64(r.N)
	return encodeFig{
		wallMs:  ns / 1e6,
		cpuMs:   r.Extra["cpu-ns/op"] / 1e6,
		fpsCore: 1e9 / ns,
		bytes:   float64(len(out)),
	}, slices.Clone(out)
}

// threadCPU is the calling thread's CPU time (user plus system).
func threadCPU() (time.Duration, error) {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts); err != nil {
		return 0, fmt.Errorf("clock_gettime(CLOCK_THREAD_CPUTIME_ID): %w", err)
	}
	return time.Duration(ts.Nano()), nil
}

func firstErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// tjbenchRe finds the compress-from-YUV figures; the size line that follows
// the frame rate belongs to the same block (the "Encode YUV" block before it
// has its own, of the raw planes).
var tjbenchRe = regexp.MustCompile(`Comp from YUV\s*-->\s*Frame rate:\s*([0-9.]+)\s*fps\s*Output image size:\s*([0-9]+)\s*bytes`)

// encodeTjbench runs libjpeg-turbo's own benchmark on the frame. tjbench
// converts the RGB file to planar YUV once and times compression from the
// planes in one thread, so its frame rate is frames/s per core.
func encodeTjbench(dir, subsamp string) (encodeFig, error) {
	out, err := run(dir, "tjbench", "frame.ppm", strconv.Itoa(quality), "-subsamp", subsamp, "-yuv",
		"-componly", "-nowrite", "-benchtime", "2", "-warmup", "0.5")
	if err != nil {
		return encodeFig{}, err
	}
	m := tjbenchRe.FindStringSubmatch(out)
	if m == nil {
		return encodeFig{}, fmt.Errorf("tjbench: no \"Comp from YUV\" frame rate and size in:\n%s", out)
	}
	fps, err1 := strconv.ParseFloat(m[1], 64)
	size, err2 := strconv.ParseFloat(m[2], 64)
	if err := firstErr(err1, err2); err != nil || fps <= 0 {
		return encodeFig{}, fmt.Errorf("tjbench: parsing %q: %v", m[0], err)
	}
	return encodeFig{wallMs: 1e3 / fps, cpuMs: math.NaN(), fpsCore: fps, bytes: size}, nil
}

// ffmpegIn reads the I420 frame into ffmpeg's mjpeg encoder, in one thread.
// The input is declared yuvj420p (full range, the same memory layout as
// yuv420p) because that is what the frame holds (Go's YCbCr is JFIF full
// range) and what the encoder takes: declared yuv420p, ffmpeg would insert a
// swscale range conversion and bill it to the encoder.
func ffmpegIn(loops int) []string {
	args := []string{"-hide_banner", "-nostdin", "-threads", "1"}
	if loops > 0 {
		args = append(args, "-stream_loop", strconv.Itoa(loops))
	}
	args = append(args, "-f", "rawvideo", "-pix_fmt", "yuvj420p",
		"-s", fmt.Sprintf("%dx%d", width, height), "-i", "frame.yuv", "-threads", "1")
	return append(args, ffmpegMJPEG...)
}

// ffmpegMJPEG selects ffmpeg's mjpeg encoder with the standard Huffman
// tables, as flowcamd and RFC 2435 use. ffmpeg 5 defaults to per-frame
// optimal tables: a second pass over every frame, about 40% smaller files
// on the pattern, and frames its own RTP muxer refuses to send.
var ffmpegMJPEG = []string{"-c:v", "mjpeg", "-huffman", "default"}

// chooseQ finds the ffmpeg -q:v whose JPEG of the frame is closest in size
// to ours, so both encoders are compared at the same compression. Size
// falls as q rises, so a bisection over 2..31 needs about six encodes.
func chooseQ(t *testing.T, dir string, target int) (int, error) {
	sizes := map[int]int{}
	size := func(q int) (int, error) {
		if s, ok := sizes[q]; ok {
			return s, nil
		}
		args := append(ffmpegIn(0), "-v", "error", "-q:v", strconv.Itoa(q), "-frames:v", "1", "-f", "mjpeg", "-y", "q.jpg")
		if _, err := run(dir, "ffmpeg", args...); err != nil {
			return 0, err
		}
		fi, err := os.Stat(filepath.Join(dir, "q.jpg"))
		if err != nil {
			return 0, fmt.Errorf("ffmpeg -q:v %d wrote no JPEG: %w", q, err)
		}
		sizes[q] = int(fi.Size())
		return sizes[q], nil
	}
	// Smallest q whose JPEG is no larger than ours.
	lo, hi := 2, 31
	for lo < hi {
		mid := (lo + hi) / 2
		s, err := size(mid)
		if err != nil {
			return 0, err
		}
		if s <= target {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	best := lo
	for _, q := range []int{lo - 1, lo, lo + 1} {
		if q < 2 || q > 31 {
			continue
		}
		s, err := size(q)
		if err != nil {
			return 0, err
		}
		if abs(s-target) < abs(sizes[best]-target) {
			best = q
		}
	}
	var parts []string
	for _, q := range slices.Sorted(maps.Keys(sizes)) {
		parts = append(parts, fmt.Sprintf("q%d=%d", q, sizes[q]))
	}
	t.Logf("ffmpeg -q:v search, bytes per frame (flowcamd: %d): %s; chose -q:v %d (%d bytes)",
		target, strings.Join(parts, " "), best, sizes[best])
	return best, nil
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

var (
	ffBenchRe = regexp.MustCompile(`bench: utime=([0-9.]+)s stime=([0-9.]+)s rtime=([0-9.]+)s`)
	ffFrameRe = regexp.MustCompile(`frame=\s*([0-9]+)`)
	ffSizeRe  = regexp.MustCompile(`video:([0-9]+)kB`)
)

// ffmpegFrames is how many frames one ffmpeg timing encodes: long enough
// that start-up is small against the encoding.
const ffmpegFrames = 250

// encodeFFmpeg times ffmpeg's mjpeg encoder on the frame repeated
// ffmpegFrames times. -benchmark reports ffmpeg's own CPU time, so
// frames/s per core is frames / (utime + stime).
func encodeFFmpeg(t *testing.T, dir string, q, n int) (encodeFig, error) {
	// -v info because -benchmark prints at info level; -nostats keeps only
	// the final frame count.
	args := append(ffmpegIn(ffmpegFrames-1), "-q:v", strconv.Itoa(q), "-f", "null", "-")
	args = append([]string{"-benchmark", "-nostats", "-v", "info"}, args...)
	out, err := run(dir, "ffmpeg", args...)
	if err != nil {
		return encodeFig{}, err
	}
	b := ffBenchRe.FindStringSubmatch(out)
	fr := ffFrameRe.FindAllStringSubmatch(out, -1)
	sz := ffSizeRe.FindStringSubmatch(out)
	if b == nil || fr == nil || sz == nil {
		return encodeFig{}, fmt.Errorf("ffmpeg -benchmark: no bench, frame= or video: line in:\n%s", out)
	}
	var v [3]float64
	for i := range v {
		if v[i], err = strconv.ParseFloat(b[i+1], 64); err != nil {
			return encodeFig{}, fmt.Errorf("ffmpeg -benchmark: parsing %q: %w", b[0], err)
		}
	}
	frames, err1 := strconv.ParseFloat(fr[len(fr)-1][1], 64)
	kb, err2 := strconv.ParseFloat(sz[1], 64)
	if err := firstErr(err1, err2); err != nil || frames != ffmpegFrames {
		return encodeFig{}, fmt.Errorf("ffmpeg encoded %v frames, want %d (%v):\n%s", frames, ffmpegFrames, err, out)
	}
	utime, stime, rtime := v[0], v[1], v[2]
	cpu := utime + stime
	if cpu <= 0 {
		return encodeFig{}, fmt.Errorf("ffmpeg -benchmark reported no CPU time: %q", b[0])
	}
	t.Logf("encode ffmpeg run %d: %v frames, utime %.3fs stime %.3fs rtime %.3fs -> %.1f frames/s/core",
		n, frames, utime, stime, rtime, frames/cpu)
	return encodeFig{
		wallMs:  rtime / frames * 1e3,
		cpuMs:   cpu / frames * 1e3,
		fpsCore: frames / cpu,
		bytes:   kb * 1024 / frames,
	}, nil
}

// medianFig takes each figure's median over the runs.
func medianFig(figs []encodeFig) encodeFig {
	return encodeFig{
		wallMs:  median(column(figs, func(f encodeFig) float64 { return f.wallMs })),
		cpuMs:   median(column(figs, func(f encodeFig) float64 { return f.cpuMs })),
		fpsCore: median(column(figs, func(f encodeFig) float64 { return f.fpsCore })),
		bytes:   median(column(figs, func(f encodeFig) float64 { return f.bytes })),
	}
}

// writePPM writes img as a binary PPM for tjbench, which reads only RGB
// files: it converts back to the same 4:2:0 planes before timing.
func writePPM(path string, img *image.YCbCr) error {
	rgba := image.NewRGBA(img.Rect)
	draw.Draw(rgba, rgba.Bounds(), img, img.Rect.Min, draw.Src)
	return writeFile(path, func(w *bufio.Writer) {
		fmt.Fprintf(w, "P6\n%d %d\n255\n", img.Rect.Dx(), img.Rect.Dy())
		for i := 0; i < len(rgba.Pix); i += 4 {
			w.Write(rgba.Pix[i : i+3])
		}
	})
}

// writeI420 writes img's planes tightly packed (Y, then Cb, then Cr), the
// layout of ffmpeg's yuv420p; img's planes are padded to 16-pixel blocks.
func writeI420(path string, img *image.YCbCr) error {
	w, h := img.Rect.Dx(), img.Rect.Dy()
	cw, ch := (w+1)/2, (h+1)/2
	return writeFile(path, func(bw *bufio.Writer) {
		for y := range h {
			bw.Write(img.Y[y*img.YStride:][:w])
		}
		for _, plane := range [][]byte{img.Cb, img.Cr} {
			for y := range ch {
				bw.Write(plane[y*img.CStride:][:cw])
			}
		}
	})
}

// writeFile creates path and fills it through a buffered writer.
func writeFile(path string, fill func(*bufio.Writer)) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("create %s: %w", path, err)
	}
	w := bufio.NewWriter(f)
	fill(w)
	if err := firstErr(w.Flush(), f.Close()); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// table prints the encode rows and the ratios to the reference tools.
func (r encodeReport) table() string {
	tb := newTable(fmt.Sprintf("encode %dx%d q%d 4:2:0 from planar YUV", width, height, quality),
		"wall ms/frame", "CPU ms/frame", "frames/s/core", "bytes/frame", "flowcamd/this throughput")
	add := func(name string, f encodeFig) {
		cpu := "-"
		if !math.IsNaN(f.cpuMs) {
			cpu = f2(f.cpuMs)
		}
		tb.row(name, f2(f.wallMs), cpu, f0(f.fpsCore), f0(f.bytes), ratio(r.ours.fpsCore, f.fpsCore))
	}
	add("flowcamd (go-libjpeg)", r.ours)
	add(fmt.Sprintf("tjbench (libjpeg-turbo %s)", r.tjVer), r.tj)
	add(fmt.Sprintf("ffmpeg %s mjpeg (-q:v %d -huffman default)", r.fVer, r.ffmpegQ), r.ff)
	return tb.String() + fmt.Sprintf(
		"flowcamd runs at %.0f%% of tjbench's throughput (the practical limit) and %s ffmpeg's.\n"+
			"tjbench times one thread by wall clock (CPU = wall); ffmpeg CPU is its -benchmark utime+stime.\n",
		100*r.ours.fpsCore/r.tj.fpsCore, ratio(r.ours.fpsCore, r.ff.fpsCore))
}
