package child

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"flowcam/capture"
)

var small = capture.Size{Width: 16, Height: 16}

func newSourceT(t *testing.T, cfg Config) *Source {
	t.Helper()
	if cfg.Size == (capture.Size{}) {
		cfg.Size = small
	}
	if cfg.Watchdog == 0 {
		cfg.Watchdog = 300 * time.Millisecond
	}
	cfg.NoSignalEvery = 50 * time.Millisecond
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// next returns the source's next frame, failing the test after a minute
// (a hang, never a verdict on speed).
func next(t *testing.T, s *Source) *capture.Frame {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	f, err := s.Next(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// picture is the source's next helper frame, passing over "no signal"
// cards (sent while a helper starts).
func picture(t *testing.T, s *Source) *capture.Frame {
	t.Helper()
	for {
		n := s.Stats().NoSignal
		f := next(t, s)
		if s.Stats().NoSignal == n {
			return f
		}
		f.Release()
	}
}

// isCard reports whether f is a "no signal" card rather than a picture
// from an MJPEG helper (cards are raw, to be encoded).
func isCard(f *capture.Frame) bool { return f.Image != nil && len(f.JPEG) == 0 }

// TestRawFramesWithPaddedRows: rows stride bytes apart give the picture
// and never the padding. Only the newest frame waits for Next, so frames
// may be skipped, never reordered or mixed.
func TestRawFramesWithPaddedRows(t *testing.T) {
	size := capture.Size{Width: 24, Height: 8}
	s := newSourceT(t, Config{Command: helperCommand(t, "raw", "24", "8", "64", "3"), Format: I420, Size: size, Stride: 64})
	for k := -1; k < 2; {
		f := picture(t, s)
		img := f.Image
		got := int(img.Y[0])
		for r := 0; r < size.Height; r++ {
			row := img.Y[r*img.YStride : r*img.YStride+size.Width]
			if !bytes.Equal(row, bytes.Repeat([]byte{byte(r + got)}, size.Width)) {
				t.Fatalf("frame %d row %d: % x (padding taken for picture?)", got, r, row)
			}
		}
		if got <= k || img.Cb[0] != 128 || img.Cr[0] != 128 {
			t.Fatalf("frame %d after %d, chroma %d %d", got, k, img.Cb[0], img.Cr[0])
		}
		k = got
		f.Release()
	}
}

func TestMJPEGPassesThrough(t *testing.T) {
	s := newSourceT(t, Config{Command: helperCommand(t, "mjpeg", "4"), Format: MJPEG})
	var last time.Duration = -1
	for i := 0; i < 4; i++ {
		f := picture(t, s)
		for !bytes.Equal(f.JPEG, testJPEG(i)) && i < 3 { // skipped for a newer one
			i++
		}
		if !bytes.Equal(f.JPEG, testJPEG(i)) || f.PTS <= last {
			t.Fatalf("picture %d: %d bytes, pts %v after %v", i, len(f.JPEG), f.PTS, last)
		}
		last = f.PTS
		f.Release()
	}
}

func TestFramesOnFD3(t *testing.T) {
	s := newSourceT(t, Config{Command: helperCommand(t, "fd3", "2"), Format: MJPEG, FrameFD: 3})
	if f := picture(t, s); !bytes.Equal(f.JPEG, testJPEG(0)) && !bytes.Equal(f.JPEG, testJPEG(1)) {
		t.Fatal("the picture differs: the helper's stdout text got into the frames?")
	}
}

// TestFailuresRestart: every way a helper can fail gives "no signal"
// cards, then a restart, and frames again in the same source.
func TestFailuresRestart(t *testing.T) {
	for _, c := range []struct {
		mode string
		args []string
		max  int
	}{
		{"die", []string{"2"}, 0},
		{"stall", []string{"2"}, 0},
		{"garbage", nil, 0},
		{"oversize", nil, 64 << 10},
	} {
		t.Run(c.mode, func(t *testing.T) {
			s := newSourceT(t, Config{Command: helperCommand(t, c.mode, c.args...), Format: MJPEG, MaxFrame: c.max,
				StartTimeout: 300 * time.Millisecond})
			cards, frames := 0, 0
			for s.Stats().Restarts < 2 || cards == 0 {
				f := next(t, s)
				if isCard(f) {
					cards++
				} else {
					frames++
				}
				f.Release()
			}
			wantFrames := c.mode == "die" || c.mode == "stall"
			if st := s.Stats(); wantFrames && frames < 4 || st.NoSignal == 0 {
				t.Fatalf("%d frames, %d cards, %+v", frames, cards, st)
			}
		})
	}
}

func TestQuickExitsAreReported(t *testing.T) {
	s := newSourceT(t, Config{Command: helperCommand(t, "fail"), Format: MJPEG})
	starts := time.Now()
	for s.Problem() == "" {
		next(t, s).Release()
	}
	p := s.Problem()
	if !strings.Contains(p, "no cameras available") || !strings.Contains(p, "3 times in a row") {
		t.Fatalf("problem %q", p)
	}
	// Backoff, not a tight loop: three failures take at least the first
	// two waits (250 ms, 500 ms). A lower bound only: a busy machine is slower.
	if time.Since(starts) < 750*time.Millisecond {
		t.Fatalf("three restarts in %v", time.Since(starts))
	}
}

func TestMissingProgram(t *testing.T) {
	_, err := New(Config{Command: []string{"flowcam-no-such-helper"}, Format: MJPEG, Size: small})
	if !errors.Is(err, ErrNotInstalled) || !strings.Contains(err.Error(), "flowcam-no-such-helper") {
		t.Fatalf("err %v", err)
	}
}

func TestBadConfig(t *testing.T) {
	for _, cfg := range []Config{
		{Format: MJPEG, Size: small},
		{Command: []string{"true"}, Size: small},
		{Command: []string{"true"}, Format: I420, Size: small, Stride: 8},
		{Command: []string{"true"}, Format: MJPEG, Size: small, FrameFD: 2},
		{Command: []string{"true"}, Format: MJPEG, Size: capture.Size{Width: 10, Height: 10}},
	} {
		if _, err := New(cfg); err == nil {
			t.Errorf("%+v accepted", cfg)
		}
	}
}

// TestRestartsLeaveNothingBehind: after many restarts the process has the
// file descriptors it had, and no helper is left unreaped.
func TestRestartsLeaveNothingBehind(t *testing.T) {
	fds := openFDs(t)
	s := newSourceT(t, Config{Command: helperCommand(t, "slowdie", "11"), Format: MJPEG})
	for s.Stats().Restarts < 10 {
		next(t, s).Release()
	}
	s.Close()
	if z := zombies(t); len(z) > 0 {
		t.Fatalf("unreaped helpers: %v", z)
	}
	if got := openFDs(t); got > fds {
		t.Fatalf("%d descriptors open after 10 restarts, %d before", got, fds)
	}
}

func openFDs(t *testing.T) int {
	es, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip("no /proc")
	}
	return len(es)
}

// zombies lists children of this process that exited and were not reaped.
func zombies(t *testing.T) []string {
	var out []string
	dirs, _ := filepath.Glob("/proc/[0-9]*/stat")
	me := strconv.Itoa(os.Getpid())
	for _, d := range dirs {
		b, err := os.ReadFile(d)
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...
		f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
		if len(f) > 1 && f[0] == "Z" && f[1] == me {
			out = append(out, d)
		}
	}
	return out
}

// TestPaced feeds arrival times to the MaxFPS filter: a helper faster than
// asked is thinned to the asked rate, one at the asked rate keeps every
// frame despite jitter, and a stall does not let a burst through after it.
func TestPaced(t *testing.T) {
	ms := func(v ...int) []time.Duration {
		out := make([]time.Duration, len(v))
		for i, x := range v {
			out[i] = time.Duration(x) * time.Millisecond
		}
		return out
	}
	every := func(step, n int) []time.Duration {
		var out []time.Duration
		for i := range n {
			out = append(out, time.Duration(i*step)*time.Millisecond)
		}
		return out
	}
	cases := []struct {
		name     string
		fps      float64
		arrivals []time.Duration
		want     int
		slack    int // the thinned rate may land one frame either side
	}{
		{"no limit keeps all", 0, every(10, 100), 100, 0},
		{"26 fps thinned to 10", 10, every(38, 263), 100, 1},                           // 10 s
		{"25 fps at 25 with jitter", 25, ms(0, 45, 79, 121, 165, 199, 243, 280), 8, 0}, // ±5 ms
		{"a burst after a stall", 10, ms(0, 100, 1000, 1001, 1002, 1003, 1100), 4, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := &Source{cfg: Config{MaxFPS: c.fps}}
			base := time.Unix(1000, 0)
			kept := 0
			for _, a := range c.arrivals {
				if s.paced(base.Add(a)) {
					kept++
				}
			}
			if kept < c.want-c.slack || kept > c.want+c.slack {
				t.Fatalf("kept %d of %d frames, want %d±%d", kept, len(c.arrivals), c.want, c.slack)
			}
		})
	}
}
