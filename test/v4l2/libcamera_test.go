package v4l2_test

import (
	"context"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v4"

	"flowcam/internal/testutil/eventually"
	"flowcam/internal/testutil/need"
	"flowcam/internal/testutil/player"
	"flowcam/internal/testutil/vm"
)

// libcameraFiles are Debian's libcamera (its IPA modules and their data),
// its GStreamer element with the few GStreamer plugins the daemon's
// pipeline uses, gst-launch, gst-inspect and cam, to be copied into the
// guest with every library they load.
func libcameraFiles(t *testing.T) map[string]string {
	t.Helper()
	for _, tool := range []string{"gst-launch-1.0", "gst-inspect-1.0", "cam"} {
		need.Tool(t, tool) // .ci/deps installs them with libcamera's packages
	}
	lib := "/usr/lib/x86_64-linux-gnu/"
	plugins := lib + "gstreamer-1.0/"
	files, err := vm.HostFiles("/usr/bin/gst-launch-1.0", "/usr/bin/gst-inspect-1.0", "/usr/bin/cam",
		lib+"libcamera", "/usr/share/libcamera", lib+"gstreamer1.0/gstreamer-1.0/gst-plugin-scanner",
		plugins+"libgstlibcamera.so", plugins+"libgstcoreelements.so", plugins+"libgstvideoconvertscale.so",
		plugins+"libgstx264.so") // for libcamera.codec: h264
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// udevDatabase marks every device node initialised, as udevd would: libudev
// (which libcamera enumerates cameras with) passes over device nodes that
// have no entry in /run/udev/data, and the guest runs no udevd.
const udevDatabase = `mkdir -p /run/udev/data && for d in /sys/dev/char/*; do echo I:1 >/run/udev/data/c${d##*/}; done
`

// TestLibcameraInAVM runs flowcamd with --source libcamera in a guest
// where the kernel's vimc driver is the camera and Debian's libcamera and
// its GStreamer element are the helper, and plays it from the host.
func TestLibcameraInAVM(t *testing.T) {
	vm.Require(t)
	need.Tool(t, "ffmpeg")
	files := libcameraFiles(t)
	bin := filepath.Join(t.TempDir(), "flowcamd")
	if err := vm.BuildStatic("./cmd/flowcamd", bin); err != nil {
		t.Fatal(err)
	}
	g := vm.Start(t, vm.Options{
		Files: files, Binaries: map[string]string{"/bin/flowcamd": bin}, GuestPorts: []int{8554}, Memory: 1536,
		Startup: udevDatabase,
	})
	if g.ModulePath("vimc") == "" {
		need.Skip(t, "the guest kernel has no vimc: %s", g.MissingReason("vimc"))
	}
	t.Logf("kernel %s with vimc booted in %v", g.KernelVersion(), g.BootTime().Round(time.Millisecond))
	// First, while no one streams from it: libcamera cannot enumerate a
	// camera another process is using.
	t.Run("--list-devices and --version find the camera and the helper", func(t *testing.T) { discovery(t, g) })
	if _, err := g.Run(t.Context(), "flowcamd --source libcamera --size 640x480 --fps 10 --rtsp-addr :8554 >/tmp/flowcamd.log 2>&1 &"); err != nil {
		t.Fatal(err)
	}
	logOnFailure(t, g)
	url := "rtsp://" + g.HostAddr(8554) + "/cam"
	waitForServer(t, g.HostAddr(8554))
	w := watch(t, url)
	if !eventually.Wait(2*time.Minute, func() bool { return w.pictures(time.Time{}) >= 5 }) {
		t.Fatal("no camera picture reached the viewer")
	}
	t.Run("the log names the helper, the camera and the mode", func(t *testing.T) { helperLog(t, g) })
	t.Run("ffmpeg plays the camera", func(t *testing.T) { ffmpegPlays(t, url, 20) })
	t.Run("a killed helper gives no-signal cards, then the picture in the same session", func(t *testing.T) {
		killHelper(t, g, w)
	})
	t.Run("libcamera.codec h264 gives an H.264 path", func(t *testing.T) { libcameraH264(t, g) })
}

// libcameraH264 restarts the daemon with the helper encoding H.264 (x264
// after libcamerasrc, as on a distribution without the rpicam apps) and
// plays it: the path is H.264, passed through, and ffmpeg decodes it.
func libcameraH264(t *testing.T, g *vm.Guest) {
	ctx := context.Background()
	script := "kill $(pidof flowcamd); while pidof flowcamd >/dev/null; do sleep 0.1; done; " +
		"printf 'libcamera:\n  codec: h264\nhelper:\n  h264_gop: 10\n' >/tmp/h264.yaml; " +
		"flowcamd --config /tmp/h264.yaml --source libcamera --size 320x240 --fps 10 --rtsp-addr :8554 >/tmp/flowcamd.log 2>&1 &"
	if out, err := g.Run(ctx, script); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	waitForServer(t, g.HostAddr(8554))
	cctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	d, err := player.FFmpeg(cctx, "rtsp://"+g.HostAddr(8554)+"/cam", "tcp", 20, "h264", "320x240")
	if err != nil {
		t.Fatal(err)
	}
	if d.Frames != 20 {
		t.Fatalf("%d frames decoded, want 20", d.Frames)
	}
	log, _ := g.Run(ctx, "cat /tmp/flowcamd.log")
	if !strings.Contains(log, "codec=h264") || !strings.Contains(log, "x264enc") {
		t.Fatalf("the log does not show an H.264 path fed by x264enc:\n%s", log)
	}
	t.Log("libcamerasrc ! x264enc in the guest plays as H.264 in ffmpeg on the host")
}

func helperLog(t *testing.T, g *vm.Guest) {
	out, err := g.Run(context.Background(), "cat /tmp/flowcamd.log")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`msg="starting capture helper" path=/cam camera="1: Sensor B \(platform/vimc.0 Sensor B\)" helper=libcamerasrc command="gst-launch-1.0 -q libcamerasrc 'camera-name=platform/vimc.0 Sensor B' `),
		regexp.MustCompile(`msg="camera configured" path=/cam camera="1: Sensor B \(platform/vimc.0 Sensor B\)" helper=libcamerasrc streams="\(0\) \d+x\d+-\w+"`),
	} {
		if !want.MatchString(out) {
			t.Errorf("no line matching %s in the log:\n%s", want, out)
		}
	}
}

func discovery(t *testing.T, g *vm.Guest) {
	out, err := g.Run(context.Background(), "flowcamd --list-devices 2>&1; flowcamd --version 2>&1")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`(?m)^libcamera cameras \(cam -l\):\n\s+libcamera:1\s+Sensor B \(platform/vimc.0 Sensor B\)`),
		regexp.MustCompile(`(?m)^capture helpers:.*libcamerasrc`),
	} {
		if !want.MatchString(out) {
			t.Errorf("nothing matches %s in:\n%s", want, out)
		}
	}
}

func killHelper(t *testing.T, g *vm.Guest, w *watcher) {
	if out, err := g.Run(context.Background(), "kill -9 $(pidof gst-launch-1.0)"); err != nil {
		t.Fatalf("kill: %v\n%s", err, out)
	}
	killed := time.Now()
	if !eventually.Wait(time.Minute, func() bool { return w.cards(killed) >= 1 }) {
		t.Fatal("no no-signal card after the helper was killed")
	}
	if !eventually.Wait(2*time.Minute, func() bool { return w.pictures(killed) >= 10 }) {
		t.Fatalf("the picture did not come back in the same session (%d pictures since the kill)", w.pictures(killed))
	}
	lastBefore, firstCard, firstBack := w.gap(killed)
	// Reported, not asserted: the guest is emulated on a shared machine.
	t.Log(fmt.Sprintf("%d no-signal cards, then the picture back %v after the last one before the kill "+
		"(%v after the kill; a restart under TCG emulation includes gst-launch and libcamera starting again)",
		w.cards(killed), firstBack.Sub(lastBefore).Round(time.Millisecond), firstBack.Sub(killed).Round(time.Millisecond)))
	if firstCard.After(firstBack) {
		t.Fatal("the picture came back before any no-signal card")
	}
}

// watcher is one RTSP session over TCP that sorts what it receives into
// camera pictures and no-signal cards, with arrival times.
type watcher struct {
	mu     sync.Mutex
	frames []seen
}

type seen struct {
	at   time.Time
	card bool
}

func watch(t *testing.T, url string) *watcher {
	w := &watcher{}
	c, err := player.Play(url, gortsplib.TransportTCP, nil, func(jpeg []byte) {
		card := player.IsNoSignal(jpeg)
		w.mu.Lock()
		w.frames = append(w.frames, seen{time.Now(), card})
		w.mu.Unlock()
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return w
}

func (w *watcher) count(since time.Time, card bool) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := 0
	for _, f := range w.frames {
		if f.at.After(since) && f.card == card {
			n++
		}
	}
	return n
}

func (w *watcher) pictures(since time.Time) int { return w.count(since, false) }
func (w *watcher) cards(since time.Time) int    { return w.count(since, true) }

// gap finds, around a kill at t, the last picture before it, the first
// card after it and the first picture after that card.
func (w *watcher) gap(t time.Time) (lastBefore, firstCard, firstBack time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, f := range w.frames {
		switch {
		case !f.at.After(t) && !f.card:
			lastBefore = f.at
		case f.at.After(t) && f.card && firstCard.IsZero():
			firstCard = f.at
		case f.at.After(t) && !f.card && !firstCard.IsZero() && firstBack.IsZero():
			firstBack = f.at
		}
	}
	return lastBefore, firstCard, firstBack
}
