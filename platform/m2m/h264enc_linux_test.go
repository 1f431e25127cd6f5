package m2m

import (
	"context"
	"errors"
	"image"
	"testing"
	"time"

	"flowcam/capture"
	"flowcam/capture/h264"
	"flowcam/capture/pattern"
	"flowcam/stream/format/rtph264"
	"flowcam/stream/server/broadcast"
)

// openFakeH264 opens an H264Encoder on a fake of bcm2835-codec's encode
// node.
func openFakeH264(t *testing.T, cfg H264Config, tweak func(*fakeDevice)) (*H264Encoder, *fakeDevice) {
	t.Helper()
	d := newFake(loadFixture(t, "bcm2835-codec-encode.json"))
	if tweak != nil {
		tweak(d)
	}
	e, err := newH264Encoder(func(string) (ioctler, error) { return d, nil }, "/dev/video11", cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e, d
}

// nalTypes lists an access unit's NAL unit types.
func nalTypes(au []byte) []int {
	var out []int
	for _, n := range h264.SplitAnnexB(nil, au) {
		out = append(out, int(n[0]&0x1f))
	}
	return out
}

// TestH264Encoder: the configuration reaches the driver's controls (with
// the parameter sets repeated before every IDR), the first picture is an
// IDR with its parameter sets in front, the GOP sets the next ones, and
// ForceKeyFrame makes the very next picture an IDR.
func TestH264Encoder(t *testing.T) {
	cfg := H264Config{Bitrate: 1_500_000, GOP: 10, Profile: 1, Level: 11}
	e, d := openFakeH264(t, cfg, nil)
	img := picture(640, 480, image.YCbCrSubsampleRatio420)
	var keys []int
	for i := range 25 {
		if i == 14 {
			e.ForceKeyFrame()
		}
		img.Y[0] = byte(i)
		au, key, err := e.Encode([]byte("kept"), img)
		if err != nil {
			t.Fatalf("picture %d: %v", i, err)
		}
		if string(au[:4]) != "kept" || au[len(au)-1] != byte(i) {
			t.Fatalf("picture %d: % x: not appended to dst, or not this picture's", i, au)
		}
		types := nalTypes(au[4:])
		if key {
			keys = append(keys, i)
			if len(types) != 3 || types[0] != h264.TypeSPS || types[1] != h264.TypePPS || types[2] != h264.TypeIDR {
				t.Fatalf("key picture %d: NAL types %v, want SPS, PPS, IDR", i, types)
			}
		} else if len(types) != 1 || types[0] != 1 {
			t.Fatalf("picture %d: NAL types %v, want one non-IDR slice", i, types)
		}
	}
	if want := []int{0, 10, 14, 20}; !equalInts(keys, want) {
		t.Fatalf("IDR pictures %v, want %v (GOP 10, forced at 14)", keys, want)
	}
	for id, want := range map[uint32]int32{cidBitrate: 1_500_000, cidH264IPeriod: 10, cidRepeatSeqHeader: 1,
		cidH264Profile: 1, cidH264Level: 11} {
		if d.ctrls[id] != want {
			t.Errorf("control 0x%x = %d, want %d", id, d.ctrls[id], want)
		}
	}
	if _, capFmt := e.s.Formats(); capFmt.FourCC != FmtH264 || capFmt.Planes[0].SizeImage != 512<<10 {
		t.Errorf("capture format %v %+v", capFmt, capFmt.Planes)
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestH264HeaderAlone: an encoder that hands the stream header back in a
// buffer of its own, before the first picture, still gives one access unit
// per picture: header and IDR together.
func TestH264HeaderAlone(t *testing.T) {
	e, d := openFakeH264(t, DefaultH264, func(d *fakeDevice) { d.headerAlone = true })
	img := picture(320, 240, image.YCbCrSubsampleRatio420)
	for i := range 3 {
		au, key, err := e.Encode(nil, img)
		if err != nil {
			t.Fatal(err)
		}
		types := nalTypes(au)
		if i == 0 && (!key || len(types) != 3 || types[2] != h264.TypeIDR) {
			t.Fatalf("first picture: key %v, NAL types %v; want SPS, PPS, IDR", key, types)
		}
		if i > 0 && (key || len(types) != 1) {
			t.Fatalf("picture %d: key %v, NAL types %v", i, key, types)
		}
	}
	if d.count("VIDIOC_QBUF") != 3+4 { // three OUTPUT, four CAPTURE buffers
		t.Errorf("%d buffers queued, want 7", d.count("VIDIOC_QBUF"))
	}
}

// TestH264Refusals: a device without H.264 is refused with ErrNoH264; a
// driver without the force-key-frame button still encodes (the next IDR
// comes at its period); a size the driver cannot take fails the picture.
func TestH264Refusals(t *testing.T) {
	d := newFake(loadFixture(t, "bcm2835-codec-encode_image.json"))
	if _, err := newH264Encoder(func(string) (ioctler, error) { return d, nil }, "/dev/video31", DefaultH264, nil); !errors.Is(err, ErrNoH264) {
		t.Fatalf("JPEG-only device: %v, want ErrNoH264", err)
	}
	e, _ := openFakeH264(t, H264Config{GOP: 4, Profile: -1, Level: -1}, func(d *fakeDevice) { d.noForce = true })
	img := picture(320, 240, image.YCbCrSubsampleRatio420)
	var keys []int
	for i := range 6 {
		if i == 2 {
			e.ForceKeyFrame()
		}
		if _, key, err := e.Encode(nil, img); err != nil {
			t.Fatal(err)
		} else if key {
			keys = append(keys, i)
		}
	}
	if !equalInts(keys, []int{0, 4}) {
		t.Fatalf("IDR pictures %v without the button, want [0 4]", keys)
	}
	if _, _, err := e.Encode(nil, picture(4000, 240, image.YCbCrSubsampleRatio420)); err == nil {
		t.Fatal("a 4000-pixel-wide picture was encoded by a driver that takes 1920 at most")
	}
}

// next waits for s's next frame.
func next(t *testing.T, s *broadcast.Subscriber) *broadcast.Unit {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		if u := s.Next(); u != nil {
			return u
		}
		select {
		case <-s.Ready():
		case <-deadline:
			t.Fatal("no frame for 10 s")
		}
	}
}

// TestPLIAsksTheEncoder: the pattern through the capture pipeline and this
// encoder into a broadcaster, as flowcamd wires an H.264 path of raw
// pictures. A viewer's key frame request (what an RTCP PLI or FIR becomes)
// reaches the encoder, and the viewer's next frame is an IDR, although the
// encoder's own come ten seconds apart.
func TestPLIAsksTheEncoder(t *testing.T) {
	e, _ := openFakeH264(t, H264Config{GOP: 250, Profile: -1, Level: -1}, nil)
	pk, err := rtph264.NewPacketizer(1400)
	if err != nil {
		t.Fatal(err)
	}
	b := broadcast.New(broadcast.H264(pk), nil, broadcast.WithKeyFrameSource(e))
	src, err := pattern.New(capture.Size{Width: 320, Height: 240}, 25)
	if err != nil {
		t.Fatal(err)
	}
	p := capture.NewPipeline(src, nil, b.Publish, nil, capture.WithVideoEncoder(e))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { p.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	s := b.Subscribe(32)
	defer s.Close()
	if u := next(t, s); !u.Key {
		t.Fatalf("a new viewer's first frame %d is not the key frame", u.Seq)
	} else {
		u.Release()
	}
	var last uint64
	for range 5 {
		u := next(t, s)
		if u.Key {
			t.Fatalf("frame %d is a key frame with a GOP of 250", u.Seq)
		}
		last = u.Seq
		u.Release()
	}
	if !s.RequestKeyFrame(time.Now(), time.Second) {
		t.Fatal("the request was refused")
	}
	u := next(t, s)
	defer u.Release()
	// Not the kept group again (what a passthrough source's viewer gets):
	// a new picture, encoded as an IDR.
	if !u.Key || u.Seq <= last {
		t.Fatalf("after the request the viewer got frame %d (key %v), want a new IDR after %d", u.Seq, u.Key, last)
	}
	if st := p.Stats(); st.Encoded < 7 || st.Dropped != 0 {
		t.Fatalf("pipeline %+v", st)
	}
}
