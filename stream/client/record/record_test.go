package record

import (
	"bytes"
	"errors"
	"image"
	"image/color"
	"image/jpeg"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"flowcam/internal/testutil/need"
	"flowcam/stream/client/playout"
	"flowcam/stream/client/rtspclient"
)

// jpegFrames makes n distinct small JPEG frames, 25 a second on the RTP
// clock from start.
func jpegFrames(t *testing.T, n int, start uint32) []*playout.Frame {
	t.Helper()
	out := make([]*playout.Frame, n)
	for i := range out {
		img := image.NewGray(image.Rect(0, 0, 64, 48))
		for p := range img.Pix {
			img.Pix[p] = uint8(i * 5)
		}
		img.Set(i%64, 0, color.White)
		var b bytes.Buffer
		if err := jpeg.Encode(&b, img, nil); err != nil {
			t.Fatal(err)
		}
		out[i] = &playout.Frame{Timestamp: start + uint32(i*3600), Data: b.Bytes(), Key: true}
	}
	return out
}

// probeFrames returns the presentation times ffprobe gives a file's frames.
func probeFrames(t *testing.T, path string) []float64 {
	t.Helper()
	out, err := exec.Command("ffprobe", "-v", "error", "-select_streams", "v", "-show_frames",
		"-show_entries", "frame=pts_time", "-of", "csv=p=0", path).CombinedOutput()
	if err != nil {
		t.Fatalf("ffprobe %s: %v\n%s", path, err, out)
	}
	var pts []float64
	for _, l := range strings.Fields(string(out)) {
		v, err := strconv.ParseFloat(strings.TrimSuffix(l, ","), 64)
		if err != nil {
			t.Fatalf("ffprobe %s: %q", path, l)
		}
		pts = append(pts, v)
	}
	return pts
}

// TestRecordMJPEG: both containers keep every frame at its RTP time, from
// 0, across the RTP clock's wrap.
func TestRecordMJPEG(t *testing.T) {
	need.Tool(t, "ffprobe")
	for _, name := range []string{"clip.mkv", "clip.mp4"} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), name)
			r, err := New(Options{Path: path})
			if err != nil {
				t.Fatal(err)
			}
			for _, f := range jpegFrames(t, 60, 0xffffffff-3600*10) {
				r.WriteFrame(f)
			}
			if err := r.Close(); err != nil || r.Problem() != "" {
				t.Fatalf("close: %v %q", err, r.Problem())
			}
			pts := probeFrames(t, path)
			if len(pts) != 60 {
				t.Fatalf("%d frames, want 60", len(pts))
			}
			for i, p := range pts {
				if d := p - float64(i)*0.04; d > 0.0015 || d < -0.0015 {
					t.Fatalf("frame %d at %.4f s, want %.2f", i, p, float64(i)*0.04)
				}
			}
		})
	}
}

// TestSegments: a new file every second of stream time, named by the wall
// clock; --keep-bytes leaves the newest that fit with the open one.
func TestSegments(t *testing.T) {
	need.Tool(t, "ffprobe")
	dir := t.TempDir()
	now := time.Date(2026, 12, 4, 10, 0, 0, 0, time.Local)
	r, err := New(Options{Path: filepath.Join(dir, "cam.mp4"), Segment: time.Second,
		Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	for i, f := range jpegFrames(t, 100, 1000) {
		now = now.Add(40 * time.Millisecond)
		if i%25 == 0 {
			now = now.Add(time.Second) // names a second apart whatever the clock's pace
		}
		r.WriteFrame(f)
	}
	r.Close()
	names, _ := filepath.Glob(filepath.Join(dir, "*"))
	if len(names) != 4 || filepath.Base(names[0]) != "cam-20261204-100001.mp4" {
		t.Fatalf("segments %v", names)
	}
	for _, n := range names {
		if k := len(probeFrames(t, n)); k != 25 {
			t.Errorf("%s: %d frames, want 25", n, k)
		}
	}
	st, _ := os.Stat(names[0])
	r, _ = New(Options{Path: filepath.Join(dir, "cam.mp4"), Segment: time.Second, KeepBytes: 2*st.Size() + st.Size()/2,
		Now: func() time.Time { return now.Add(time.Hour) }})
	r.WriteFrame(jpegFrames(t, 1, 0)[0]) // opens a fifth file, then prunes
	r.Close()
	left, _ := filepath.Glob(filepath.Join(dir, "*"))
	if len(left) != 3 || left[0] != names[2] || left[1] != names[3] {
		t.Fatalf("after pruning to 2.5 segments' size: %v", left)
	}
}

// TestKeepAge: segments older than --keep go when a new one opens.
func TestKeepAge(t *testing.T) {
	dir := t.TempDir()
	old := filepath.Join(dir, "cam-20261201-000000.mkv")
	recent := filepath.Join(dir, "cam-20261204-090000.mkv")
	other := filepath.Join(dir, "notes.txt")
	now := time.Date(2026, 12, 4, 10, 0, 0, 0, time.Local)
	for _, f := range []struct {
		name string
		mod  time.Time
	}{{old, now.Add(-72 * time.Hour)}, {recent, now.Add(-time.Hour)}, {other, now.Add(-72 * time.Hour)}} {
		os.WriteFile(f.name, []byte("x"), 0o644)
		os.Chtimes(f.name, f.mod, f.mod)
	}
	r, err := New(Options{Path: filepath.Join(dir, "cam.mkv"), Segment: time.Minute, Keep: 24 * time.Hour,
		Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	r.WriteFrame(jpegFrames(t, 1, 0)[0])
	r.Close()
	for name, want := range map[string]bool{old: false, recent: true, other: true} {
		if _, err := os.Stat(name); (err == nil) != want {
			t.Errorf("%s: exists %v, want %v", filepath.Base(name), err == nil, want)
		}
	}
}

func TestOptionsRefused(t *testing.T) {
	dir := t.TempDir()
	for _, o := range []Options{
		{Path: filepath.Join(dir, "clip.avi")},
		{Path: filepath.Join(dir, "clip.mkv"), Keep: time.Hour},
		{Path: filepath.Join(dir, "clip.mkv"), Segment: -time.Second},
		{Path: filepath.Join(dir, "nowhere", "clip.mkv")},
	} {
		if _, err := New(o); !errors.Is(err, ErrOptions) {
			t.Errorf("%+v: %v", o, err)
		}
	}
}

func TestNamePattern(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.Local)
	if got := expand("/rec/cam-%Y%m%d-%H%M%S-100%%.mkv", at); got != "/rec/cam-20260102-030405-100%.mkv" {
		t.Errorf("expand: %s", got)
	}
	if got := glob("/rec/[x]cam-%Y%m%d-%H%M%S.mkv"); got != `/rec/\[x]cam-***-***.mkv` {
		t.Errorf("glob: %s", got)
	}
}

// FuzzRecorder: whatever a frame holds, the recorder skips it or stops
// with a reason; it never panics.
func FuzzRecorder(f *testing.F) {
	f.Add([]byte{0xff, 0xd8, 0xff, 0xd9}, true)
	f.Add([]byte{0, 0, 0, 1, 0x67, 0x42, 0, 0x1e, 0, 0, 0, 1, 0x68, 0xce, 0, 0, 0, 1, 0x65, 0x88}, true)
	f.Add([]byte{0, 0, 1, 0x09, 0xf0}, false)
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte, key bool) {
		for _, name := range []string{"f.mkv", "f.mp4"} {
			r, err := New(Options{Path: filepath.Join(dir, name)})
			if err != nil {
				t.Fatal(err)
			}
			r.WriteFrame(&playout.Frame{Data: data, Key: true})
			r.WriteFrame(&playout.Frame{Data: data, Key: key, Timestamp: 3600})
			r.Close()
		}
	})
}

// TestSegmentNamesNeverCollide: segments that start within the second
// their names tell get -1, -2 rather than overwrite each other.
func TestSegmentNamesNeverCollide(t *testing.T) {
	dir := t.TempDir()
	now := time.Date(2026, 12, 4, 10, 0, 0, 0, time.Local)
	r, err := New(Options{Path: filepath.Join(dir, "cam.mkv"), Segment: time.Second, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range jpegFrames(t, 75, 0) { // three seconds of stream time, all in one second of wall time
		r.WriteFrame(f)
	}
	r.Close()
	names, _ := filepath.Glob(filepath.Join(dir, "*"))
	want := []string{"cam-20261204-100000-1.mkv", "cam-20261204-100000-2.mkv", "cam-20261204-100000.mkv"}
	if len(names) != 3 {
		t.Fatalf("segments %v, want %v", names, want)
	}
	for i, n := range names {
		if filepath.Base(n) != want[i] {
			t.Errorf("segment %d is %s, want %s", i, filepath.Base(n), want[i])
		}
	}
}

// TestParameterSetsFromTheDescription: a server that gives the SPS and
// PPS only in its description (sprop-parameter-sets) still gets recorded.
func TestParameterSetsFromTheDescription(t *testing.T) {
	need.Tool(t, "ffmpeg")
	need.Tool(t, "ffprobe")
	raw := filepath.Join(t.TempDir(), "idr.h264")
	if out, err := exec.Command("ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=64x48:rate=25", "-frames:v", "10",
		"-c:v", "libx264", "-g", "5", "-bf", "0", "-f", "h264", raw).CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	b, _ := os.ReadFile(raw)
	var sps, pps []byte
	var frames [][]byte // access units without their parameter sets
	for _, n := range bytes.Split(b, []byte{0, 0, 1}) {
		n = bytes.TrimSuffix(n, []byte{0})
		switch {
		case len(n) == 0:
		case n[0]&0x1f == 7:
			sps = n
		case n[0]&0x1f == 8:
			pps = n
		case n[0]&0x1f == 1 || n[0]&0x1f == 5:
			frames = append(frames, append([]byte{0, 0, 0, 1}, n...))
		}
	}
	path := filepath.Join(t.TempDir(), "clip.mp4")
	r, err := New(Options{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	r.Describe(&rtspclient.Description{Codec: "h264", SPS: sps, PPS: pps})
	for i, au := range frames {
		r.WriteFrame(&playout.Frame{Timestamp: uint32(i * 3600), Data: au, Key: au[4]&0x1f == 5})
	}
	if err := r.Close(); err != nil || r.Problem() != "" {
		t.Fatalf("close: %v %q", err, r.Problem())
	}
	if n := len(probeFrames(t, path)); n != len(frames) {
		t.Fatalf("%d frames recorded of %d", n, len(frames))
	}
}
