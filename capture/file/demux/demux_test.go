package demux

import (
	"bytes"
	"errors"
	"flowcam/internal/testutil/need"
	"fmt"
	"image/jpeg"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
)

// requireFFmpeg skips a test when ffmpeg is missing, except in CI.
func requireFFmpeg(t testing.TB) {
	t.Helper()
	need.Tool(t, "ffmpeg")
}

func ffmpeg(t testing.TB, args ...string) {
	t.Helper()
	args = append([]string{"-nostdin", "-hide_banner", "-loglevel", "error", "-y"}, args...)
	if out, err := exec.Command("ffmpeg", args...).CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// testsrc is 50 frames of 320x240 at 25 fps.
func testsrc(frames int) []string {
	return []string{"-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25", "-frames:v", fmt.Sprint(frames)}
}

// vfrArgs give frame n the time n·40 ms + (n² mod 7)·5 ms (give or take
// ffmpeg's rounding): irregular steps.
var vfrArgs = []string{"-vf", "settb=1/1000,setpts='(N*40+mod(N*N\\,7)*5)/1000/TB'",
	"-fps_mode", "passthrough", "-enc_time_base:v", "1:1000"}

// probePTS asks ffprobe for the presentation times of a file's video packets.
func probePTS(t testing.TB, path string) []time.Duration {
	t.Helper()
	out, err := exec.Command("ffprobe", "-v", "error", "-select_streams", "v:0",
		"-show_entries", "packet=pts_time", "-of", "csv=p=0", path).Output()
	if err != nil {
		t.Fatalf("ffprobe %s: %v", path, err)
	}
	var pts []time.Duration
	for _, f := range strings.Fields(string(out)) {
		d, err := time.ParseDuration(strings.TrimSuffix(f, ",") + "s")
		if err != nil {
			t.Fatalf("ffprobe said %q: %v", f, err)
		}
		pts = append(pts, d)
	}
	sort.Slice(pts, func(i, j int) bool { return pts[i] < pts[j] })
	return pts
}

// extract has ffmpeg copy a file's video packets out as JPEG files.
func extract(t testing.TB, path string) [][]byte {
	t.Helper()
	dir := t.TempDir()
	ffmpeg(t, "-i", path, "-map", "0:v:0", "-c:v", "copy", "-f", "image2", filepath.Join(dir, "frame%03d.jpg"))
	names, err := filepath.Glob(filepath.Join(dir, "frame*.jpg"))
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(names)
	var frames [][]byte
	for _, n := range names {
		b, err := os.ReadFile(n)
		if err != nil {
			t.Fatal(err)
		}
		frames = append(frames, b)
	}
	return frames
}

func TestMJPEGFiles(t *testing.T) {
	requireFFmpeg(t)
	mjpeg := []string{"-c:v", "mjpeg"}
	with := func(a ...[]string) []string {
		var all []string
		for _, x := range a {
			all = append(all, x...)
		}
		return all
	}
	for _, tc := range []struct {
		name      string
		args      []string // output options
		container string
		codec     string
		frames    int           // Info.Frames
		duration  time.Duration // Info.Duration
		vfr       bool
	}{
		{"a.mkv", mjpeg, "matroska", "V_MJPEG", 0, 2 * time.Second, false},
		{"a.avi", mjpeg, "avi", "MJPG", 50, 2 * time.Second, false},
		{"a.mp4", mjpeg, "mp4", "mp4v.6C", 50, 2 * time.Second, false},
		{"faststart.mp4", with(mjpeg, []string{"-movflags", "+faststart"}), "mp4", "mp4v.6C", 50, 2 * time.Second, false},
		{"fragmented.mp4", with(mjpeg, []string{"-movflags", "frag_keyframe+empty_moov+default_base_moof"}),
			"mp4", "mp4v.6C", 50, 2 * time.Second, false},
		{"a.mov", mjpeg, "mp4", "jpeg", 50, 2 * time.Second, false},
		{"mjpa.mov", with(mjpeg, []string{"-bsf:v", "mjpegadump", "-tag:v", "mjpa"}), "mp4", "mjpa", 50, 2 * time.Second, false},
		{"a.mjpeg", with(mjpeg, []string{"-f", "mjpeg"}), "mjpeg", "jpeg", 0, 0, false},
		{"vfr.mkv", with(vfrArgs, mjpeg), "matroska", "V_MJPEG", 0, 0, true},
		{"vfr.mp4", with(vfrArgs, mjpeg), "mp4", "mp4v.6C", 50, 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), tc.name)
			ffmpeg(t, with(testsrc(50), tc.args, []string{path})...)
			want := extract(t, path)
			if len(want) != 50 {
				t.Fatalf("ffmpeg extracted %d frames", len(want))
			}

			r, err := Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			info := r.Info()
			if info.Container != tc.container || info.Codec != tc.codec || info.Width != 320 || info.Height != 240 ||
				info.Frames != tc.frames || (!tc.vfr && info.Duration != tc.duration) {
				t.Errorf("Info() = %+v, want %s/%s 320x240, %d frames, %v", info, tc.container, tc.codec, tc.frames, tc.duration)
			}
			if !tc.vfr && (info.FPS < 24.99 || info.FPS > 25.01) {
				t.Errorf("Info().FPS = %v, want 25", info.FPS)
			}

			res := readAll(t, r)
			if res.err != nil || len(res.corrupt) > 0 {
				t.Fatalf("stream ended with %v after corrupt frames before %v", res.err, res.corrupt)
			}
			// Passthrough: the very bytes ffmpeg finds in the file.
			equalFrames(t, res.frames, want)
			for i, f := range res.frames {
				img, err := jpeg.Decode(bytes.NewReader(f))
				if err != nil {
					t.Fatalf("frame %d: %v", i, err)
				}
				if b := img.Bounds(); b.Dx() != 320 || b.Dy() != 240 {
					t.Fatalf("frame %d is %v", i, b)
				}
			}
			wantPTS := make([]time.Duration, 50)
			for i := range wantPTS {
				wantPTS[i] = time.Duration(i) * 40 * time.Millisecond
			}
			if tc.vfr {
				wantPTS = probePTS(t, path)
			}
			equalPTS(t, res.pts, wantPTS)
			if tc.vfr {
				steps := map[time.Duration]bool{}
				for i := 1; i < len(res.pts); i++ {
					steps[res.pts[i]-res.pts[i-1]] = true
				}
				if len(steps) < 3 {
					t.Errorf("variable frame rate file has steps %v", steps)
				}
			}

			// Rewind starts over, for looping.
			if err := r.Rewind(); err != nil {
				t.Fatal(err)
			}
			b, pts, err := r.Next()
			if err != nil || pts != 0 || !bytes.Equal(b, want[0]) {
				t.Fatalf("after Rewind: %d bytes at %v, %v; want the first frame", len(b), pts, err)
			}
			if again := readAll(t, r); len(again.frames) != 49 || again.err != nil {
				t.Fatalf("second pass: %d more frames, %v", len(again.frames), again.err)
			}
			if tc.vfr {
				return
			}

			// A copy cut at 60%: the frames before the cut, then ErrTruncated.
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			cut := filepath.Join(t.TempDir(), "cut-"+tc.name)
			if err := os.WriteFile(cut, data[:len(data)*6/10], 0o644); err != nil {
				t.Fatal(err)
			}
			rc, err := Open(cut)
			if err != nil {
				t.Fatal(err)
			}
			defer rc.Close()
			res = readAll(t, rc)
			if !errors.Is(res.err, ErrTruncated) {
				t.Fatalf("cut file ended with %v, want ErrTruncated", res.err)
			}
			if !strings.Contains(res.err.Error(), cut) {
				t.Errorf("error %q does not name the file", res.err)
			}
			n := len(res.frames)
			if n < 20 || n >= 50 {
				t.Fatalf("cut file gave %d frames", n)
			}
			equalFrames(t, res.frames, want[:n])
			equalPTS(t, res.pts, wantPTS[:n])
			t.Logf("cut at 60%%: %d frames, then %v", n, res.err)
		})
	}
}

func TestOtherFiles(t *testing.T) {
	requireFFmpeg(t)
	for _, tc := range []struct {
		name  string
		args  []string
		want  error
		codec string
	}{
		{"h264.avi", []string{"-c:v", "libx264"}, ErrNotMJPEG, "H264"},
		{"hevc.mp4", []string{"-c:v", "libx265"}, ErrNotMJPEG, "hev1"},
		{"hevc.mkv", []string{"-c:v", "libx265"}, ErrNotMJPEG, "V_MPEGH/ISO/HEVC"},
		{"vp9.webm", []string{"-c:v", "libvpx-vp9", "-deadline", "realtime"}, ErrNotMJPEG, "V_VP9"},
		{"mpeg4.mp4", []string{"-c:v", "mpeg4"}, ErrNotMJPEG, "mp4v.20"},
		{"mjpeg.ts", []string{"-c:v", "mjpeg"}, ErrUnknownFormat, ""},
		{"mpeg2.ts", []string{"-c:v", "mpeg2video"}, ErrUnknownFormat, ""},
		{"raw.h264", []string{"-c:v", "libx264"}, ErrUnknownFormat, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), tc.name)
			ffmpeg(t, append(append(testsrc(10), tc.args...), path)...)
			r, err := Open(path)
			if err == nil {
				r.Close()
			}
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), tc.codec) {
				t.Fatalf("Open: %v; want %v naming the file and %q", err, tc.want, tc.codec)
			}
		})
	}
}
