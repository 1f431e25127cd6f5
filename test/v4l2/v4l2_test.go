// Package v4l2_test runs flowcamd against the kernel's virtual camera
// drivers in a qemu guest and plays it from the host (make test-v4l2):
// vivid as a V4L2 camera, unplugged and replugged mid-stream; vimc as a
// CSI-like camera that only libcamera can drive, through libcamerasrc as
// the supervised helper, killed mid-stream; vim2m for the M2M code; and
// v4l2loopback as a camera with an H.264 encoder of its own.
package v4l2_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v4"
	"github.com/pion/rtp"

	"flowcam/internal/testutil/eventually"
	"flowcam/internal/testutil/need"
	"flowcam/internal/testutil/player"
	"flowcam/internal/testutil/rawrtsp"
	"flowcam/internal/testutil/vm"
	"flowcam/stream/format/rtsp"
)

// RFC 2435 types: the camera's YUYV goes out as 4:2:2 (type 0), the
// daemon's "no signal" card as 4:2:0 (type 1), so the type byte tells them
// apart on the wire.
const (
	cameraType   = 0
	noSignalType = 1
)

const byID = "/dev/v4l/by-id/platform-vivid-000-video-index0"

func TestCameraInAVM(t *testing.T) {
	vm.Require(t)
	dir := t.TempDir()
	daemon, ctl := filepath.Join(dir, "flowcamd"), filepath.Join(dir, "vividctl")
	for bin, pkg := range map[string]string{daemon: "./cmd/flowcamd", ctl: "./test/v4l2/vividctl"} {
		if err := vm.BuildStatic(pkg, bin); err != nil {
			t.Fatal(err)
		}
	}
	g := vm.Start(t, vm.Options{
		Binaries:   map[string]string{"/bin/flowcamd": daemon, "/bin/vividctl": ctl},
		GuestPorts: []int{8554},
		// A stable by-id name, as udev would make it, survives re-enumeration:
		// the daemon resolves it on every (re)open.
		Startup: "mkdir -p /dev/v4l/by-id && ln -s /dev/video0 " + byID + " && " +
			"flowcamd --source " + byID + " --size 640x480 --fps 25 --rtsp-addr :8554 >/tmp/flowcamd.log 2>&1 &",
	})
	t.Logf("guest booted in %v", g.BootTime().Round(time.Millisecond))
	logOnFailure(t, g)
	url := "rtsp://" + g.HostAddr(8554) + "/cam"
	waitForServer(t, g.HostAddr(8554))
	t.Run("ffmpeg plays the camera", func(t *testing.T) { ffmpegPlays(t, url, 25) })
	t.Run("a control out of range fails at start", func(t *testing.T) {
		out, err := g.Run(context.Background(), "printf 'v4l2:\n  controls:\n    brightness: 999\n' >/tmp/bad.yaml; "+
			"timeout 20 flowcamd --config /tmp/bad.yaml --source /dev/video0 --size 640x480 --rtsp-addr :9554 2>&1")
		if err == nil || !strings.Contains(out, `control "Brightness" = 999 is out of range on /dev/video0: valid values are 0 to 255`) {
			t.Fatalf("err %v, output:\n%s", err, out)
		}
	})
	t.Run("encoder choice sees vim2m but no JPEG engine", func(t *testing.T) { encoderChoice(t, g) })
	t.Run("unplug and replug", func(t *testing.T) { unplugReplug(t, g, url) })
}

// logOnFailure shows the guest daemon's log (/tmp/flowcamd.log) when t
// has failed.
func logOnFailure(t *testing.T, g *vm.Guest) {
	t.Cleanup(func() {
		if t.Failed() {
			out, _ := g.Run(context.Background(), "cat /tmp/flowcamd.log")
			t.Logf("flowcamd log:\n%s", out)
		}
	})
}

// encoderChoice: with vim2m loaded the guest has a memory-to-memory device
// that makes no JPEG, so auto settles on libjpeg-turbo and says why, and
// encoder = hardware refuses to start rather than pretend.
func encoderChoice(t *testing.T, g *vm.Guest) {
	if g.ModulePath("vim2m") == "" {
		need.Skip(t, "the guest kernel has no vim2m: %s", g.MissingReason("vim2m"))
	}
	ctx := context.Background()
	out, err := g.Run(ctx, "flowcamd --version 2>&1")
	const noJPEG = "no V4L2 memory-to-memory device produces JPEG"
	if err != nil || !strings.Contains(out, "hardware jpeg: none (m2m: "+noJPEG) {
		t.Errorf("--version in the guest (%v):\n%s", err, out)
	}
	out, _ = g.Run(ctx, "cat /tmp/flowcamd.log")
	if !strings.Contains(out, noJPEG) || !strings.Contains(out, "libjpeg-turbo encodes") {
		t.Errorf("the running daemon did not log its encoder choice:\n%s", out)
	}
	out, err = g.Run(ctx, "timeout 20 flowcamd --source pattern --encoder hardware --rtsp-addr :9555 2>&1")
	if err == nil || !strings.Contains(out, "encoder = hardware: no hardware JPEG encoder") {
		t.Errorf("encoder = hardware without an engine: %v\n%s", err, out)
	}
}

func waitForServer(t *testing.T, addr string) {
	t.Helper()
	eventually.Require(t, 2*time.Minute, func() bool {
		c, err := rawrtsp.Dial(addr)
		if err != nil {
			return false
		}
		defer c.Close()
		res, err := c.Do(rtsp.Options, "*")
		return err == nil && res.Status == 200
	}, "flowcamd in the guest never answered")
}

// ffmpegPlays decodes 30 frames with ffmpeg over TCP: a 640x480 MJPEG
// stream whose picture moves (at least distinct different frames: vivid
// and vimc both print counters on theirs).
func ffmpegPlays(t *testing.T, url string, distinct int) {
	need.Tool(t, "ffmpeg")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	d, err := player.FFmpeg(ctx, url, "tcp", 30, "mjpeg", "640x480")
	if err != nil {
		t.Fatal(err)
	}
	if d.Frames != 30 || d.Distinct < distinct {
		t.Fatalf("%d frames decoded, %d distinct: the camera picture should move", d.Frames, d.Distinct)
	}
	t.Logf("ffmpeg decoded %d frames of 640x480 from the guest's camera, %d distinct", d.Frames, d.Distinct)
}

// waitFrames waits until the viewer has n frames of type typ that arrived
// after since, and returns how many it has.
func (v *viewer) waitFrames(since time.Time, typ byte, n int) int {
	var got int
	eventually.Wait(time.Minute, func() bool {
		got, _, _ = v.since(since, typ)
		return got >= n
	})
	return got
}

func (v *viewer) count() int {
	v.mu.Lock()
	defer v.mu.Unlock()
	return len(v.frames)
}

// arrival is one frame seen by the viewer.
type arrival struct {
	at  time.Time
	typ byte
}

type viewer struct {
	mu     sync.Mutex
	frames []arrival
}

func (v *viewer) packet(p *rtp.Packet) {
	if !p.Marker || len(p.Payload) < 8 {
		return
	}
	v.mu.Lock()
	v.frames = append(v.frames, arrival{time.Now(), p.Payload[4] &^ 64})
	v.mu.Unlock()
}

func (v *viewer) since(t time.Time, typ byte) (n int, first, last time.Time) {
	v.mu.Lock()
	defer v.mu.Unlock()
	for _, f := range v.frames {
		if f.at.After(t) && f.typ == typ {
			if n == 0 {
				first = f.at
			}
			last = f.at
			n++
		}
	}
	return n, first, last
}

func unplugReplug(t *testing.T, g *vm.Guest, url string) {
	ctx := context.Background()
	v := &viewer{}
	c, err := player.Play(url, gortsplib.TransportTCP, v.packet, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	start := time.Now()
	if n := v.waitFrames(start, cameraType, 10); n < 10 {
		t.Fatalf("only %d camera frames before the unplug, want 10", n)
	}
	// vivid's Disconnect acts like a USB unplug (the open device fails with
	// ENODEV); with the daemon's handle closed, the driver can be removed.
	out, err := g.Run(ctx, "vividctl /dev/video0 Disconnect && while ! rmmod vivid 2>/dev/null; do sleep 0.01; done")
	if err != nil {
		t.Fatalf("unplug: %v\n%s", err, out)
	}
	unplugged := time.Now()
	before, _, lastCamera := v.since(start, cameraType) // the camera is gone: no more come
	noSignal := v.waitFrames(unplugged, noSignalType, 2)
	if noSignal < 2 {
		t.Fatalf("%d no-signal frames without a camera, want about one a second", noSignal)
	}
	if out, err := g.Run(ctx, "insmod "+g.ModulePath("vivid")); err != nil {
		t.Fatalf("insmod: %v\n%s", err, out)
	}
	replugged := time.Now()
	if n := v.waitFrames(replugged, cameraType, 10); n < 10 {
		t.Fatalf("camera frames did not resume in the same session (%d after replug)", n)
	}
	after, back, _ := v.since(replugged, cameraType)
	total := v.count()
	t.Log(fmt.Sprintf("frames received: %d camera before unplug, %d no-signal while unplugged, %d camera after replug (%d in all); "+
		"camera gap %v (unplugged for %v, first frame %v after insmod)", before, noSignal, after, total,
		back.Sub(lastCamera).Round(time.Millisecond), replugged.Sub(unplugged).Round(time.Millisecond),
		back.Sub(replugged).Round(time.Millisecond)))
}
