package v4l2

import (
	"context"
	"errors"
	"fmt"
	"image"
	"io"
	"log/slog"
	"sync/atomic"
	"time"

	"flowcam/capture"
)

// camera is what Source needs of a device; *device is the real one, tests
// drive the reconnect logic with a fake.
type camera interface {
	modes() ([]Mode, error)
	configure(f FourCC, size capture.Size, fps float64) error
	granted() (f FourCC, size capture.Size, bytesPerLine int, fps float64)
	setControls(cs []Control) error
	start(buffers int) error
	next(ctx context.Context, timeout time.Duration) (rawFrame, error)
	release(rawFrame) error
	close() error
}

// Config describes a camera source.
type Config struct {
	Device        string        // /dev/video0 or a stable /dev/v4l/by-id/... link
	Request       Request       // size, frame rate and optional pixel format wanted
	Buffers       int           // mmap buffers; 4 by default
	Watchdog      time.Duration // a camera silent this long is reopened; 2 s by default
	NoSignalEvery time.Duration // "no signal" frame interval while it is down; 1 s
	Controls      []Control     // applied on every (re)open
	Logger        *slog.Logger
}

// Stats count what happened to the camera.
type Stats struct {
	Frames     uint64 // frames delivered
	Dropped    uint64 // frames the driver skipped (sequence gaps)
	Corrupt    uint64 // buffers the driver flagged or that could not be converted, and damaged H.264 NAL units
	Reconnects uint64 // times the device was reopened after a failure
	NoSignal   uint64 // "no signal" frames sent while it was down
}

// Source is a V4L2 camera that never gives up: while the device is gone,
// busy or silent it sends a "no signal" frame about once a second and
// reopens it with backoff, so RTSP sessions stay up and resume by themselves.
type Source struct {
	cfg  Config
	log  *slog.Logger
	open func(path string) (camera, error)
	mono func() time.Duration
	now  func() time.Time

	cam                camera
	format             FourCC
	size               capture.Size
	stride             int
	raw                *capture.Pool
	poolSize           capture.Size
	poolRatio          image.YCbCrSubsampleRatio
	jpegs              *capture.JPEGPool
	h264s              *capture.JPEGPool // frames whose JPEG holds the bytes their H264 points into
	everOpened         bool
	retryAt, signalAt  time.Time
	backoff            time.Duration
	failures           int
	devBase, ptsBase   time.Duration
	lastPTS            time.Duration
	lastWall, downFrom time.Time
	lastSeq            uint32
	haveSeq            bool
	noSignal           *capture.Pool

	frames, dropped, corrupt, reconnects, nosignal atomic.Uint64
}

// New returns a camera source and tries to open the device once, so a
// configuration error (an impossible format, a control out of range) is
// reported at start. A device that is absent or busy is not an error: it
// is retried while "no signal" frames go out.
// errUnavailable is what a build without V4L2 (see Available) answers.
var errUnavailable = errors.New("V4L2 cameras need Linux and a cgo build (this binary was built with CGO_ENABLED=0)")

func New(cfg Config) (*Source, error) {
	if !Available {
		// Retrying would serve "no signal" forever for a camera this build
		// can never open.
		return nil, fmt.Errorf("%s: %w", cfg.Device, errUnavailable)
	}
	return newSource(cfg, openCamera, monotonicNow)
}

// Defaults for Config fields left zero: four buffers let the driver fill
// one while we copy another; a camera silent for two seconds is reopened.
const (
	DefaultBuffers  = 4
	DefaultWatchdog = 2 * time.Second
)

func newSource(cfg Config, open func(string) (camera, error), mono func() time.Duration) (*Source, error) {
	if cfg.Buffers <= 0 {
		cfg.Buffers = DefaultBuffers
	}
	if cfg.Watchdog <= 0 {
		cfg.Watchdog = DefaultWatchdog
	}
	if cfg.NoSignalEvery <= 0 {
		cfg.NoSignalEvery = time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	s := &Source{cfg: cfg, log: cfg.Logger.With("device", cfg.Device), open: open, mono: mono, now: time.Now,
		size: cfg.Request.Size, jpegs: capture.NewJPEGPool(3), h264s: capture.NewJPEGPool(3)}
	s.noSignal = capture.NewPool(cfg.Request.Size, image.YCbCrSubsampleRatio420, 2)
	if err := s.connect(); err != nil {
		if errors.Is(err, errConfig) {
			return nil, err
		}
		s.down(err)
	}
	return s, nil
}

// errConfig marks errors that retrying cannot fix.
var errConfig = errors.New("configuration")

// Codec says what the camera gives: H.264 when that is what it was
// opened for, else pictures or JPEG. Read it after New, before Next.
func (s *Source) Codec() capture.Codec {
	if s.format == H264 {
		return capture.CodecH264
	}
	return capture.CodecJPEG
}

// Stats returns the counters.
func (s *Source) Stats() Stats {
	return Stats{Frames: s.frames.Load(), Dropped: s.dropped.Load(), Corrupt: s.corrupt.Load(),
		Reconnects: s.reconnects.Load(), NoSignal: s.nosignal.Load()}
}

// Reconnects counts how often the device was reopened after a failure.
func (s *Source) Reconnects() uint64 { return s.reconnects.Load() }

// Close releases the device.
func (s *Source) Close() error {
	if s.cam != nil {
		err := s.cam.close()
		s.cam = nil
		return err
	}
	return nil
}

// Next returns the next camera frame, or a "no signal" frame while the
// camera is away.
func (s *Source) Next(ctx context.Context) (*capture.Frame, error) {
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if s.cam == nil {
			if f := s.whileDown(ctx); f != nil {
				return f, nil
			}
			continue
		}
		raw, err := s.cam.next(ctx, s.cfg.Watchdog)
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			s.lose(err)
			continue
		}
		if f := s.frame(raw); f != nil {
			return f, nil
		}
	}
}

// whileDown retries the device when due and otherwise waits for the next
// "no signal" frame, which it returns.
func (s *Source) whileDown(ctx context.Context) *capture.Frame {
	now := s.now()
	if !now.Before(s.retryAt) {
		if err := s.connect(); err == nil {
			return nil
		} else {
			s.down(err)
		}
	}
	if !now.Before(s.signalAt) {
		s.signalAt = now.Add(s.cfg.NoSignalEvery)
		return s.noSignalFrame(now)
	}
	wait := min(s.retryAt.Sub(now), s.signalAt.Sub(now))
	t := time.NewTimer(max(wait, time.Millisecond))
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
	return nil
}

// lose closes a camera that failed or fell silent and starts retrying.
func (s *Source) lose(err error) {
	if errors.Is(err, ErrTimeout) {
		err = fmt.Errorf("camera stopped delivering frames for %v", s.cfg.Watchdog)
	}
	s.cam.close()
	s.cam = nil
	s.failures = 0
	s.backoff = 0
	s.down(err)
}

// down records a failed or lost device and schedules the next attempt:
// quickly at first (a replug takes a moment), then once a second. A longer
// backoff buys nothing, since a missing node costs one failed open(), and
// it would keep viewers on "no signal" for seconds after the camera is back.
func (s *Source) down(err error) {
	now := s.now()
	if s.failures == 0 {
		s.log.Warn("camera unavailable: sending no-signal frames and retrying", "err", err)
		s.downFrom = now
		s.signalAt = now
	}
	s.failures++
	s.backoff = min(max(2*s.backoff, 250*time.Millisecond), time.Second)
	s.retryAt = now.Add(s.backoff)
}

// Corrupt counts the damaged buffers and H.264 NAL units dropped.
func (s *Source) Corrupt() uint64 { return s.corrupt.Load() }
