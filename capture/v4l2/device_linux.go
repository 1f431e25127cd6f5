//go:build linux && cgo

package v4l2

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/vladimirvivien/go4vl/v4l2"
	"golang.org/x/sys/unix"

	"flowcam/capture"
)

// device is one open V4L2 capture device streaming into mmap buffers. It
// is used by one goroutine.
type device struct {
	path    string
	fd      uintptr
	card    string
	format  v4l2.PixFormat
	fps     float64
	count   uint32
	bufs    [][]byte
	queued  []bool
	started bool
}

// go4vl's buffer helpers take a StreamingDevice; these methods are the
// part of it they use.
func (d *device) Name() string                { return d.path }
func (d *device) Fd() uintptr                 { return d.fd }
func (d *device) Capability() v4l2.Capability { return v4l2.Capability{} }
func (d *device) MemIOType() v4l2.IOType      { return v4l2.IOTypeMMAP }
func (d *device) GetOutput() <-chan []byte    { return nil }
func (d *device) SetInput(<-chan []byte)      {}
func (d *device) Buffers() [][]byte           { return d.bufs }
func (d *device) BufferType() v4l2.BufType    { return v4l2.BufTypeVideoCapture }
func (d *device) BufferCount() uint32         { return d.count }
func (d *device) Start(context.Context) error { return errors.New("v4l2: use the capture loop") }
func (d *device) Stop() error                 { return nil }
func (d *device) Close() error                { return d.close() }

// ErrNotCapture means the node is not a streaming capture device (a
// metadata node, an output, a codec).
var ErrNotCapture = errors.New("not a video capture device with streaming I/O")

// openDevice opens path (symlinks such as /dev/v4l/by-id/... resolved)
// and checks it can capture.
func openDevice(path string) (*device, error) {
	real, err := filepath.EvalSymlinks(path)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	fd, err := v4l2.OpenDevice(real, unix.O_RDWR|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	d := &device{path: path, fd: fd}
	caps, err := v4l2.GetCapability(fd)
	if err != nil {
		d.close()
		return nil, fmt.Errorf("query %s: %w", path, err)
	}
	if !caps.IsVideoCaptureSupported() || !caps.IsStreamingSupported() {
		d.close()
		return nil, fmt.Errorf("%s (%s): %w", path, caps.Card, ErrNotCapture)
	}
	d.card = caps.Card
	return d, nil
}

// modes lists every format, size and frame rate the device offers.
func (d *device) modes() ([]Mode, error) {
	descs, err := v4l2.GetAllFormatDescriptions(d.fd)
	if err != nil {
		return nil, fmt.Errorf("%s: list formats: %w", d.path, err)
	}
	var out []Mode
	for _, desc := range descs {
		sizes, err := v4l2.GetFormatFrameSizes(d.fd, desc.PixelFormat)
		if err != nil {
			continue // a format without enumerable sizes cannot be negotiated
		}
		for _, s := range sizes {
			out = append(out, d.mode(FourCC(desc.PixelFormat), s))
		}
	}
	return out, nil
}

func (d *device) mode(f FourCC, s v4l2.FrameSizeEnum) Mode {
	m := Mode{Format: f, Size: capture.Size{Width: int(s.Size.MinWidth), Height: int(s.Size.MinHeight)}}
	if s.Type != v4l2.FrameSizeTypeDiscrete {
		m.Max = capture.Size{Width: int(s.Size.MaxWidth), Height: int(s.Size.MaxHeight)}
		m.Step = capture.Size{Width: int(max(s.Size.StepWidth, 1)), Height: int(max(s.Size.StepHeight, 1))}
		return m
	}
	for i := uint32(0); ; i++ {
		iv, err := v4l2.GetFormatFrameInterval(d.fd, i, uint32(f), s.Size.MinWidth, s.Size.MinHeight)
		if err != nil || iv.Type != v4l2.FrameIntervalTypeDiscrete {
			break
		}
		if iv.Interval.Min.Numerator > 0 {
			m.FPS = append(m.FPS, float64(iv.Interval.Min.Denominator)/float64(iv.Interval.Min.Numerator))
		}
	}
	return m
}

// configure sets format, size and frame rate, then reads back what the
// driver granted: drivers adjust silently, and the granted values
// (bytesperline included) are the ones the frames will have.
func (d *device) configure(f FourCC, size capture.Size, fps float64) error {
	want := v4l2.PixFormat{Width: uint32(size.Width), Height: uint32(size.Height),
		PixelFormat: v4l2.FourCCType(f), Field: v4l2.FieldNone}
	if err := v4l2.SetPixFormat(d.fd, want); err != nil {
		return fmt.Errorf("%s: set format %s %v: %w", d.path, f, size, err)
	}
	got, err := v4l2.GetPixFormat(d.fd)
	if err != nil {
		return fmt.Errorf("%s: get format: %w", d.path, err)
	}
	d.format = got
	d.fps = fps
	if fps > 0 {
		param := v4l2.StreamParam{Type: v4l2.BufTypeVideoCapture}
		param.Capture.TimePerFrame = v4l2.Fract{Numerator: 1000, Denominator: uint32(fps*1000 + 0.5)}
		if err := v4l2.SetStreamParam(d.fd, v4l2.BufTypeVideoCapture, param); err == nil {
			if p, err := v4l2.GetStreamParam(d.fd, v4l2.BufTypeVideoCapture); err == nil && p.Capture.TimePerFrame.Numerator > 0 {
				d.fps = float64(p.Capture.TimePerFrame.Denominator) / float64(p.Capture.TimePerFrame.Numerator)
			}
		}
	}
	return nil
}

// start maps the buffers, queues them all and turns streaming on.
func (d *device) start(count int) error {
	d.count = uint32(count)
	req, err := v4l2.InitBuffers(d)
	if err != nil {
		return fmt.Errorf("%s: %w", d.path, err)
	}
	d.count = req.Count // drivers may grant fewer or more
	if d.bufs, err = v4l2.MapMemoryBuffers(d); err != nil {
		return fmt.Errorf("%s: %w", d.path, err)
	}
	d.queued = make([]bool, len(d.bufs))
	for i := range d.bufs {
		if err := d.queue(i); err != nil {
			return err
		}
	}
	if err := v4l2.StreamOn(d); err != nil {
		return fmt.Errorf("%s: %w", d.path, err)
	}
	d.started = true
	return nil
}

func (d *device) queue(i int) error {
	if _, err := v4l2.QueueBuffer(d.fd, v4l2.IOTypeMMAP, v4l2.BufTypeVideoCapture, uint32(i)); err != nil {
		return fmt.Errorf("%s: queue buffer %d: %w", d.path, i, err)
	}
	d.queued[i] = true
	return nil
}

// rawFrame is a dequeued buffer; release requeues it.
type rawFrame struct {
	data     []byte
	seq      uint32
	captured time.Duration // CLOCK_MONOTONIC time of capture
	index    int
	bad      bool // the driver flagged the buffer as damaged
}

// ErrTimeout means no frame arrived in time.
var ErrTimeout = errors.New("no frame within the watchdog timeout")

// next waits (with poll, so a vanished device is noticed) for a frame.
func (d *device) next(ctx context.Context, timeout time.Duration) (rawFrame, error) {
	deadline := time.Now().Add(timeout)
	for {
		wait := min(time.Until(deadline), 100*time.Millisecond)
		if wait <= 0 {
			return rawFrame{}, ErrTimeout
		}
		if err := ctx.Err(); err != nil {
			return rawFrame{}, err
		}
		fds := []unix.PollFd{{Fd: int32(d.fd), Events: unix.POLLIN | unix.POLLPRI}}
		n, err := unix.Poll(fds, int(wait.Milliseconds())+1)
		if err != nil && !errors.Is(err, unix.EINTR) {
			return rawFrame{}, fmt.Errorf("%s: poll: %w", d.path, err)
		}
		if n == 0 {
			continue
		}
		if fds[0].Revents&(unix.POLLERR|unix.POLLHUP|unix.POLLNVAL) != 0 {
			return rawFrame{}, fmt.Errorf("%s: device gone (poll revents %#x)", d.path, fds[0].Revents)
		}
		buf, err := v4l2.DequeueBuffer(d.fd, v4l2.IOTypeMMAP, v4l2.BufTypeVideoCapture)
		if errors.Is(err, unix.EAGAIN) || errors.Is(err, v4l2.ErrorTemporary) {
			continue // woken without a frame (an event, or a frame taken back)
		}
		if err != nil {
			return rawFrame{}, fmt.Errorf("%s: dequeue: %w", d.path, err)
		}
		d.queued[buf.Index] = false
		used := min(int(buf.BytesUsed), len(d.bufs[buf.Index]))
		return rawFrame{data: d.bufs[buf.Index][:used], seq: buf.Sequence, index: int(buf.Index),
			captured: time.Duration(buf.Timestamp.Sec)*time.Second + time.Duration(buf.Timestamp.Usec)*time.Microsecond,
			bad:      buf.Flags&v4l2.BufFlagError != 0}, nil
	}
}

func (d *device) release(f rawFrame) error { return d.queue(f.index) }

// close stops streaming and frees everything; safe on a vanished device.
func (d *device) close() error {
	if d.started {
		v4l2.StreamOff(d)
		d.started = false
	}
	for _, b := range d.bufs {
		unix.Munmap(b)
	}
	d.bufs = nil
	if d.count > 0 {
		d.count = 0
		v4l2.ResetBuffers(d)
	}
	return v4l2.CloseDevice(d.fd)
}

// monotonicNow reads CLOCK_MONOTONIC, the clock V4L2 stamps buffers with.
func monotonicNow() time.Duration {
	var ts unix.Timespec
	unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	return time.Duration(ts.Nano())
}
