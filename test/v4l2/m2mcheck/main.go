// Command m2mcheck drives the kernel's virtual mem2mem driver vim2m
// through platform/m2m inside the test VM (m2m_test.go boots it): device
// discovery must not take vim2m for a JPEG encoder, and the generic
// machinery (format negotiation, MMAP buffers recycled over many frames,
// renegotiation, controls, errors) must produce exactly the bytes vim2m's
// conversion computes. It prints one "ok NAME: details" line per check,
// "FAIL NAME: error" on the first failure (exit status 1), and a closing
// "RESULT key=value ..." line.
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"time"

	"flowcam/platform/m2m"
)

// vim2m's private controls (V4L2_CID_USER_BASE + 0x1000, + 0x1001) and the
// standard flip control.
const (
	cidTransTime = 0x00980900 + 0x1000
	cidHFlip     = 0x00980914
)

var frames = flag.Int("frames", 200, "frames to push through the first configuration")

func main() {
	flag.Parse()
	dev, err := discover()
	if err != nil {
		fail("discover", err)
	}
	began := time.Now()
	st, err := convert(dev, *frames)
	if err != nil {
		fail("convert", err)
	}
	elapsed := time.Since(began)
	if err := reopen(dev); err != nil {
		fail("reopen", err)
	}
	if err := timeout(dev); err != nil {
		fail("timeout", err)
	}
	fmt.Printf("RESULT device=%s frames=%d output_buffers=%d capture_buffers=%d allocations=%d mmaps=%d negotiations=%d elapsed_ms=%d\n",
		dev, st.Frames, st.OutputBuffers, st.CaptureBuffers, st.Allocations, st.Mmaps, st.Negotiations, elapsed.Milliseconds())
}

func fail(name string, err error) {
	fmt.Printf("FAIL %s: %v\n", name, err)
	os.Exit(1)
}

func ok(name, format string, args ...any) {
	fmt.Printf("ok %s: %s\n", name, fmt.Sprintf(format, args...))
}

// discover finds vim2m by capability and checks it is not taken for a
// JPEG encoder, neither by Find nor by NewEncoder.
func discover() (string, error) {
	devs, err := m2m.Scan()
	if err != nil {
		return "", err
	}
	if len(devs) != 1 || devs[0].Driver != "vim2m" || devs[0].MPlane {
		return "", fmt.Errorf("want exactly vim2m (single-planar) among the M2M devices, got %v", devs)
	}
	d := devs[0]
	ok("scan", "%s takes %v, gives %v", d, d.Output, d.Capture)
	if _, err := m2m.Find(); !errors.Is(err, m2m.ErrNoJPEG) {
		return "", fmt.Errorf("Find with only vim2m: %v, want ErrNoJPEG", err)
	}
	ok("find", "vim2m is not a JPEG encoder")
	if e, err := m2m.NewEncoder(d.Path, 80, nil); !errors.Is(err, m2m.ErrNoJPEG) {
		if e != nil {
			e.Close()
		}
		return "", fmt.Errorf("NewEncoder(%s): %v, want ErrNoJPEG", d.Path, err)
	}
	ok("encoder", "NewEncoder refuses vim2m with ErrNoJPEG")
	return d.Path, nil
}

// convert pushes frames through few buffers, checking every result.
func convert(dev string, n int) (m2m.Stats, error) {
	s, err := m2m.OpenSession(dev, m2m.WithBuffers(2), m2m.WithTimeout(10*time.Second))
	if err != nil {
		return m2m.Stats{}, err
	}
	defer s.Close()
	// vim2m holds each frame 40 ms by default to play a slow device.
	if err := s.SetControl(cidTransTime, 1); err != nil {
		return m2m.Stats{}, err
	}
	if v, err := s.Control(cidTransTime); err != nil || v != 1 {
		return m2m.Stats{}, fmt.Errorf("transaction time reads back %d, %v", v, err)
	}
	steps := []struct {
		name         string
		out, cap     m2m.FourCC
		w, h, frames int
		hflip        bool
	}{
		{"rgb24-to-bgr24", m2m.FmtRGB24, m2m.FmtBGR24, 160, 120, n, false},
		{"rgb24-to-yuyv", m2m.FmtRGB24, m2m.FmtYUYV, 320, 240, 20, false},
		{"rgb24-hflip", m2m.FmtRGB24, m2m.FmtRGB24, 64, 32, 10, true},
	}
	for _, st := range steps {
		if err := s.SetControl(cidHFlip, boolInt(st.hflip)); err != nil {
			return s.Stats(), err
		}
		if err := run(s, st.out, st.cap, st.w, st.h, st.frames, st.hflip); err != nil {
			return s.Stats(), fmt.Errorf("%s: %w", st.name, err)
		}
		ok(st.name, "%d frames %dx%d %s -> %s, every byte as vim2m computes it; %+v", st.frames, st.w, st.h, st.out, st.cap, s.Stats())
	}
	if err := s.SetControl(cidHFlip, 0); err != nil {
		return s.Stats(), err
	}
	if err := refusals(s); err != nil {
		return s.Stats(), err
	}
	return s.Stats(), nil
}

func boolInt(b bool) int32 {
	if b {
		return 1
	}
	return 0
}

func run(s *m2m.Session, out, capture m2m.FourCC, w, h, frames int, hflip bool) error {
	of, cf, err := s.Configure(m2m.Format{FourCC: out, Width: w, Height: h}, m2m.Format{FourCC: capture, Width: w, Height: h})
	if err != nil {
		return err
	}
	if of.Width != w || of.Height != h || cf.Width != w || cf.Height != h {
		return fmt.Errorf("negotiated %v / %v", of, cf)
	}
	var got []byte
	for i := 0; i < frames; i++ {
		src := pattern(w, h, i)
		got, err = s.Process(got[:0], fillPattern(w, h, i))
		if err != nil {
			return fmt.Errorf("frame %d: %w", i, err)
		}
		want := expected(src, w, h, capture, hflip)
		if !bytes.Equal(got, want) {
			return fmt.Errorf("frame %d: %d bytes differ from the %d expected (first at %d)", i, len(got), len(want), firstDiff(got, want))
		}
	}
	return nil
}

// refusals: formats vim2m does not have must fail cleanly and leave the
// session usable.
func refusals(s *m2m.Session) error {
	cases := []struct{ out, cap m2m.FourCC }{
		{m2m.FmtYUV420, m2m.FmtRGB24}, // vim2m takes no YUV
		{m2m.FmtRGB24, m2m.FmtJPEG},   // nor makes JPEG
	}
	for _, c := range cases {
		_, _, err := s.Configure(m2m.Format{FourCC: c.out, Width: 64, Height: 64}, m2m.Format{FourCC: c.cap, Width: 64, Height: 64})
		if !errors.Is(err, m2m.ErrFormat) {
			return fmt.Errorf("%s -> %s: %v, want ErrFormat", c.out, c.cap, err)
		}
		ok("refuse", "%s -> %s: %v", c.out, c.cap, err)
	}
	return run(s, m2m.FmtRGB24, m2m.FmtBGR24, 32, 32, 2, false)
}

// reopen proves Close released the device: it can be opened, configured
// and used again.
func reopen(dev string) error {
	s, err := m2m.OpenSession(dev)
	if err != nil {
		return err
	}
	if err := s.SetControl(cidTransTime, 1); err != nil {
		s.Close()
		return err
	}
	if err := run(s, m2m.FmtRGB24, m2m.FmtBGR24, 64, 48, 3, false); err != nil {
		s.Close()
		return err
	}
	if err := s.Close(); err != nil {
		return err
	}
	ok("reopen", "device usable again after Close")
	return nil
}

// timeout makes vim2m slower than the session waits: the frame must fail
// with ErrTimeout rather than hang, and the next one, after the session
// has reset its queues, must come back intact.
func timeout(dev string) error {
	s, err := m2m.OpenSession(dev, m2m.WithTimeout(300*time.Millisecond))
	if err != nil {
		return err
	}
	defer s.Close()
	if err := s.SetControl(cidTransTime, 1500); err != nil {
		return err
	}
	err = run(s, m2m.FmtRGB24, m2m.FmtBGR24, 64, 48, 1, false)
	if !errors.Is(err, m2m.ErrTimeout) {
		return fmt.Errorf("a 1.5 s frame with a 300 ms timeout gave %v, want ErrTimeout", err)
	}
	ok("timeout", "%v", err)
	if err := s.SetControl(cidTransTime, 1); err != nil {
		return err
	}
	for i := 0; i < 3; i++ {
		got, err := s.Process(nil, fillPattern(64, 48, i))
		if err != nil {
			return fmt.Errorf("after the timeout, frame %d: %w", i, err)
		}
		if !bytes.Equal(got, expected(pattern(64, 48, i), 64, 48, m2m.FmtBGR24, false)) {
			return fmt.Errorf("after the timeout, frame %d differs from vim2m's conversion", i)
		}
	}
	ok("recover", "3 frames converted right after the timeout; %+v", s.Stats())
	return nil
}

// pattern is an RGB24 picture that differs per frame.
func pattern(w, h, frame int) []byte {
	p := make([]byte, 3*w*h)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			o := 3 * (y*w + x)
			p[o], p[o+1], p[o+2] = byte(x*3+frame), byte(y*5+frame*7), byte(x+y+frame*13)
		}
	}
	return p
}

// fillPattern copies pattern(w, h, frame) into a buffer row by row with
// the driver's stride.
func fillPattern(w, h, frame int) m2m.FillFunc {
	src := pattern(w, h, frame)
	return func(planes [][]byte, f m2m.Format) ([]int, error) {
		bpl := f.Planes[0].BytesPerLine
		for y := 0; y < h; y++ {
			copy(planes[0][y*bpl:], src[y*3*w:(y+1)*3*w])
		}
		return []int{f.Planes[0].SizeImage}, nil
	}
}

// expected is vim2m's conversion of an RGB24 picture (device_process and
// copy_two_pixels in drivers/media/test-drivers/vim2m.c).
func expected(src []byte, w, h int, capture m2m.FourCC, hflip bool) []byte {
	var out []byte
	for y := 0; y < h; y++ {
		row := src[3*w*y : 3*w*(y+1)]
		px := func(x int) (r, g, b int) {
			if hflip {
				x = w - 1 - x
			}
			return int(row[3*x]), int(row[3*x+1]), int(row[3*x+2])
		}
		for x := 0; x < w; x += 2 {
			r0, g0, b0 := px(x)
			r1, g1, b1 := px(x + 1)
			switch capture {
			case m2m.FmtBGR24:
				out = append(out, byte(b0), byte(g0), byte(r0), byte(b1), byte(g1), byte(r1))
			case m2m.FmtRGB24:
				out = append(out, byte(r0), byte(g0), byte(b0), byte(r1), byte(g1), byte(b1))
			case m2m.FmtYUYV:
				y0 := (8453*r0 + 16594*g0 + 3223*b0 + 524288) >> 15
				u := (-4878*r0 - 9578*g0 + 14456*b0 + 4210688) >> 15
				v := (14456*r0 - 12105*g0 - 2351*b0 + 4210688) >> 15
				y1 := (8453*r1 + 16594*g1 + 3223*b1 + 524288) >> 15
				out = append(out, byte(y0), byte(u), byte(y1), byte(v))
			}
		}
	}
	return out
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}
