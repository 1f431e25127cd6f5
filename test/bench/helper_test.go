package bench_test

import (
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v4"
	"github.com/pion/rtp"

	"flowcam/internal/testutil/daemon"
	"flowcam/internal/testutil/player"
)

// helperReport is the daemon's own CPU per frame for an exec: source
// writing raw I420 (pipe read, plane copy, encode, packetize, send), the
// helper's CPU left out.
type helperReport struct {
	msPerFrame float64
	frames     int
}

// measureHelper serves a 720p25 exec: I420 source (ffmpeg writing the
// test picture) to one viewer and reads the daemon's CPU, not ffmpeg's.
func measureHelper(t *testing.T, dir string) helperReport {
	t.Helper()
	bin, err := daemon.Binary(dir)
	if err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(dir, "helper.yaml")
	src := fmt.Sprintf("exec:ffmpeg -hide_banner -nostdin -loglevel error -re -f lavfi -i testsrc2=size=%dx%d:rate=%d -pix_fmt yuv420p -f rawvideo -",
		width, height, fps)
	body := fmt.Sprintf("source: %q\nsize: %dx%d\nfps: %d\nquality: %d\nexec:\n  format: i420\n", src, width, height, fps, quality)
	if err := os.WriteFile(conf, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	var ms []float64
	var r helperReport
	for i := 0; i < runs; i++ {
		cpu, n := serveForCPU(t, bin, func(d *daemon.Daemon) time.Duration { return mustCPU(t, d) }, "--config", conf)
		ms = append(ms, 1000*cpu.Seconds()/float64(n))
		r.frames = n
	}
	r.msPerFrame = median(ms)
	return r
}

// serveForCPU plays the daemon's stream to one viewer and returns the CPU
// that cpu reads (the daemon's own, or with its children) and the frames
// sent during the window.
func serveForCPU(t *testing.T, bin string, cpu func(*daemon.Daemon) time.Duration, args ...string) (time.Duration, int) {
	d, err := daemon.Start(bin, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Stop()
	var frames atomic.Int64 // counted on the player's goroutine
	c, err := player.Play(d.URL("/cam"), gortsplib.TransportTCP, func(p *rtp.Packet) {
		if p.Marker {
			frames.Add(1)
		}
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	time.Sleep(warmUp) // the measured window starts after start-up; pacing, not synchronisation
	c0, f0 := cpu(d), frames.Load()
	time.Sleep(fileWindow) // the measured window
	c1, f1 := cpu(d), frames.Load()
	if f1 == f0 {
		t.Fatalf("no frames in %v:\n%s", fileWindow, daemon.Tail(d.Logs(), 10))
	}
	return c1 - c0, int(f1 - f0)
}

// table puts the helper's cost beside a camera's raw path (YUYV
// de-interleave plus encode, measured in-process above: there is no
// camera on this machine, so that row leaves out reading the driver's
// buffer and sending, which the helper row includes).
func (r helperReport) table(cam yuyvReport) string {
	tb := newTable(fmt.Sprintf("raw %dx%d source to JPEG q%d, our side only", width, height, quality), "ms/frame", "vs camera")
	tb.row("exec: I420 helper (pipe read + copy + encode + send)", f2(r.msPerFrame), fmt.Sprintf("%.2fx", r.msPerFrame/cam.encodeMs))
	tb.row("V4L2 YUYV camera (de-interleave + encode)", f2(cam.encodeMs), "1.00x")
	return tb.String() + fmt.Sprintf("(helper: daemon CPU over %v, %d frames; the helper process's own CPU is not counted)\n", fileWindow, r.frames)
}

// TestHelperCost runs only the helper measurement: make bench prints it
// in the report.
func TestHelperCost(t *testing.T) {
	if os.Getenv("FLOWCAM_BENCH") != "1" {
		t.Skip("set FLOWCAM_BENCH=1 to run benchmarks")
	}
	dir := t.TempDir()
	r := measureHelper(t, dir)
	frame := newFrame(t)
	measureEncode(t, dir, frame) // writes the frame tjbench reads
	cam := measureYUYV(t, dir, frame)
	fmt.Print("\n" + r.table(cam))
}
