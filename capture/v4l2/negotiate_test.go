package v4l2

import (
	"strings"
	"testing"

	"flowcam/capture"
)

func sz(w, h int) capture.Size { return capture.Size{Width: w, Height: h} }

// uvcWebcam is a typical USB camera: MJPEG at every size, raw YUYV only
// slowly at the large ones.
var uvcWebcam = []Mode{
	{Format: MJPEG, Size: sz(1920, 1080), FPS: []float64{30, 15}},
	{Format: MJPEG, Size: sz(1280, 720), FPS: []float64{30, 15}},
	{Format: MJPEG, Size: sz(640, 480), FPS: []float64{30}},
	{Format: YUYV, Size: sz(1280, 720), FPS: []float64{10, 5}},
	{Format: YUYV, Size: sz(640, 480), FPS: []float64{30}},
}

// h264Webcam is a UVC camera with an H.264 encoder of its own (a
// Logitech C920's formats).
var h264Webcam = append([]Mode{{Format: H264, Size: sz(1920, 1080), FPS: []float64{30}},
	{Format: H264, Size: sz(1280, 720), FPS: []float64{30}}}, uvcWebcam...)

// vividWebcam mirrors what vivid's webcam input enumerates.
var vividWebcam = []Mode{
	{Format: YUYV, Size: sz(320, 180), FPS: []float64{50, 25}},
	{Format: YUYV, Size: sz(640, 360), FPS: []float64{50, 25}},
	{Format: YUYV, Size: sz(640, 480), FPS: []float64{50, 25}},
	{Format: YUYV, Size: sz(1280, 720), FPS: []float64{25, 12.5}},
	{Format: NV12, Size: sz(640, 480), FPS: []float64{50, 25}},
	{Format: FourCC('R' | 'G'<<8 | 'B'<<16 | '3'<<24), Size: sz(640, 480)},
}

var stepwise = []Mode{{Format: NV12, Size: sz(16, 16), Max: sz(1920, 1088), Step: sz(8, 8)}}

func TestChoose(t *testing.T) {
	cases := []struct {
		name  string
		modes []Mode
		req   Request
		want  FourCC
		size  capture.Size
		fps   float64
		err   string
	}{
		{"mjpeg preferred", uvcWebcam, Request{Size: sz(1280, 720), FPS: 25}, MJPEG, sz(1280, 720), 30, ""},
		{"raw for an h264 path", uvcWebcam, Request{Size: sz(1280, 720), FPS: 25, Want: WantH264}, YUYV, sz(1280, 720), 10, ""},
		{"raw for mjpeg and h264", h264Webcam, Request{Size: sz(1280, 720), FPS: 25, Want: WantRaw}, YUYV, sz(1280, 720), 10, ""},
		{"h264 camera for an h264 path", h264Webcam, Request{Size: sz(1280, 720), FPS: 25, Want: WantH264}, H264, sz(1280, 720), 30, ""},
		{"h264 camera for an mjpeg path", h264Webcam, Request{Size: sz(1280, 720), FPS: 25}, MJPEG, sz(1280, 720), 30, ""},
		{"h264 only", []Mode{{Format: H264, Size: sz(640, 480)}}, Request{Size: sz(640, 480)}, H264, sz(640, 480), 0, ""},
		{"h264 path, only mjpeg", []Mode{{Format: MJPEG, Size: sz(640, 480)}}, Request{Size: sz(640, 480), Want: WantH264}, 0, capture.Size{}, 0, "needs the camera's H.264 or raw pictures"},
		{"both paths, no raw", []Mode{{Format: MJPEG, Size: sz(640, 480)}, {Format: H264, Size: sz(640, 480)}}, Request{Size: sz(640, 480), Want: WantRaw}, 0, capture.Size{}, 0, "give the camera one path"},
		{"yuyv asked", uvcWebcam, Request{Size: sz(1280, 720), FPS: 25, Format: YUYV}, YUYV, sz(1280, 720), 10, ""},
		{"nearest size", uvcWebcam, Request{Size: sz(1024, 576), FPS: 30}, MJPEG, sz(1280, 720), 30, ""},
		{"too big", uvcWebcam, Request{Size: sz(3840, 2160), FPS: 30}, MJPEG, sz(1920, 1080), 30, ""},
		{"vivid 640x480", vividWebcam, Request{Size: sz(640, 480), FPS: 25}, YUYV, sz(640, 480), 25, ""},
		{"vivid nv12", vividWebcam, Request{Size: sz(640, 480), FPS: 30, Format: NV12}, NV12, sz(640, 480), 25, ""},
		{"stepwise", stepwise, Request{Size: sz(1284, 722), FPS: 25}, NV12, sz(1280, 720), 25, ""},
		{"not offered", uvcWebcam, Request{Size: sz(640, 480), Format: NV12}, 0, capture.Size{}, 0, "does not offer NV12 (it offers MJPG, YUYV)"},
		{"nothing usable", []Mode{{Format: FourCC('G' | 'R'<<8 | 'E'<<16 | 'Y'<<24), Size: sz(640, 480)}}, Request{Size: sz(640, 480)}, 0, capture.Size{}, 0, "offers none"},
	}
	for _, c := range cases {
		m, size, fps, err := Choose(c.modes, c.req)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%s: err %v, want %q", c.name, err, c.err)
			}
			continue
		}
		if err != nil || m.Format != c.want || size != c.size || fps != c.fps {
			t.Errorf("%s: got %s %v %v fps (err %v), want %s %v %v", c.name, m.Format, size, fps, err, c.want, c.size, c.fps)
		}
	}
}

func TestFourCC(t *testing.T) {
	for _, s := range []string{"MJPG", "yuyv", "NV12", "YU12", "UYVY", "JPEG", "h264"} {
		f, err := ParseFourCC(s)
		if err != nil || f.String() != strings.ToUpper(s) {
			t.Errorf("%s: %v %v", s, f, err)
		}
	}
	if _, err := ParseFourCC("RGB3"); err == nil {
		t.Error("RGB3 accepted")
	}
}

func TestControls(t *testing.T) {
	have := []controlInfo{{id: 0x980900, name: "Brightness", min: 0, max: 255},
		{id: 0x98091a, name: "White Balance Temperature", min: 2800, max: 6500}}
	for _, c := range []struct {
		in, err string
	}{
		{"brightness=128", ""},
		{"white_balance_temperature=4000", ""},
		{"0x980900=10", ""},
		{"brightness=300", `control "Brightness" = 300 is out of range on /dev/video0: valid values are 0 to 255`},
		{"focus=3", `/dev/video0 has no control "focus" (it has: Brightness, White Balance Temperature)`},
	} {
		ctl, err := ParseControl(c.in)
		if err != nil {
			t.Fatal(err)
		}
		_, err = resolve("/dev/video0", []Control{ctl}, have)
		if (c.err == "") != (err == nil) || (err != nil && err.Error() != c.err) {
			t.Errorf("%s: %v, want %q", c.in, err, c.err)
		}
	}
	for _, bad := range []string{"brightness", "brightness=high"} {
		if _, err := ParseControl(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
