package v4l2

import (
	"fmt"
	"image"
	"time"

	"flowcam/capture"
	"flowcam/capture/h264"
	"flowcam/capture/pattern"
	"flowcam/capture/yuv"
)

// connect opens and configures the device and starts streaming.
func (s *Source) connect() error {
	cam, err := s.open(s.cfg.Device)
	if err != nil {
		return err
	}
	if err := s.setup(cam); err != nil {
		cam.close()
		return err
	}
	s.cam = cam
	if s.everOpened {
		s.reconnects.Add(1)
		s.log.Info("camera is back", "down_for", s.now().Sub(s.downFrom).Round(time.Millisecond))
	}
	s.everOpened, s.failures, s.backoff, s.haveSeq, s.devBase = true, 0, 0, false, -1
	return nil
}

func (s *Source) setup(cam camera) error {
	// Controls first: they do not depend on the format, and a device that
	// another program is streaming from (busy for format changes) still
	// reports a control that is out of range.
	if err := cam.setControls(s.cfg.Controls); err != nil {
		return fmt.Errorf("%w: %s: %v", errConfig, s.cfg.Device, err)
	}
	modes, err := cam.modes()
	if err != nil {
		return err
	}
	mode, size, fps, err := Choose(modes, s.cfg.Request)
	if err != nil {
		return fmt.Errorf("%w: %s: %v", errConfig, s.cfg.Device, err)
	}
	if err := cam.configure(mode.Format, size, fps); err != nil {
		return err
	}
	f, got, stride, gotFPS := cam.granted()
	s.log.Info("camera format", "asked", fmt.Sprintf("%v %.4g fps %s", s.cfg.Request.Size, s.cfg.Request.FPS, fmtOr(s.cfg.Request.Format)),
		"granted", fmt.Sprintf("%s %v %.4g fps", f, got, gotFPS), "bytes_per_line", stride)
	if err := got.Validate(); err != nil {
		return fmt.Errorf("%w: %s: granted %v: %v", errConfig, s.cfg.Device, got, err)
	}
	if err := cam.start(s.cfg.Buffers); err != nil {
		return err
	}
	s.format, s.size, s.stride = f, got, stride
	if ratio, raw := rawRatio(f); raw && (s.raw == nil || s.poolSize != got || s.poolRatio != ratio) {
		s.raw, s.poolSize, s.poolRatio = capture.NewPool(got, ratio, 3), got, ratio
	}
	return nil
}

func fmtOr(f FourCC) string {
	if f == 0 {
		return "best format"
	}
	return f.String()
}

// rawRatio is the planar layout a raw format converts to.
func rawRatio(f FourCC) (image.YCbCrSubsampleRatio, bool) {
	switch f {
	case YUYV, UYVY:
		return image.YCbCrSubsampleRatio422, true
	case NV12, YU12:
		return image.YCbCrSubsampleRatio420, true
	}
	return 0, false
}

// frame turns a dequeued buffer into a pipeline frame and hands the
// buffer straight back to the driver.
func (s *Source) frame(raw rawFrame) *capture.Frame {
	now := s.now()
	s.countGap(raw.seq) // damaged buffers were delivered; gaps are frames the driver skipped
	f, err := s.convert(raw)
	if rerr := s.cam.release(raw); rerr != nil {
		defer s.lose(rerr)
	}
	if err != nil {
		if n := s.corrupt.Add(1); n == 1 || n%100 == 0 {
			s.log.Warn("corrupt camera frame dropped", "seq", raw.seq, "corrupt_total", n, "err", err)
		}
		return nil
	}
	if s.devBase < 0 {
		s.devBase, s.ptsBase = raw.captured, s.continuePTS(now)
	}
	pts := s.ptsBase + (raw.captured - s.devBase)
	if s.frames.Load() > 0 && pts <= s.lastPTS {
		pts = s.lastPTS + time.Millisecond // a driver clock step must not run RTP time backwards
	}
	f.PTS, f.Captured, f.Seq = pts, now.Add(-(s.mono() - raw.captured)), s.frames.Load()+s.nosignal.Load()
	s.lastPTS, s.lastWall = pts, now
	s.frames.Add(1)
	return f
}

// continuePTS keeps the stream clock running across reconnects and
// "no signal" stretches: it advances by the wall-clock time that passed.
func (s *Source) continuePTS(now time.Time) time.Duration {
	if s.lastWall.IsZero() {
		return 0
	}
	return s.lastPTS + max(now.Sub(s.lastWall), time.Millisecond)
}

func (s *Source) countGap(seq uint32) {
	if s.haveSeq && seq > s.lastSeq+1 {
		n := s.dropped.Add(uint64(seq - s.lastSeq - 1))
		s.log.Debug("camera skipped frames", "missing", seq-s.lastSeq-1, "dropped_total", n)
	}
	s.lastSeq, s.haveSeq = seq, true
}

// convert copies a camera JPEG out of the driver's buffer, or converts a
// raw picture to planar YCbCr for the encoder.
func (s *Source) convert(raw rawFrame) (*capture.Frame, error) {
	if raw.bad {
		return nil, fmt.Errorf("the driver flagged buffer %d as damaged", raw.index)
	}
	w, h := s.size.Width, s.size.Height
	switch s.format {
	case MJPEG, JPEG:
		if len(raw.data) < 4 || raw.data[0] != 0xFF || raw.data[1] != 0xD8 {
			return nil, fmt.Errorf("not a JPEG (%d bytes)", len(raw.data))
		}
		f := s.jpegs.Get()
		f.JPEG = append(f.JPEG, raw.data...)
		return f, nil
	case H264:
		return s.accessUnit(raw.data)
	}
	f := s.raw.Get()
	var err error
	switch s.format {
	case YUYV:
		err = yuv.YUYVToI422(f.Image, raw.data, s.stride, w, h)
	case UYVY:
		err = yuv.UYVYToI422(f.Image, raw.data, s.stride, w, h)
	case NV12:
		err = yuv.NV12ToI420(f.Image, raw.data, s.stride, w, h)
	case YU12:
		err = yuv.YU12ToI420(f.Image, raw.data, s.stride, w, h)
	default:
		err = fmt.Errorf("pixel format %s is not supported", s.format)
	}
	if err != nil {
		f.Release()
		return nil, err
	}
	return f, nil
}

// accessUnit copies a camera's H.264 access unit (Annex B, as UVC and
// V4L2 encoders deliver one per buffer) out of the driver's buffer. The
// frame's JPEG, emptied, keeps the bytes' storage for the next one.
func (s *Source) accessUnit(data []byte) (*capture.Frame, error) {
	f := s.h264s.Get()
	buf := append(f.JPEG, data...)
	f.H264, f.JPEG = h264.SplitAnnexB(f.H264[:0], buf), buf[:0]
	var damaged int
	f.H264, damaged = h264.Clean(f.H264)
	s.corrupt.Add(uint64(damaged))
	if len(f.H264) == 0 {
		f.Release()
		return nil, fmt.Errorf("no H.264 NAL unit in %d bytes", len(data))
	}
	f.Key = h264.Key(f.H264)
	return f, nil
}

// noSignalFrame is sent about once a second while the camera is away, so
// players keep the session and show why the picture stopped.
func (s *Source) noSignalFrame(now time.Time) *capture.Frame {
	f := s.noSignal.Get()
	pattern.RenderNoSignal(f.Image, uint64(now.Sub(s.downFrom)/time.Second))
	f.PTS, f.Captured, f.Seq = s.continuePTS(now), now, s.frames.Load()+s.nosignal.Load()
	s.lastPTS, s.lastWall = f.PTS, now
	s.nosignal.Add(1)
	return f
}
