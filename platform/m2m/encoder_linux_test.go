package m2m

import (
	"bytes"
	"errors"
	"image"
	"testing"
)

// openFake opens an Encoder on a fake of the named fixture.
func openFake(t *testing.T, quality int, tweak func(*fakeDevice)) (*Encoder, *fakeDevice) {
	t.Helper()
	d := newFake(loadFixture(t, "bcm2835-codec-encode_image.json"))
	if tweak != nil {
		tweak(d)
	}
	e, err := newEncoder(func(string) (ioctler, error) { return d, nil }, "/dev/video31", quality, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e, d
}

// picture is a w x h picture whose every sample encodes its position, so a
// misplaced row or plane shows.
func picture(w, h int, ratio image.YCbCrSubsampleRatio) *image.YCbCr {
	img := image.NewYCbCr(image.Rect(0, 0, w, h), ratio)
	for i := range img.Y {
		img.Y[i] = byte(i/img.YStride*7 + i%img.YStride)
	}
	for i := range img.Cb {
		img.Cb[i] = byte(100 + i/img.CStride)
		img.Cr[i] = byte(200 + i%img.CStride)
	}
	return img
}

func TestEncodeJPEGPath(t *testing.T) {
	e, d := openFake(t, 75, nil)
	if d.ctrls[cidJPEGQuality] != 75 {
		t.Fatalf("quality control %d, want 75", d.ctrls[cidJPEGQuality])
	}
	img := picture(1280, 720, image.YCbCrSubsampleRatio420)
	img.Y[0] = 0x42
	prefix := []byte("kept")
	out, err := e.Encode(prefix, img)
	if err != nil {
		t.Fatal(err)
	}
	want := append([]byte("kept"), 0xff, 0xd8, 0xff, 0xfe, 0, 4, 75, 0x42, 0xff, 0xd9)
	if !bytes.Equal(out, want) {
		t.Fatalf("Encode gave % x, want % x (bytesused bytes appended to dst)", out, want)
	}
	outFmt, capFmt := e.s.Formats()
	if outFmt.FourCC != FmtYUV420 || capFmt.FourCC != FmtJPEG || capFmt.Planes[0].SizeImage != 4<<20 {
		t.Fatalf("formats %v %+v / %v %+v", outFmt, outFmt.Planes, capFmt, capFmt.Planes)
	}
	if e.Name() != `/dev/video31 (bcm2835-codec, "bcm2835-codec-encode_image", multi-planar)` {
		t.Errorf("Name() = %s", e.Name())
	}
}

// TestDriverStride checks the copy honours the driver's padded layout:
// bcm2835 aligns the stride to 32 and the height to 16.
func TestDriverStride(t *testing.T) {
	cases := []struct {
		w, h         int
		stride, rows int
		ratio        image.YCbCrSubsampleRatio
		raw          FourCC
	}{
		{100, 75, 128, 80, image.YCbCrSubsampleRatio420, FmtYUV420},
		{1920, 1080, 1920, 1088, image.YCbCrSubsampleRatio420, FmtYUV420},
		{64, 33, 64, 48, image.YCbCrSubsampleRatio420, FmtYUV420},
		{100, 40, 256, 48, image.YCbCrSubsampleRatio422, FmtYUYV}, // bcm2835 has no 422P
	}
	for _, c := range cases {
		e, d := openFake(t, 80, nil)
		img := picture(c.w, c.h, c.ratio)
		if _, err := e.Encode(nil, img); err != nil {
			t.Fatalf("%dx%d: %v", c.w, c.h, err)
		}
		f, _ := e.s.Formats()
		if f.FourCC != c.raw || f.Planes[0].BytesPerLine != c.stride || f.Height != c.rows {
			t.Fatalf("%dx%d: negotiated %v stride %d, want %s stride %d rows %d", c.w, c.h, f, f.Planes[0].BytesPerLine, c.raw, c.stride, c.rows)
		}
		checkRaw(t, d.lastPayload, img, c.stride, c.rows, c.raw)
	}
}

// checkRaw reads samples back out of the bytes the device got.
func checkRaw(t *testing.T, raw []byte, img *image.YCbCr, stride, rows int, f FourCC) {
	t.Helper()
	w, h := img.Rect.Dx(), img.Rect.Dy()
	for _, y := range []int{0, h / 2, h - 1, rows - 1} {
		sy := min(y, h-1)
		for _, x := range []int{0, w / 2, w - 1} {
			var got, cb byte
			if f == FmtYUYV {
				got, cb = raw[y*stride+2*x], raw[y*stride+4*(x/2)+1]
			} else {
				cy := y / 2
				got, cb = raw[y*stride+x], raw[stride*rows+cy*(stride/2)+x/2]
			}
			if want := img.YCbCrAt(x, sy); got != want.Y || cb != want.Cb {
				t.Fatalf("%s %dx%d: sample (%d,%d) Y %d Cb %d, want %d %d", f, w, h, x, y, got, cb, want.Y, want.Cb)
			}
		}
	}
}

func TestBuffersRecycled(t *testing.T) {
	e, d := openFake(t, 80, nil)
	img := picture(640, 480, image.YCbCrSubsampleRatio420)
	var out []byte
	for i := 0; i < 50; i++ {
		var err error
		if out, err = e.Encode(out[:0], img); err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
	}
	st := e.Stats()
	if st.Frames != 50 || st.Allocations != 2 || st.Mmaps != 4 || d.count("VIDIOC_REQBUFS") != 2 || d.mapped != 4 {
		t.Fatalf("50 frames: %+v, %d REQBUFS, %d mapped: buffers must be reused, not reallocated", st, d.count("VIDIOC_REQBUFS"), d.mapped)
	}
	// A new size renegotiates once: free (REQBUFS 0) and allocate again.
	if _, err := e.Encode(nil, picture(320, 240, image.YCbCrSubsampleRatio420)); err != nil {
		t.Fatal(err)
	}
	if st := e.Stats(); st.Negotiations != 2 || d.count("VIDIOC_REQBUFS") != 6 || d.count("VIDIOC_STREAMOFF") != 2 || d.mapped != 4 {
		t.Fatalf("after a size change: %+v, calls %v", st, d.calls[len(d.calls)-12:])
	}
}

func TestDriverMisbehaves(t *testing.T) {
	cases := []struct {
		name  string
		tweak func(*fakeDevice)
		want  error
	}{
		{"bytesused beyond the buffer", func(d *fakeDevice) { d.bytesUsed = 5 << 20 }, ErrDriver},
		{"stuck driver times out", func(d *fakeDevice) { d.stuck = true }, ErrTimeout},
		{"buffer flagged corrupt", func(d *fakeDevice) { d.errorFlag = true }, ErrDriver},
		{"format substituted", func(d *fakeDevice) { d.substitute = fourcc("NV12") }, ErrFormat},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e, d := openFake(t, 80, nil)
			c.tweak(d)
			img := picture(320, 240, image.YCbCrSubsampleRatio420)
			if _, err := e.Encode(nil, img); !errors.Is(err, c.want) {
				t.Fatalf("err %v, want %v", err, c.want)
			}
			// The driver recovers: the next frame works on reset queues.
			*d = fakeDevice{fx: d.fx, ctrls: d.ctrls, fmts: d.fmts, bufs: d.bufs, queued: d.queued, done: d.done,
				streaming: d.streaming, mapped: d.mapped, calls: d.calls}
			if out, err := e.Encode(nil, img); err != nil || len(out) != 10 {
				t.Fatalf("after recovery: %d bytes, %v", len(out), err)
			}
		})
	}
}

func TestBadInput(t *testing.T) {
	short := picture(64, 64, image.YCbCrSubsampleRatio420)
	short.Y = short.Y[:100]
	cases := []struct {
		name string
		img  *image.YCbCr
		want error
	}{
		{"4:4:4 is not offered", picture(64, 64, image.YCbCrSubsampleRatio444), ErrFormat},
		{"4:4:0", picture(64, 64, image.YCbCrSubsampleRatio440), ErrFormat},
		{"truncated planes", short, nil},
		{"nil", nil, nil},
		{"empty", image.NewYCbCr(image.Rect(0, 0, 0, 0), image.YCbCrSubsampleRatio420), nil},
		{"offset bounds", image.NewYCbCr(image.Rect(2, 2, 66, 66), image.YCbCrSubsampleRatio420), nil},
		{"larger than the device allows", picture(4000, 64, image.YCbCrSubsampleRatio420), ErrFormat},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e, _ := openFake(t, 80, nil)
			out, err := e.Encode([]byte("x"), c.img)
			if err == nil || (c.want != nil && !errors.Is(err, c.want)) || string(out) != "x" {
				t.Fatalf("Encode: %q, %v (want %v and dst untouched)", out, err, c.want)
			}
		})
	}
}

func TestOpenEncoder(t *testing.T) {
	vim := fakeNodes(t)["vim2m"]
	cases := []struct {
		name    string
		fx      fixture
		quality int
		tweak   func(*fakeDevice)
		want    error
		ctrl    int32
	}{
		{"bcm2835", loadFixture(t, "bcm2835-codec-encode_image.json"), 90, nil, nil, 90},
		{"S_CTRL when there are no extended controls", loadFixture(t, "bcm2835-codec-encode_image.json"), 30,
			func(d *fakeDevice) { d.noExtCtrls = true }, nil, 30},
		{"vim2m makes no JPEG", vim, 80, nil, ErrNoJPEG, 0},
		{"quality out of range", loadFixture(t, "bcm2835-codec-encode_image.json"), 0, nil, errors.New("range"), 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := newFake(c.fx)
			if c.tweak != nil {
				c.tweak(d)
			}
			e, err := newEncoder(func(string) (ioctler, error) { return d, nil }, "/dev/video9", c.quality, nil)
			if c.want != nil {
				if err == nil || (errors.Is(c.want, ErrNoJPEG) && !errors.Is(err, ErrNoJPEG)) {
					t.Fatalf("err %v, want %v", err, c.want)
				}
				if d.count("VIDIOC_QUERYCAP") > 0 && !d.closed {
					t.Fatal("device left open after a failed NewEncoder")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer e.Close()
			if d.ctrls[cidJPEGQuality] != c.ctrl {
				t.Fatalf("quality control %d, want %d", d.ctrls[cidJPEGQuality], c.ctrl)
			}
		})
	}
}

func TestCloseReleasesEverything(t *testing.T) {
	e, d := openFake(t, 80, nil)
	if _, err := e.Encode(nil, picture(320, 240, image.YCbCrSubsampleRatio420)); err != nil {
		t.Fatal(err)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	tail := d.calls[len(d.calls)-4:]
	want := []string{"VIDIOC_STREAMOFF", "VIDIOC_REQBUFS", "VIDIOC_STREAMOFF", "VIDIOC_REQBUFS"}
	for i := range want {
		if tail[i] != want[i] {
			t.Fatalf("Close ran %v, want %v", tail, want)
		}
	}
	if d.mapped != 0 || !d.closed {
		t.Fatalf("after Close: %d mappings, closed %v", d.mapped, d.closed)
	}
	if err := e.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := e.Encode(nil, picture(320, 240, image.YCbCrSubsampleRatio420)); !errors.Is(err, ErrClosed) {
		t.Fatalf("Encode after Close: %v", err)
	}
}
