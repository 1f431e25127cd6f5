package v4l2_test

import (
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"flowcam/internal/testutil/need"
	"flowcam/internal/testutil/player"
	"flowcam/internal/testutil/vm"
)

// loopDev is where the test puts v4l2loopback's device in the guest.
const loopDev = "/dev/video42"

// TestH264CameraInAVM: a V4L2 camera with an H.264 encoder of its own (a
// v4l2loopback device that a guest program feeds x264's access units,
// since no virtual driver encodes H.264) lists H264 among its formats, is
// opened in H.264 for a path with codec: h264 although it offers nothing
// else a JPEG path could use, and its access units reach ffmpeg on the
// host as they came: decoded at the camera's size, none dropped.
func TestH264CameraInAVM(t *testing.T) {
	vm.Require(t)
	need.Tool(t, "ffmpeg")
	dir := t.TempDir()
	daemon, feeder, clip := filepath.Join(dir, "flowcamd"), filepath.Join(dir, "loopfeed"), filepath.Join(dir, "clip.h264")
	if err := vm.BuildStatic("./cmd/flowcamd", daemon); err != nil {
		t.Fatal(err)
	}
	buildPure(t, "./test/v4l2/loopfeed", feeder)
	x264 := exec.Command("ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-f", "lavfi", "-i", "testsrc2=size=640x480:rate=25",
		"-frames:v", "50", "-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency", "-g", "25", "-bf", "0",
		"-x264-params", "aud=1", "-pix_fmt", "yuv420p", "-f", "h264", clip)
	if out, err := x264.CombinedOutput(); err != nil {
		t.Fatalf("making the clip: %v\n%s", err, out)
	}
	g := vm.Start(t, vm.Options{Binaries: map[string]string{"/bin/flowcamd": daemon, "/bin/loopfeed": feeder, "/clip.h264": clip},
		GuestPorts: []int{8554}})
	if g.ModulePath("v4l2loopback") == "" {
		need.Skip(t, "the guest kernel has no v4l2loopback: %s", g.MissingReason("v4l2loopback"))
	}
	logOnFailure(t, g)
	ctx := context.Background()
	// exclusive_caps: the device is an output until the feeder writes,
	// then a capture device only, as a camera is.
	setup := "rmmod v4l2loopback && insmod " + g.ModulePath("v4l2loopback") + " video_nr=42 exclusive_caps=1 card_label=flowcam-h264 && " +
		"(loopfeed -dev " + loopDev + " -in /clip.h264 -size 640x480 -fps 25 >/tmp/loopfeed.log 2>&1 &) && " +
		"for i in $(seq 50); do grep -q feeding /tmp/loopfeed.log && break; sleep 0.2; done; sleep 0.5; " +
		"cat /tmp/loopfeed.log; flowcamd --list-formats " + loopDev + " 2>&1"
	out, err := g.Run(ctx, setup)
	if err != nil || !strings.Contains(out, "H264") {
		t.Fatalf("the loopback camera does not list H264 (%v):\n%s", err, out)
	}
	t.Logf("the loopback camera in the guest:\n%s", out)
	if out, err := g.Run(ctx, "flowcamd --source "+loopDev+" --codec h264 --size 640x480 --fps 25 --rtsp-addr :8554 >/tmp/flowcamd.log 2>&1 &"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	waitForServer(t, g.HostAddr(8554))
	cctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	d, err := player.FFmpeg(cctx, "rtsp://"+g.HostAddr(8554)+"/cam", "tcp", 50, "h264", "640x480")
	if err != nil {
		t.Fatal(err)
	}
	if d.Frames != 50 || d.Distinct < 25 {
		t.Fatalf("%d frames decoded, %d distinct; want 50 of a moving picture", d.Frames, d.Distinct)
	}
	log, _ := g.Run(ctx, "cat /tmp/flowcamd.log")
	if !strings.Contains(log, "H264 640x480") || !strings.Contains(log, "codec=h264") || strings.Contains(log, "frame dropped") {
		t.Fatalf("the log does not show the camera's own H.264 passed through:\n%s", log)
	}
	t.Logf("ffmpeg on the host decoded %d frames (%d distinct) of the guest camera's own H.264", d.Frames, d.Distinct)
}
