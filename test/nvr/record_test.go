package nvr_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"flowcam/internal/testutil/daemon"
	"flowcam/internal/testutil/eventually"
	"flowcam/internal/testutil/need"
	"flowcam/internal/testutil/player"
)

// segments lists the recording directory's files, oldest first.
func segments(t *testing.T, dir string) []string {
	t.Helper()
	names, _ := filepath.Glob(filepath.Join(dir, "*.mkv"))
	mp4, _ := filepath.Glob(filepath.Join(dir, "*.mp4"))
	names = append(names, mp4...)
	sort.Strings(names)
	return names
}

// packetTimes lists a file's video packet times in seconds, as ffprobe
// reads them.
func packetTimes(t *testing.T, path string) []float64 {
	t.Helper()
	out, err := exec.Command("ffprobe", "-v", "error", "-select_streams", "v", "-show_packets",
		"-show_entries", "packet=pts_time", "-of", "csv=p=0", path).CombinedOutput()
	if err != nil {
		t.Fatalf("ffprobe %s: %v\n%s", path, err, out)
	}
	var v []float64
	for _, l := range strings.Fields(string(out)) {
		if f, err := strconv.ParseFloat(strings.Split(l, ",")[0], 64); err == nil {
			v = append(v, f)
		}
	}
	return v
}

// TestRecordSegments: 60 s with 10 s segments makes six whole files that
// ffprobe reads with rising timestamps, while nobody watches a path whose
// source would otherwise stop (idle: stop); /recordings/ lists them and
// a segment downloads whole. MJPEG in Matroska, H.264 in MP4.
func TestRecordSegments(t *testing.T) {
	need.Tool(t, "ffprobe")
	for _, c := range []struct{ codec, config, format string }{
		{"mjpeg", sources[0].config, "mkv"},
		{"h264", sources[1].config, "mp4"},
	} {
		t.Run(c.codec, func(t *testing.T) {
			t.Parallel()
			root := t.TempDir()
			d := daemon.StartConfig(t, c.config+"idle: stop\nrecord:\n  enabled: true\n  segment: 10s\n  format: "+c.format+"\n  dir: "+root+"\n")
			dir := filepath.Join(root, "cam")
			if !eventually.Wait(2*time.Minute, func() bool { return len(segments(t, dir)) >= 7 }) {
				t.Fatalf("%d segments after two minutes:\n%s", len(segments(t, dir)), daemon.Tail(d.Logs(), 20))
			}
			files := segments(t, dir)[:6] // the seventh is being written
			for i, f := range files {
				pts := packetTimes(t, f)
				if len(pts) < 240 || len(pts) > 260 {
					t.Errorf("segment %d (%s): %d frames, want about 250", i, filepath.Base(f), len(pts))
				}
				for j := 1; j < len(pts); j++ {
					if pts[j] <= pts[j-1] {
						t.Fatalf("segment %d: time goes from %v to %v at frame %d", i, pts[j-1], pts[j], j)
					}
				}
			}
			var list struct{ Recordings []struct{ Name, URL string } }
			res, err := http.Get(d.HTTPURL("/recordings/?format=json"))
			if err != nil {
				t.Fatal(err)
			}
			json.NewDecoder(res.Body).Decode(&list)
			res.Body.Close()
			if len(list.Recordings) < 7 {
				t.Fatalf("/recordings/ lists %d segments", len(list.Recordings))
			}
			oldest := list.Recordings[len(list.Recordings)-1]
			res, err = http.Get(d.HTTPURL(oldest.URL))
			if err != nil {
				t.Fatal(err)
			}
			got, _ := io.ReadAll(res.Body)
			res.Body.Close()
			want, _ := os.ReadFile(files[0])
			if res.StatusCode != 200 || oldest.Name != filepath.Base(files[0]) || string(got) != string(want) {
				t.Errorf("downloading %s: %s, %d of %d bytes", oldest.URL, res.Status, len(got), len(want))
			}
		})
	}
}

// TestRecordRetention: with keep_bytes the oldest segments go and the
// total stays near the limit.
func TestRecordRetention(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	d := daemon.StartConfig(t, sources[0].config+"record:\n  enabled: true\n  segment: 1s\n  keep_bytes: 600K\n  dir: "+root+"\n")
	dir := filepath.Join(root, "cam")
	var first string
	if !eventually.Wait(time.Minute, func() bool {
		s := segments(t, dir)
		if len(s) > 0 && first == "" {
			first = s[0]
		}
		return first != "" && len(s) > 0 && s[0] != first
	}) {
		t.Fatalf("the oldest segment was never deleted:\n%s", daemon.Tail(d.Logs(), 20))
	}
	var total int64
	s := segments(t, dir)
	for _, f := range s[:len(s)-1] { // the one being written may not count yet
		if st, err := os.Stat(f); err == nil {
			total += st.Size()
		}
	}
	if total > 600<<10 {
		t.Errorf("%d segments take %d bytes, over keep_bytes 600K", len(s)-1, total)
	}
}

// TestRecordDiskFull: a tmpfs that fills stops the recording with a log
// line and a flag on the status page and /metrics, while an RTSP viewer
// keeps playing.
func TestRecordDiskFull(t *testing.T) {
	need.Root(t, "mounting a small tmpfs")
	need.Tool(t, "ffmpeg")
	t.Parallel()
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=512k", "tmpfs", dir).CombinedOutput(); err != nil {
		t.Fatalf("mount tmpfs: %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", "-l", dir).Run() })
	d := daemon.StartConfig(t, sources[0].config+"record:\n  enabled: true\n  dir: "+dir+"\n")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	played := make(chan int, 1)
	go func() {
		dec, _ := player.FFmpeg(ctx, d.URL("/cam"), "tcp", 250, "mjpeg", "320x240")
		played <- dec.Frames
	}()
	if err := d.WaitLog("recording stopped", time.Minute); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(d.Logs(), "no space left on device") {
		t.Errorf("the log does not say why:\n%s", daemon.Tail(d.Logs(), 10))
	}
	var st struct {
		Paths []struct{ Recording struct{ Problem string } }
	}
	res, err := http.Get(d.HTTPURL("/status.json"))
	if err != nil {
		t.Fatal(err)
	}
	json.NewDecoder(res.Body).Decode(&st)
	res.Body.Close()
	if !strings.Contains(st.Paths[0].Recording.Problem, "no space") {
		t.Errorf("the status page says %+v", st.Paths[0].Recording)
	}
	if v, err := d.Metric(`flowcam_recording_up{path="/cam"}`); err != nil || v != 0 {
		t.Errorf("flowcam_recording_up: %v %v", v, err)
	}
	if n := <-played; n != 250 {
		t.Errorf("the RTSP viewer played %d of 250 frames", n)
	}
	files := segments(t, filepath.Join(dir, "cam"))
	if len(files) != 1 || len(packetTimes(t, files[0])) == 0 {
		t.Errorf("the recording before the disk filled: %v", files)
	}
}
