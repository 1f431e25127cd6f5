package daemon

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"flowcam/capture"
	"flowcam/capture/child"
	"flowcam/internal/testutil/need"
)

// fakeTools puts scripts named like the camera tools first in PATH: each
// prints its body and exits 0.
func fakeTools(t *testing.T, tools map[string]string) {
	t.Helper()
	dir := t.TempDir()
	for name, out := range tools {
		script := "#!/bin/sh\n/bin/cat <<'EOF'\n" + out + "\nEOF\n"
		if err := os.WriteFile(filepath.Join(dir, name), []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("PATH", dir)
}

func TestLibcameraHelperChoice(t *testing.T) {
	list, err := os.ReadFile("../../capture/csi/testdata/rpicam-list-pi5.txt")
	if err != nil {
		t.Fatal(err)
	}
	sc := StreamConfig{Source: "libcamera:1", Size: capture.Size{Width: 1296, Height: 972}, FPS: 25, Quality: 80}
	t.Run("rpicam-vid, padded rows", func(t *testing.T) {
		fakeTools(t, map[string]string{"rpicam-vid": "", "rpicam-hello": string(list)})
		cfg, err := libcameraHelper(child.Config{}, sc, LibcameraConfig{Codec: "yuv420"}, HelperConfig{})
		if err != nil || cfg.Name != "rpicam-vid" || cfg.Format != child.I420 || cfg.Stride != 1344 ||
			!strings.Contains(strings.Join(cfg.Command, " "), "--camera 1 --codec yuv420") {
			t.Fatalf("%+v %v", cfg, err)
		}
	})
	t.Run("an unknown camera lists the others", func(t *testing.T) {
		fakeTools(t, map[string]string{"rpicam-vid": "", "rpicam-hello": string(list)})
		sc := sc
		sc.Source = "libcamera:3"
		_, err := libcameraHelper(child.Config{}, sc, LibcameraConfig{}, HelperConfig{})
		if err == nil || !strings.Contains(err.Error(), "libcamera:0 (imx708") || !strings.Contains(err.Error(), "libcamera:1 (imx219") {
			t.Fatalf("err %v", err)
		}
	})
	t.Run("libcamera-vid on older releases", func(t *testing.T) {
		fakeTools(t, map[string]string{"libcamera-vid": ""})
		cfg, err := libcameraHelper(child.Config{}, sc, LibcameraConfig{Codec: "mjpeg"}, HelperConfig{})
		if err != nil || cfg.Name != "libcamera-vid" || cfg.Format != child.MJPEG {
			t.Fatalf("%+v %v", cfg, err)
		}
	})
	t.Run("libcamerasrc elsewhere, numbered by cam -l", func(t *testing.T) {
		cams, _ := os.ReadFile("../../capture/csi/testdata/cam-list.txt")
		fakeTools(t, map[string]string{"gst-launch-1.0": "", "gst-inspect-1.0": "", "cam": string(cams)})
		cfg, err := libcameraHelper(child.Config{}, StreamConfig{Source: "libcamera:2", Size: capture.Size{Width: 640, Height: 480}, FPS: 30}, LibcameraConfig{}, HelperConfig{})
		if err != nil || cfg.Name != "libcamerasrc" || !strings.Contains(strings.Join(cfg.Command, " "), "camera-name=platform/vimc.0 Sensor B") {
			t.Fatalf("%+v %v", cfg, err)
		}
	})
	t.Run("libcamerasrc opens cam -l's first camera by name, for the log", func(t *testing.T) {
		cams, _ := os.ReadFile("../../capture/csi/testdata/cam-list.txt")
		fakeTools(t, map[string]string{"gst-launch-1.0": "", "gst-inspect-1.0": "", "cam": string(cams)})
		cfg, err := libcameraHelper(child.Config{}, StreamConfig{Source: "libcamera", Size: capture.Size{Width: 640, Height: 480}, FPS: 30}, LibcameraConfig{}, HelperConfig{})
		if err != nil || cfg.Camera != "1: imx219 (/base/soc/i2c0mux/i2c@1/imx219@10)" ||
			!strings.Contains(strings.Join(cfg.Command, " "), "camera-name=/base/soc/i2c0mux/i2c@1/imx219@10") {
			t.Fatalf("%+v %v", cfg, err)
		}
	})
	t.Run("libcamerasrc without cam leaves the choice to it", func(t *testing.T) {
		fakeTools(t, map[string]string{"gst-launch-1.0": "", "gst-inspect-1.0": ""})
		cfg, err := libcameraHelper(child.Config{}, StreamConfig{Source: "libcamera", Size: capture.Size{Width: 640, Height: 480}, FPS: 30}, LibcameraConfig{}, HelperConfig{})
		if err != nil || cfg.Camera != "libcamera's first camera" || strings.Contains(strings.Join(cfg.Command, " "), "camera-name") {
			t.Fatalf("%+v %v", cfg, err)
		}
	})
	t.Run("nothing installed names the packages", func(t *testing.T) {
		fakeTools(t, nil)
		_, err := libcameraHelper(child.Config{}, sc, LibcameraConfig{}, HelperConfig{})
		if !errors.Is(err, child.ErrNotInstalled) || !strings.Contains(err.Error(), "rpicam-apps") || !strings.Contains(err.Error(), "gstreamer1.0-libcamera") {
			t.Fatalf("err %v", err)
		}
	})
}

// TestGstHasElementWithRealGStreamer asks the host's gst-inspect about
// libcamera's element, whose plugin version (0.0.x) is below GStreamer's:
// the check must find it all the same (gst-inspect --exists would not).
func TestGstHasElementWithRealGStreamer(t *testing.T) {
	if !need.Has(t, "gst-inspect-1.0") || !need.Has(t, "cam") { // cam: libcamera-tools, beside the element in .ci/deps
		return
	}
	if !gstHasElement("libcamerasrc") {
		t.Fatal("libcamerasrc is installed (gstreamer1.0-libcamera) but not found")
	}
	if gstHasElement("nosuchelementanywhere") {
		t.Fatal("an element that does not exist was found")
	}
}
