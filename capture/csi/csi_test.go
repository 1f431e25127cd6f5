package csi

import (
	"bytes"
	"fmt"
	"os"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"flowcam/capture"
	"flowcam/internal/testutil/golden"
)

var hd = capture.Size{Width: 1280, Height: 720}

// TestCommandLines pins every helper command line the daemon can build
// (the helpers cannot run here): testdata/commands.golden, -update to
// record a change for review.
func TestCommandLines(t *testing.T) {
	lens := 0.5
	cases := []struct {
		name string
		cmd  []string
	}{
		{"rpicam-vid, raw", RpicamCommand(RpicamVid, Request{Size: hd, FPS: 25})},
		{"rpicam-vid, camera 1, mjpeg", RpicamCommand(RpicamVid, Request{Camera: "1", Size: hd, FPS: 30, MJPEG: true, Quality: 80})},
		{"rpicam-vid, every control", RpicamCommand(RpicamVid, Request{Size: capture.Size{Width: 1296, Height: 972}, FPS: 29.97,
			Controls: Controls{Shutter: 10 * time.Millisecond, Gain: 2.5, AWB: "daylight", AutofocusMode: "manual",
				LensPosition: &lens, HDR: "sensor", Rotation: 180, HFlip: true, VFlip: true}})},
		{"libcamera-vid, raw", RpicamCommand(LibcameraVid, Request{Size: hd, FPS: 15})},
		{"rpicam-vid, h264", RpicamCommand(RpicamVid, Request{Size: hd, FPS: 25, H264: H264{On: true, Bitrate: 4000000, GOP: 50}})},
		{"libcamerasrc, h264", GstLibcameraCommand(Request{Size: hd, FPS: 25, H264: H264{On: true, Bitrate: 4000000, GOP: 50}})},
		{"nvarguscamerasrc, h264", ArgusCommand(ArgusRequest{Sensor: 0, Size: hd, FPS: 30, H264: H264{On: true, Bitrate: 6000000, GOP: 60}})},
		{"libcamerasrc", GstLibcameraCommand(Request{Camera: "/base/soc/i2c0mux/i2c@1/imx219@10", Size: hd, FPS: 30000.0 / 1001})},
		{"libcamerasrc, mjpeg", GstLibcameraCommand(Request{Size: hd, FPS: 25, MJPEG: true, Quality: 75})},
		{"nvarguscamerasrc, nvjpegenc", ArgusCommand(ArgusRequest{Sensor: 0, Size: hd, FPS: 30, Quality: 85})},
		{"nvarguscamerasrc, raw, controls", ArgusCommand(ArgusRequest{Sensor: 1, Size: hd, FPS: 25, Raw: true,
			Exposure: 5 * time.Millisecond, Gain: 4, WBMode: "daylight"})},
	}
	var b bytes.Buffer
	for _, c := range cases {
		fmt.Fprintf(&b, "# %s\n", c.name)
		for _, a := range c.cmd {
			fmt.Fprintf(&b, "%s\n", strconv.Quote(a))
		}
		b.WriteString("\n")
	}
	golden.File(t, "testdata/commands.golden", b.Bytes())
}

// TestRpicamStride against the layouts worked out from the ISP drivers.
func TestRpicamStride(t *testing.T) {
	for _, c := range []struct {
		width int
		isp   ISP
		want  int
	}{
		{1280, ISPVC4, 1280}, {1280, ISPPiSP, 1280}, {640, ISPVC4, 640}, {640, ISPPiSP, 640},
		{1920, ISPPiSP, 1920}, {1296, ISPVC4, 1344}, {1296, ISPPiSP, 1408}, {1640, ISPVC4, 1664},
		{2028, ISPPiSP, 2048}, {320, ISPVC4, 320}, {320, ISPPiSP, 384},
	} {
		if got := RpicamStride(c.width, c.isp); got != c.want {
			t.Errorf("width %d isp %d: stride %d, want %d", c.width, c.isp, got, c.want)
		}
	}
}

func TestFraction(t *testing.T) {
	for fps, want := range map[float64]string{25: "25/1", 30000.0 / 1001: "30000/1001", 12.5: "25/2", 7.3: "730/100"} {
		if got := fraction(fps); got != want {
			t.Errorf("%v: %s, want %s", fps, got, want)
		}
	}
}

func TestParseRpicamList(t *testing.T) {
	read := func(name string) string {
		b, err := os.ReadFile("testdata/" + name)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	pi5 := ParseRpicamList(read("rpicam-list-pi5.txt"))
	if len(pi5) != 2 || pi5[0].Model != "imx708" || pi5[1].Index != 1 ||
		pi5[1].ID != "/base/axi/pcie@120000/rp1/i2c@80000/imx219@10" ||
		!reflect.DeepEqual(pi5[0].Modes, []string{"1536x864@120.13", "2304x1296@56.03", "4608x2592@14.35"}) ||
		len(pi5[1].Modes) != 3 {
		t.Fatalf("%+v", pi5)
	}
	old := ParseRpicamList(read("rpicam-list-pi4-old.txt"))
	if len(old) != 1 || old[0].Model != "imx219" || old[0].ID != "/base/soc/i2c0mux/i2c@1/imx219@10" || len(old[0].Modes) != 2 {
		t.Fatalf("%+v", old)
	}
	if got := ParseRpicamList("No cameras available!\n"); len(got) != 0 {
		t.Fatalf("%+v", got)
	}
	cams := ParseCamList(read("cam-list.txt"))
	if len(cams) != 3 || cams[0].Model != "imx219" || cams[1].ID != "platform/vimc.0 Sensor B" ||
		cams[1].Model != "Sensor B" || !strings.HasPrefix(cams[2].Model, "Internal front") || cams[2].Index != 3 {
		t.Fatalf("%+v", cams)
	}
}

// FuzzParseLists: no tool output makes the parsers fail, and every camera
// they report has a model and an id from the text.
func FuzzParseLists(f *testing.F) {
	for _, n := range []string{"rpicam-list-pi5.txt", "rpicam-list-pi4-old.txt", "cam-list.txt"} {
		b, _ := os.ReadFile("testdata/" + n)
		f.Add(string(b))
	}
	f.Fuzz(func(t *testing.T, out string) {
		for _, c := range append(ParseRpicamList(out), ParseCamList(out)...) {
			if c.Index < 0 || !strings.Contains(out, c.ID) || !strings.Contains(out, c.Model) {
				t.Fatalf("%+v not from %q", c, out)
			}
		}
	})
}
