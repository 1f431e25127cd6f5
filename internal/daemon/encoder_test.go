package daemon

import (
	"bytes"
	"errors"
	"image"
	"log/slog"
	"strings"
	"testing"

	"flowcam/capture"
	"flowcam/platform/board"
	"flowcam/platform/m2m"
)

// fakeHW stands in for the board's engine below the stream encoder.
type fakeHW struct {
	fail   error // from Encode
	closed bool
}

func (f *fakeHW) Encode(dst []byte, img *image.YCbCr) ([]byte, error) {
	if f.fail != nil {
		return dst, f.fail
	}
	return append(dst, "HWJPEG"...), nil
}
func (f *fakeHW) Name() string { return "/dev/video31 (fake)" }
func (f *fakeHW) Close() error { f.closed = true; return nil }

func TestStreamEncoderChoice(t *testing.T) {
	img := capture.NewYCbCr(capture.Size{Width: 64, Height: 48}, image.YCbCrSubsampleRatio420)
	openOK := func(dev *fakeHW) hardware {
		return hardware{name: "fake", open: func(int) (hardwareEncoder, error) { return dev, nil }}
	}
	openFails := hardware{name: "fake", open: func(int) (hardwareEncoder, error) { return nil, errors.New("EBUSY") }}
	none := hardware{reason: "no device"}
	soft := func(out []byte) bool { return bytes.HasPrefix(out, []byte{0xFF, 0xD8}) }
	hard := func(out []byte) bool { return string(out) == "HWJPEG" }
	cases := []struct {
		name    string
		mode    Encoder
		hw      hardware
		dev     *fakeHW
		want    func([]byte) bool
		wantErr bool
	}{
		{"auto uses the engine", "auto", hardware{}, &fakeHW{}, hard, false},
		{"auto without one uses libjpeg", "auto", none, nil, soft, false},
		{"auto falls back when it cannot open", "auto", openFails, nil, soft, false},
		{"auto falls back when it fails", "auto", hardware{}, &fakeHW{fail: errors.New("EIO")}, soft, false},
		{"libjpeg ignores the engine", "libjpeg", hardware{}, &fakeHW{}, soft, false},
		{"hardware does not fall back", "hardware", hardware{}, &fakeHW{fail: errors.New("EIO")}, nil, true},
		{"hardware that cannot open", "hardware", openFails, nil, nil, true},
		{"passthrough encodes nothing", "passthrough", hardware{}, &fakeHW{}, nil, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			hw := c.hw
			if c.dev != nil {
				hw = openOK(c.dev)
			}
			e, err := newStreamEncoder(StreamConfig{Quality: 80, Encoder: c.mode}, hw, slog.New(slog.DiscardHandler))
			if err != nil {
				t.Fatal(err)
			}
			for i := 0; i < 2; i++ { // the second frame shows the choice sticks
				out, err := e.Encode(nil, img)
				if (err != nil) != c.wantErr || (err == nil && !c.want(out)) {
					t.Fatalf("frame %d: %q, %v", i, out[:min(len(out), 8)], err)
				}
			}
			e.Close()
			if c.dev != nil && e.dev == nil && c.mode != "libjpeg" && c.mode != "passthrough" && !c.dev.closed {
				t.Error("engine not closed")
			}
		})
	}
}

func TestHardwareModeNeedsAnEngine(t *testing.T) {
	_, err := newStreamEncoder(StreamConfig{Quality: 80, Encoder: "hardware"}, hardware{reason: "m2m: no V4L2 memory-to-memory device"},
		slog.New(slog.DiscardHandler))
	if err == nil || !bytes.Contains([]byte(err.Error()), []byte("no V4L2 memory-to-memory device")) {
		t.Fatalf("encoder = hardware without an engine: %v", err)
	}
}

// TestPi5SaysItHasNoEncoder: on a Pi 5 the start line says there is no
// video encoder and where H.264 can come from instead.
func TestPi5SaysItHasNoEncoder(t *testing.T) {
	if _, err := m2m.Find(); err == nil {
		t.Skip("this machine has a V4L2 JPEG encoder")
	}
	hw := probeHardware(board.Info{Kind: board.RaspberryPi, Model: "Raspberry Pi 5 Model B Rev 1.0", SoC: "brcm,bcm2712"},
		slog.New(slog.DiscardHandler))
	for _, want := range []string{"Raspberry Pi 5", "no video encoder", "libcamera.codec: h264", "libjpeg-turbo encodes"} {
		if !strings.Contains(hw.String(), want) {
			t.Errorf("%q does not say %q", hw.String(), want)
		}
	}
}

// TestBoardH264: the board encoder gets the configured profile and level,
// and without a bit rate one scaled to the path's pixel rate.
func TestBoardH264(t *testing.T) {
	h := HelperConfig{H264GOP: 25, H264Profile: "high", H264Level: "4.1"}
	for _, tc := range []struct {
		sc      StreamConfig
		bitrate int
		want    m2m.H264Config
	}{
		{StreamConfig{Size: capture.Size{Width: 1280, Height: 720}, FPS: 25}, 0, m2m.H264Config{Bitrate: 2_000_000, GOP: 25, Profile: 4, Level: 12}},
		{StreamConfig{Size: capture.Size{Width: 1920, Height: 1080}, FPS: 30}, 0, m2m.H264Config{Bitrate: 5_400_000, GOP: 25, Profile: 4, Level: 12}},
		{StreamConfig{Size: capture.Size{Width: 160, Height: 120}, FPS: 5}, 0, m2m.H264Config{Bitrate: 250_000, GOP: 25, Profile: 4, Level: 12}},
		{StreamConfig{Size: capture.Size{Width: 1280, Height: 720}, FPS: 25}, 800_000, m2m.H264Config{Bitrate: 800_000, GOP: 25, Profile: 4, Level: 12}},
	} {
		h.H264Bitrate = tc.bitrate
		if got := boardH264(tc.sc, h); got != tc.want {
			t.Errorf("%v at %v fps, bitrate %d: %+v, want %+v", tc.sc.Size, tc.sc.FPS, tc.bitrate, got, tc.want)
		}
	}
	var auto H264Level
	if err := auto.UnmarshalText([]byte("auto")); err != nil || auto.v4l2() != -1 {
		t.Errorf("auto: %v %d", err, auto.v4l2())
	}
	var p H264Profile
	if err := p.UnmarshalText([]byte("extended")); err == nil {
		t.Error("an unknown profile is accepted")
	}
}
