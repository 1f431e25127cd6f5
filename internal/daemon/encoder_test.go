package daemon

import (
	"bytes"
	"errors"
	"image"
	"log/slog"
	"testing"

	"flowcam/capture"
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
