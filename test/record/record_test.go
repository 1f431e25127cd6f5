// Package record_test pulls from the real daemon into Matroska and
// fragmented MP4 recordings and checks them with ffprobe and ffmpeg: every
// frame the pull played, at monotonic times, seeking to the right frame, a
// file cut by SIGKILL or a full disk still playing, segments rotating.
package record_test

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"

	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"flowcam/internal/testutil/browser"
	"flowcam/internal/testutil/daemon"
	"flowcam/internal/testutil/eventually"
	"flowcam/internal/testutil/need"
)

type sources struct {
	mjpeg, h264 *daemon.Daemon
	client      string
}

// start serves the test pattern as MJPEG and, as H.264, a 40 s file
// x264 made with its default B-frames (three, as a pyramid) and a key
// frame every two seconds: frames are sent in an order other than they
// show, and a file gives the times they show.
func start(t *testing.T) sources {
	t.Helper()
	need.Tool(t, "ffmpeg")
	need.Tool(t, "ffprobe")
	need.Tool(t, "gst-launch-1.0")
	client, err := daemon.ClientBinary(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	clip := filepath.Join(t.TempDir(), "bframes.mp4")
	if out, err := exec.Command("ffmpeg", "-hide_banner", "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25",
		"-t", "40", "-c:v", "libx264", "-preset", "ultrafast", "-bf", "3", "-g", "50", "-pix_fmt", "yuv420p", clip).CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	return sources{
		mjpeg:  daemon.StartConfig(t, "size: 320x240\nfps: 25\nsource: pattern\n", "--http-addr", ""),
		h264:   daemon.StartConfig(t, fmt.Sprintf("source: %q\nloop: true\n", clip), "--http-addr", ""),
		client: client,
	}
}

func (s sources) url(codec string) string {
	if codec == "h264" {
		return s.h264.URL("/cam")
	}
	return s.mjpeg.URL("/cam")
}

// report is what the tests read of flowcam's --stats-json.
type report struct {
	Complete   int `json:"frames_complete"`
	HeldForKey int `json:"held_for_key_frame"`
}

// pull runs flowcam pull to completion and returns its report.
func (s sources) pull(t *testing.T, args ...string) (report, string) {
	t.Helper()
	stats := filepath.Join(t.TempDir(), "stats.json")
	out, err := exec.Command(s.client, append(append([]string{"pull"}, args...), "--stats-json", stats, "--log-level", "info")...).CombinedOutput()
	if err != nil {
		t.Fatalf("flowcam pull: %v\n%s", err, out)
	}
	var r report
	b, err := os.ReadFile(stats)
	if err != nil || json.Unmarshal(b, &r) != nil {
		t.Fatalf("report: %v\n%s", err, b)
	}
	return r, string(out)
}

// ffprobeTimes lists a file's frames' presentation times (as decoded)
// and its packets' decoding times (as stored).
func ffprobeTimes(t *testing.T, path string) (pts, dts []float64) {
	t.Helper()
	return numbers(t, path, "frame=pts_time", "-show_frames"), numbers(t, path, "packet=dts_time", "-show_packets")
}

func numbers(t *testing.T, path, entries, show string) []float64 {
	t.Helper()
	out, err := exec.Command("ffprobe", "-v", "error", "-select_streams", "v", show, "-show_entries", entries,
		"-of", "csv=p=0", path).CombinedOutput()
	if err != nil {
		t.Fatalf("ffprobe %s: %v\n%s", path, err, out)
	}
	// One line per frame or packet; side data (an SEI message) follows on
	// the line, and a time ffprobe cannot tell (the DTS of the first
	// frames before a B-frame) is N/A and left out.
	var v []float64
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if f, err := strconv.ParseFloat(strings.Split(l, ",")[0], 64); err == nil {
			v = append(v, f)
		}
	}
	return v
}

// decodeClean decodes the whole file and fails on any complaint.
func decodeClean(t *testing.T, path string) {
	t.Helper()
	out, err := exec.Command("ffmpeg", "-hide_banner", "-nostdin", "-v", "error", "-i", path, "-f", "null", "-").CombinedOutput()
	if err != nil || len(strings.TrimSpace(string(out))) > 0 {
		t.Fatalf("ffmpeg decoding %s: %v\n%s", path, err, out)
	}
}

// frameMD5s decodes a file (from at, when at is not "") and returns the
// MD5 of each picture.
func frameMD5s(t *testing.T, path, at string, frames int) []string {
	t.Helper()
	args := []string{"-hide_banner", "-nostdin", "-v", "error"}
	if at != "" {
		args = append(args, "-ss", at)
	}
	args = append(args, "-i", path)
	if frames > 0 {
		args = append(args, "-frames:v", strconv.Itoa(frames))
	}
	out, err := exec.Command("ffmpeg", append(args, "-f", "framemd5", "-")...).CombinedOutput()
	if err != nil {
		t.Fatalf("ffmpeg framemd5 %s: %v\n%s", path, err, out)
	}
	var sums []string
	for _, l := range strings.Split(string(out), "\n") {
		if f := strings.Split(l, ","); len(f) == 6 && !strings.HasPrefix(l, "#") {
			sums = append(sums, strings.TrimSpace(f[5]))
		}
	}
	return sums
}

// TestRecordings: 30 s of MJPEG and of H.264 with B-frames into each
// container hold every frame the pull played, at rising times, decode
// without a complaint in ffmpeg and GStreamer, and seeking to 15 s lands
// on the frame shown at 15 s.
func TestRecordings(t *testing.T) {
	s := start(t)
	for _, codec := range []string{"mjpeg", "h264"} {
		for _, ext := range []string{"mkv", "mp4"} {
			t.Run(codec+" in "+ext, func(t *testing.T) {
				t.Parallel()
				path := filepath.Join(t.TempDir(), "clip."+ext)
				rep, log := s.pull(t, s.url(codec), "--duration", "30s", "-o", path)
				pts, dts := ffprobeTimes(t, path)
				if want := rep.Complete - rep.HeldForKey; len(pts) != want || want < 700 {
					t.Fatalf("%d frames in the file, the pull played %d (of 750 in 30 s)\n%s", len(pts), want, log)
				}
				for i := 1; i < len(pts); i++ {
					if pts[i] <= pts[i-1] {
						t.Fatalf("frame %d shows at %.3f s, after %.3f s", i, pts[i], pts[i-1])
					}
				}
				for i := 1; i < len(dts); i++ {
					if dts[i] < dts[i-1] {
						t.Fatalf("packet %d decodes at %.3f s, after %.3f s", i, dts[i], dts[i-1])
					}
				}
				decodeClean(t, path)
				checkSeek(t, path, pts, 15)
				if out, err := exec.Command("gst-launch-1.0", "-q", "filesrc", "location="+path, "!", "decodebin", "!", "fakesink").CombinedOutput(); err != nil {
					t.Fatalf("GStreamer does not play it: %v\n%s", err, out)
				}
				t.Logf("%d frames, %.2f s to %.2f s", len(pts), pts[0], pts[len(pts)-1])
			})
		}
	}
}

// checkSeek: ffmpeg -ss at shows first the frame a full decode shows at
// the first time from at.
func checkSeek(t *testing.T, path string, pts []float64, at float64) {
	t.Helper()
	all := frameMD5s(t, path, "", 0)
	want := -1
	for i, p := range pts {
		if p >= at-0.0005 {
			want = i
			break
		}
	}
	got := frameMD5s(t, path, strconv.FormatFloat(at, 'f', 3, 64), 1)
	if want < 0 || len(got) != 1 || len(all) != len(pts) {
		t.Fatalf("seek to %v s: frame %d of %d, %d decoded", at, want, len(all), len(got))
	}
	if got[0] != all[want] {
		for i, sum := range all {
			if sum == got[0] {
				t.Fatalf("seeking to %v s shows frame %d (%.3f s), want frame %d (%.3f s)", at, i, pts[i], want, pts[want])
			}
		}
		t.Fatalf("seeking to %v s shows a picture no full decode shows", at)
	}
}

// TestKilledMidFile: a pull killed with SIGKILL leaves a file that plays
// without a complaint up to its last whole fragment or cluster.
func TestKilledMidFile(t *testing.T) {
	s := start(t)
	for _, c := range []struct{ codec, ext string }{{"mjpeg", "mkv"}, {"h264", "mp4"}, {"h264", "mkv"}, {"mjpeg", "mp4"}} {
		t.Run(c.codec+" in "+c.ext, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "clip."+c.ext)
			cmd := exec.Command(s.client, "pull", s.url(c.codec), "-o", path)
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			defer cmd.Wait()
			defer cmd.Process.Kill()
			// Some fragments in, and one under way: the file grows past
			// what three seconds of the stream take.
			var grown int64
			eventually.Require(t, time.Minute, func() bool {
				st, err := os.Stat(path)
				if err == nil && st.Size() > 0 && grown == 0 {
					grown = st.Size() // the header
				}
				return err == nil && grown > 0 && st.Size() > grown*20
			}, "the recording does not grow")
			time.Sleep(1500 * time.Millisecond) // into a fragment: a kill at a random point of it
			cmd.Process.Signal(syscall.SIGKILL)
			cmd.Wait()
			decodeClean(t, path)
			pts, _ := ffprobeTimes(t, path)
			if len(pts) < 25 {
				t.Fatalf("%d frames play after the kill", len(pts))
			}
			t.Logf("%d frames (%.2f s) play after SIGKILL", len(pts), pts[len(pts)-1])
		})
	}
}

// TestSegments: --segment starts a file every two seconds at a key frame,
// named by its start; together they hold every frame the pull played.
func TestSegments(t *testing.T) {
	s := start(t)
	for _, codec := range []string{"mjpeg", "h264"} {
		t.Run(codec, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			rep, log := s.pull(t, s.url(codec), "--duration", "7s", "--segment", "2s", "-o", filepath.Join(dir, "cam.mkv"))
			names, _ := filepath.Glob(filepath.Join(dir, "cam-*.mkv"))
			if len(names) < 3 {
				t.Fatalf("%d segments in 7 s: %v\n%s", len(names), names, log)
			}
			total := 0
			for _, n := range names {
				if !regexp.MustCompile(`^cam-\d{8}-\d{6}\.mkv$`).MatchString(filepath.Base(n)) {
					t.Errorf("segment name %s", filepath.Base(n))
				}
				decodeClean(t, n)
				pts, _ := ffprobeTimes(t, n)
				if len(pts) == 0 || pts[0] != 0 {
					t.Errorf("%s: %d frames from %v s", filepath.Base(n), len(pts), pts)
				}
				total += len(pts)
			}
			if want := rep.Complete - rep.HeldForKey; total != want {
				t.Fatalf("%d frames in %d segments, the pull played %d", total, len(names), want)
			}
		})
	}
}

// TestDiskFull: when the disk fills, the recording stops with a clear
// log line, the live page says so, the file plays up to its last whole
// cluster, and the pull goes on to the end.
func TestDiskFull(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounting a small tmpfs needs root")
	}
	s := start(t)
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=512k", "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("mount tmpfs: %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", "-l", dir).Run() })
	path := filepath.Join(dir, "clip.mkv")
	page := "http://" + freeAddr(t) + "/stats.json"
	said := make(chan string, 1)
	go func() { // the live page says why the recording stopped
		var problem string
		eventually.Wait(time.Minute, func() bool {
			var st struct{ Problem string }
			if res, err := http.Get(page); err == nil {
				json.NewDecoder(res.Body).Decode(&st)
				res.Body.Close()
			}
			problem = st.Problem
			return problem != ""
		})
		said <- problem
	}()
	rep, log := s.pull(t, s.url("mjpeg"), "--duration", "8s", "-o", path, "--http-addr", strings.TrimSuffix(strings.TrimPrefix(page, "http://"), "/stats.json"))
	if !strings.Contains(log, "recording stopped") || !strings.Contains(log, "no space left on device") {
		t.Fatalf("no clear log line:\n%s", log)
	}
	if problem := <-said; !strings.Contains(problem, "no space left on device") {
		t.Errorf("the live page says %q", problem)
	}
	if rep.Complete < 175 {
		t.Fatalf("the pull played %d frames in 8 s: it did not go on", rep.Complete)
	}
	decodeClean(t, path)
	pts, _ := ffprobeTimes(t, path)
	if len(pts) == 0 || len(pts) >= rep.Complete {
		t.Fatalf("%d frames in the file of the %d played", len(pts), rep.Complete)
	}
	t.Logf("disk full after %d frames; the pull played %d", len(pts), rep.Complete)
}

func freeAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// videoState waits for the video's metadata, or seeks it to at and waits
// for the seek, and says what the browser has: size, duration, position,
// whether a picture is decoded, or the media error.
const videoState = `new Promise(done => {
  const v = document.querySelector("video");
  const report = () => done(JSON.stringify({w: v.videoWidth, h: v.videoHeight, duration: v.duration,
    at: v.currentTime, ready: v.readyState, error: v.error ? v.error.code + " " + v.error.message : ""}));
  v.onerror = report;
  if (%v < 0) { if (v.readyState >= 2) report(); else v.onloadeddata = report; return; }
  v.onseeked = () => setTimeout(report, 100);
  v.currentTime = %v;
})`

// TestRecordingInChromium: headless Chromium plays an H.264 recording in
// fragmented MP4 from a plain web server, knows its size and length, and
// seeks in it.
func TestRecordingInChromium(t *testing.T) {
	chromium, err := exec.LookPath("chromium")
	if err != nil {
		need.Skip(t, "chromium is not installed (apt-get install chromium)")
	}
	s := start(t)
	dir := t.TempDir()
	s.pull(t, s.url("h264"), "--duration", "20s", "-o", filepath.Join(dir, "clip.mp4"))
	os.WriteFile(filepath.Join(dir, "index.html"), []byte(`<video src="clip.mp4" muted preload="auto"></video>`), 0o644)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go http.Serve(ln, http.FileServer(http.Dir(dir)))
	defer ln.Close()
	ctx := browser.New(t, chromium)
	if err := chromedp.Run(ctx, chromedp.Navigate("http://"+ln.Addr().String()+"/")); err != nil {
		t.Fatal(err)
	}
	type state struct {
		W, H     int
		Duration float64
		At       float64
		Ready    int
		Error    string
	}
	get := func(at float64) state {
		var js string
		if err := chromedp.Run(ctx, chromedp.Evaluate(fmt.Sprintf(videoState, at, at), &js, func(p *runtime.EvaluateParams) *runtime.EvaluateParams {
			return p.WithAwaitPromise(true)
		})); err != nil {
			t.Fatal(err)
		}
		var st state
		json.Unmarshal([]byte(js), &st)
		return st
	}
	st := get(-1)
	if st.Error != "" || st.W != 320 || st.H != 240 || st.Duration < 19 || st.Ready < 2 {
		t.Fatalf("Chromium does not play the recording: %+v", st)
	}
	sought := get(12)
	if sought.Error != "" || sought.At < 11.9 || sought.At > 12.1 || sought.Ready < 2 {
		t.Fatalf("seeking to 12 s: %+v", sought)
	}
	t.Logf("Chromium: %dx%d, %.2f s long; seeking to 12 s shows %.3f s", st.W, st.H, st.Duration, sought.At)
}
