package bench_test

import (
	"fmt"
	"image"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"flowcam/capture"
	"flowcam/capture/jpeg"
	"flowcam/capture/pattern"
)

// Slice-parallel encoding (jpeg.threads): wall and CPU time per frame at
// 720p and 1080p for 1, 2 and auto threads, beside tjbench compressing
// the same frame from planar YUV on one thread, the practical per-core
// limit.

var threadSizes = []capture.Size{{Width: 1280, Height: 720}, {Width: 1920, Height: 1080}}

// threadCounts are the jpeg.threads settings measured; 0 is auto.
var threadCounts = []int{1, 2, 0}

type threadsFig struct {
	wallMs, cpuMs float64
}

type threadsReport struct {
	tj    map[capture.Size]float64 // tjbench wall ms/frame
	ours  map[capture.Size]map[int]threadsFig
	tjVer string
}

func measureThreads(t *testing.T, dir string) threadsReport {
	rep := threadsReport{tj: map[capture.Size]float64{}, ours: map[capture.Size]map[int]threadsFig{}}
	for _, size := range threadSizes {
		img := patternAt(t, size)
		sub := filepath.Join(dir, fmt.Sprintf("%dx%d", size.Width, size.Height))
		if err := os.MkdirAll(sub, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := writePPM(filepath.Join(sub, "frame.ppm"), img); err != nil {
			t.Fatal(err)
		}
		// Each run measures tjbench and every thread count back to back, so
		// a machine whose speed drifts (a shared host) skews no ratio.
		var tj []float64
		wall, cpu := map[int][]float64{}, map[int][]float64{}
		for range runs {
			fig, err := encodeTjbench(sub, "420")
			if err != nil {
				t.Fatal(err)
			}
			tj = append(tj, fig.wallMs)
			for _, n := range threadCounts {
				f := encodeThreads(t, img, n)
				wall[n], cpu[n] = append(wall[n], f.wallMs), append(cpu[n], f.cpuMs)
			}
		}
		rep.tj[size] = median(tj)
		rep.ours[size] = map[int]threadsFig{}
		for _, n := range threadCounts {
			rep.ours[size][n] = threadsFig{wallMs: median(wall[n]), cpuMs: median(cpu[n])}
			t.Logf("encode %v threads %s: %.3f ms/frame wall, %.3f ms CPU; tjbench %.3f ms", size, threadsName(n),
				rep.ours[size][n].wallMs, rep.ours[size][n].cpuMs, rep.tj[size])
		}
	}
	rep.tjVer = version(`(?:\d+:)?([0-9.]+)`, "dpkg-query", "-W", "-f=${Version}", "libjpeg-turbo-progs")
	return rep
}

func patternAt(t *testing.T, size capture.Size) *image.YCbCr {
	src, err := pattern.New(size, fps)
	if err != nil {
		t.Fatal(err)
	}
	img := capture.NewYCbCr(size, image.YCbCrSubsampleRatio420)
	src.Render(patternFrame, img)
	return img
}

func threadsName(n int) string {
	if n == 0 {
		return fmt.Sprintf("auto (%d)", jpeg.AutoThreads())
	}
	return strconv.Itoa(n)
}

// encodeThreads times the encoder by wall clock and by the process's CPU
// clock, which counts every band's goroutine (the test process does
// nothing else meanwhile).
func encodeThreads(t *testing.T, img *image.YCbCr, n int) threadsFig {
	if n == 0 {
		n = jpeg.AutoThreads()
	}
	enc, err := jpeg.New(quality, jpeg.WithThreads(n))
	if err != nil {
		t.Fatal(err)
	}
	dst := make([]byte, 0, 2<<20)
	var encErr error
	var cpu time.Duration
	r := testing.Benchmark(func(b *testing.B) {
		c0 := processCPU(t)
		for b.Loop() {
			_, encErr = enc.Encode(dst[:0], img)
		}
		cpu = processCPU(t) - c0
	})
	if encErr != nil || r.N == 0 {
		t.Fatalf("encoding with %d threads: %v (%d runs)", n, encErr, r.N)
	}
	return threadsFig{wallMs: float64(r.T.Nanoseconds()) / float64(r.N) / 1e6, cpuMs: cpu.Seconds() * 1e3 / float64(r.N)}
}

func processCPU(t *testing.T) time.Duration {
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_SELF, &ru); err != nil {
		t.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// TestThreads runs this section alone (FLOWCAM_BENCH=1).
func TestThreads(t *testing.T) {
	if os.Getenv("FLOWCAM_BENCH") != "1" {
		t.Skip("set FLOWCAM_BENCH=1 to measure jpeg.threads (about a minute)")
	}
	fmt.Print("\n" + measureThreads(t, t.TempDir()).table())
}

func (r threadsReport) table() string {
	tb := newTable(fmt.Sprintf("encode q%d 4:2:0 by jpeg.threads, beside tjbench (libjpeg-turbo %s, one thread, from planar YUV)", quality, r.tjVer),
		"wall ms/frame", "CPU ms/frame", "frames/s", "wall / tjbench")
	var note string
	for _, size := range threadSizes {
		tj := r.tj[size]
		tb.row(fmt.Sprintf("%dx%d tjbench", size.Width, size.Height), f2(tj), f2(tj), f0(1e3/tj), "1.00x")
		for _, n := range threadCounts {
			f := r.ours[size][n]
			tb.row(fmt.Sprintf("%dx%d threads %s", size.Width, size.Height, threadsName(n)),
				f2(f.wallMs), f2(f.cpuMs), f0(1e3/f.wallMs), ratio(f.wallMs, tj))
		}
		if size.Height == 1080 {
			note = fmt.Sprintf("Target: auto at most 0.60x tjbench's time at 1080p; measured %s.\n", ratio(r.ours[size][0].wallMs, tj))
		}
	}
	return tb.String() + note +
		"Threads above 1 cut the frame into 8 bands joined by restart markers; the CPU column counts every band's goroutine.\n"
}
