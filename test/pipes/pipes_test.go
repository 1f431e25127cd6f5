// Package pipes_test runs flowcamd on exec: sources, helpers that write
// video to a pipe (ffmpeg, gst-launch-1.0), in every format a helper may
// write, and plays the result with ffmpeg, GStreamer and gortsplib; then
// makes helpers fail every way they can and checks that sessions survive
// and nothing leaks.
package pipes_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image/jpeg"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v4"

	"flowcam/internal/testutil/daemon"
	"flowcam/internal/testutil/need"
	"flowcam/internal/testutil/player"
)

const (
	ffmpegIn = "ffmpeg -hide_banner -nostdin -loglevel error -re -f lavfi -i "
	size     = "320x240"
)

// start runs the daemon on one exec: source with the given config body.
func start(t *testing.T, source, extra string) *daemon.Daemon {
	t.Helper()
	body := fmt.Sprintf("size: %s\nfps: 25\nsource: %q\n%s", size, source, extra)
	return daemon.StartConfig(t, body, "--http-addr", "127.0.0.1:0")
}

// TestFormats: each format a helper may write plays in ffmpeg and
// GStreamer at the configured size; padded rows never reach the picture.
func TestFormats(t *testing.T) {
	need.Tool(t, "ffmpeg")
	need.Tool(t, "gst-launch-1.0")
	red := "color=c=red:size=" + size + ":rate=25"
	for _, c := range []struct {
		name, command, exec string
		passthrough, allRed bool
	}{
		{"mjpeg", ffmpegIn + "testsrc2=size=" + size + ":rate=25 -c:v mjpeg -q:v 5 -huffman default -f mjpeg -", "format: mjpeg", true, false},
		{"i420", ffmpegIn + "testsrc2=size=" + size + ":rate=25 -pix_fmt yuv420p -f rawvideo -", "format: i420", false, false},
		{"nv12", "gst-launch-1.0 -q videotestsrc is-live=true pattern=ball ! video/x-raw,format=NV12,width=320,height=240,framerate=25/1 ! fdsink fd=1", "format: nv12", false, false},
		{"yuyv", ffmpegIn + "testsrc2=size=" + size + ":rate=25 -pix_fmt yuyv422 -f rawvideo -", "format: yuyv", false, false},
		{"i420 with padded rows", ffmpegIn + red + " -vf pad=384:240:0:0:green -pix_fmt yuv420p -f rawvideo -", "format: i420\n  stride: 384", false, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			d := start(t, "exec:"+c.command, "exec:\n  "+c.exec+"\n")
			frames := watch(t, d, 25)
			pic, err := jpeg.Decode(bytes.NewReader(frames[len(frames)-1]))
			if err != nil || pic.Bounds().Dx() != 320 || pic.Bounds().Dy() != 240 {
				t.Fatalf("picture %v: %v", pic.Bounds(), err)
			}
			if c.allRed {
				for _, x := range []int{0, 160, 316, 319} {
					if r, g, _, _ := pic.At(x, 120).RGBA(); r < 0xA000 || g > 0x6000 {
						t.Fatalf("pixel %d,120 is not red (r %x g %x): the padding got into the picture", x, r, g)
					}
				}
			}
			if reencoded := strings.Contains(d.Logs(), "re-encoded"); c.passthrough && reencoded {
				t.Errorf("the helper's MJPEG was re-encoded:\n%s", daemon.Tail(d.Logs(), 10))
			}
			playFFmpeg(t, d)
			caps := "video/x-raw,width=320,height=240"
			if out, err := player.GStreamer(context.Background(), d.URL("/cam"), 25, caps); err != nil {
				t.Fatalf("GStreamer: %v\n%s", err, out)
			}
		})
	}
}

// watch collects n frames over TCP with gortsplib.
func watch(t *testing.T, d *daemon.Daemon, n int) [][]byte {
	t.Helper()
	frames, err := player.Frames(d.URL("/cam"), gortsplib.TransportTCP, n, time.Minute)
	if err != nil {
		t.Fatalf("%v\n%s", err, daemon.Tail(d.Logs(), 20))
	}
	return frames
}

func playFFmpeg(t *testing.T, d *daemon.Daemon) {
	t.Helper()
	out, err := exec.Command("ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-rtsp_transport", "tcp",
		"-i", d.URL("/cam"), "-frames:v", "25", "-f", "null", "-").CombinedOutput()
	if err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Fatalf("ffmpeg: %v\n%s", err, out)
	}
}

// pathStatus is a path's line of status.json.
type pathStatus struct {
	Path       string `json:"path"`
	Reconnects uint64 `json:"reconnects"`
	Alive      bool   `json:"alive"`
	Problem    string `json:"problem"`
}

func status(t *testing.T, d *daemon.Daemon) pathStatus {
	t.Helper()
	res, err := http.Get(d.HTTPURL("/status.json"))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var st struct {
		Paths []pathStatus `json:"paths"`
	}
	if err := json.NewDecoder(res.Body).Decode(&st); err != nil || len(st.Paths) != 1 {
		t.Fatalf("status.json: %+v %v", st, err)
	}
	return st.Paths[0]
}
