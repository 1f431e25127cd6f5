package m2m

import (
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Session is one open mem2mem device with a negotiated pair of formats and
// its buffers: raw pictures go in on the OUTPUT queue, results come back on
// the CAPTURE queue. Buffers are allocated once per Configure and recycled
// frame after frame. A Session is used by one goroutine.
type Session struct {
	dev     ioctler
	info    DeviceInfo
	timeout time.Duration
	nbufs   int
	log     *slog.Logger

	out, cap  queue
	streaming bool
	broken    bool // a frame failed half way: queues are reset before the next
	closed    bool
	stats     Stats
}

// Stats count what a Session did, so tests can tell recycling from
// reallocation.
type Stats struct {
	Frames         uint64 // frames through the device
	Negotiations   int    // successful Configure calls
	Allocations    int    // REQBUFS calls that allocated buffers (two per Configure)
	Mmaps          int    // buffer planes mapped
	OutputBuffers  int    // buffers on the OUTPUT queue now
	CaptureBuffers int    // buffers on the CAPTURE queue now
	Resets         int    // queue restarts after a failed frame
}

type queue struct {
	typ    uint32
	name   string
	format Format
	bufs   [][][]byte // buffer index -> memory plane -> mapping
	free   []int
	// planes is handed to the kernel by address for multi-planar buffer
	// ioctls; it lives on the heap with the Session, so it does not move.
	planes []plane
}

// SessionOption adjusts OpenSession.
type SessionOption func(*Session)

// WithTimeout bounds the wait for one frame (default 2 s; the Pi encodes a
// 1080p frame in tens of milliseconds, an emulated guest is much slower).
func WithTimeout(d time.Duration) SessionOption { return func(s *Session) { s.timeout = d } }

// WithBuffers sets how many buffers to request per queue (default 2; the
// driver may grant another number).
func WithBuffers(n int) SessionOption { return func(s *Session) { s.nbufs = n } }

// WithLogger logs negotiation at debug level.
func WithLogger(l *slog.Logger) SessionOption {
	return func(s *Session) {
		if l != nil {
			s.log = l
		}
	}
}

// OpenSession opens an M2M node (either API). Configure it before Process.
func OpenSession(path string, opts ...SessionOption) (*Session, error) {
	return openSession(openFile, path, opts...)
}

func openSession(open opener, path string, opts ...SessionOption) (*Session, error) {
	d, err := open(path)
	if err != nil {
		return nil, fmt.Errorf("m2m: open %s: %w", path, err)
	}
	info, err := probe(d, path)
	if err != nil {
		d.Close()
		return nil, fmt.Errorf("m2m: %w", err)
	}
	s := &Session{dev: d, info: info, timeout: 2 * time.Second, nbufs: 2, log: slog.New(slog.DiscardHandler)}
	for _, o := range opts {
		o(s)
	}
	if s.nbufs < 1 || s.nbufs > 32 {
		d.Close()
		return nil, fmt.Errorf("m2m: %s: %d buffers requested, want 1-32", path, s.nbufs)
	}
	outType, capType := queueTypes(info.MPlane)
	s.out = queue{typ: outType, name: "output", planes: make([]plane, maxPlanes)}
	s.cap = queue{typ: capType, name: "capture", planes: make([]plane, maxPlanes)}
	return s, nil
}

// Info is what the device said about itself.
func (s *Session) Info() DeviceInfo { return s.info }

// Stats reports the counters.
func (s *Session) Stats() Stats {
	st := s.stats
	st.OutputBuffers, st.CaptureBuffers = len(s.out.bufs), len(s.cap.bufs)
	return st
}

// Formats are the negotiated OUTPUT (raw in) and CAPTURE (result) formats.
func (s *Session) Formats() (out, capture Format) { return s.out.format, s.cap.format }

// Configure (re)negotiates both queues: FourCC, Width and Height of each
// request are asked for; the driver's answer (strides, sizes, planes) is
// returned. Buffers of an earlier configuration are released first. A
// driver that substitutes another pixel format, or shrinks the picture,
// fails with ErrFormat.
func (s *Session) Configure(out, capture Format) (Format, Format, error) {
	if s.closed {
		return Format{}, Format{}, ErrClosed
	}
	if err := s.teardown(); err != nil {
		return Format{}, Format{}, err
	}
	var err error
	if s.out.format, err = s.setFormat(&s.out, out, s.info.Output); err != nil {
		return Format{}, Format{}, err
	}
	if s.cap.format, err = s.setFormat(&s.cap, capture, s.info.Capture); err != nil {
		return Format{}, Format{}, err
	}
	if err := s.start(); err != nil {
		s.teardown()
		return Format{}, Format{}, err
	}
	s.stats.Negotiations++
	s.log.Debug("m2m: negotiated", "device", s.info.String(), "output", s.out.format.String(),
		"capture", s.cap.format.String(), "buffers", fmt.Sprintf("%d+%d", len(s.out.bufs), len(s.cap.bufs)))
	return s.out.format, s.cap.format, nil
}

func (s *Session) start() error {
	for _, q := range []*queue{&s.out, &s.cap} {
		if err := s.allocate(q); err != nil {
			return err
		}
	}
	for _, q := range []*queue{&s.out, &s.cap} {
		t := int32(q.typ)
		if err := ioctl(s.dev, s.info.Path, vidiocStreamOn, unsafe.Pointer(&t)); err != nil {
			return fmt.Errorf("m2m: %s queue: %w", q.name, err)
		}
	}
	s.streaming = true
	return nil
}

// setFormat runs S_FMT on q and checks the answer.
func (s *Session) setFormat(q *queue, want Format, offered []FourCC) (Format, error) {
	path := s.info.Path
	if !slices.Contains(offered, want.FourCC) {
		return Format{}, fmt.Errorf("m2m: %s: %s queue does not offer %s (it offers %s): %w",
			path, q.name, want.FourCC, formatList(offered), ErrFormat)
	}
	if want.Width <= 0 || want.Height <= 0 || want.Width > 1<<14 || want.Height > 1<<14 {
		return Format{}, fmt.Errorf("m2m: %s: bad picture size %dx%d", path, want.Width, want.Height)
	}
	f := format{Type: q.typ}
	if s.info.MPlane {
		p := f.pixMP()
		p.Width, p.Height, p.PixelFormat, p.Field = uint32(want.Width), uint32(want.Height), uint32(want.FourCC), fieldNone
	} else {
		p := f.pix()
		p.Width, p.Height, p.PixelFormat, p.Field = uint32(want.Width), uint32(want.Height), uint32(want.FourCC), fieldNone
	}
	if err := ioctl(s.dev, path, vidiocSFmt, unsafe.Pointer(&f)); err != nil {
		return Format{}, fmt.Errorf("m2m: %s queue %s: %w", q.name, want, err)
	}
	got, err := decodeFormat(&f, s.info.MPlane)
	if err != nil {
		return Format{}, fmt.Errorf("m2m: %s: %s queue: %w", path, q.name, err)
	}
	if got.FourCC != want.FourCC {
		return Format{}, fmt.Errorf("m2m: %s: asked the %s queue for %s, the driver chose %s: %w",
			path, q.name, want.FourCC, got.FourCC, ErrFormat)
	}
	if got.Width < want.Width || got.Height < want.Height {
		return Format{}, fmt.Errorf("m2m: %s: asked the %s queue for %dx%d, the driver allows %dx%d: %w",
			path, q.name, want.Width, want.Height, got.Width, got.Height, ErrFormat)
	}
	return got, nil
}

// decodeFormat reads S_FMT's answer, refusing plane counts and sizes no
// buffer could hold.
func decodeFormat(f *format, mplane bool) (Format, error) {
	var got Format
	if mplane {
		p := f.pixMP()
		got = Format{FourCC: FourCC(p.PixelFormat), Width: int(p.Width), Height: int(p.Height)}
		if p.NumPlanes < 1 || p.NumPlanes > maxPlanes {
			return got, fmt.Errorf("driver gave %d planes: %w", p.NumPlanes, ErrDriver)
		}
		for i := 0; i < int(p.NumPlanes); i++ {
			pf := p.PlaneFmt[i]
			got.Planes = append(got.Planes, PlaneFormat{BytesPerLine: int(pf.BytesPerLine), SizeImage: int(pf.SizeImage)})
		}
	} else {
		p := f.pix()
		got = Format{FourCC: FourCC(p.PixelFormat), Width: int(p.Width), Height: int(p.Height),
			Planes: []PlaneFormat{{BytesPerLine: int(p.BytesPerLine), SizeImage: int(p.SizeImage)}}}
	}
	for _, pl := range got.Planes {
		if pl.SizeImage <= 0 || pl.SizeImage > maxBufferBytes || pl.BytesPerLine < 0 || pl.BytesPerLine > pl.SizeImage {
			return got, fmt.Errorf("driver sized a plane %d bytes, %d per line: %w", pl.SizeImage, pl.BytesPerLine, ErrDriver)
		}
	}
	return got, nil
}

// maxBufferBytes bounds what we map for one plane: 256 MiB is far above
// any picture this daemon handles, far below a garbage length.
const maxBufferBytes = 256 << 20

// SetControl sets a control with VIDIOC_S_EXT_CTRLS in the control's class,
// or VIDIOC_S_CTRL on drivers without extended controls.
func (s *Session) SetControl(id uint32, value int32) error {
	if s.closed {
		return ErrClosed
	}
	c := extControl{ID: id, Value: value}
	cs := extControls{Which: id & 0x0fff0000, Count: 1, Controls: uintptr(unsafe.Pointer(&c))}
	err := s.dev.Ioctl(vidiocSExtCtrls, unsafe.Pointer(&cs))
	if errors.Is(err, unix.ENOTTY) {
		ctl := control{ID: id, Value: value}
		return ioctl(s.dev, s.info.Path, vidiocSCtrl, unsafe.Pointer(&ctl))
	}
	if err != nil {
		return fmt.Errorf("%s: VIDIOC_S_EXT_CTRLS 0x%x=%d: %w", s.info.Path, id, value, err)
	}
	return nil
}

// Control reads a control's current value.
func (s *Session) Control(id uint32) (int32, error) {
	if s.closed {
		return 0, ErrClosed
	}
	c := control{ID: id}
	if err := ioctl(s.dev, s.info.Path, vidiocGCtrl, unsafe.Pointer(&c)); err != nil {
		return 0, err
	}
	return c.Value, nil
}

// Close stops streaming, unmaps and frees the buffers and closes the
// device. Calling it again does nothing.
func (s *Session) Close() error {
	if s.closed {
		return nil
	}
	s.closed = true
	err := s.teardown()
	if cerr := s.dev.Close(); cerr != nil {
		err = errors.Join(err, fmt.Errorf("m2m: close %s: %w", s.info.Path, cerr))
	}
	return err
}
