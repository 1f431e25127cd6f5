package m2m

import (
	"fmt"
	"image"
	"log/slog"
	"sync/atomic"

	"flowcam/capture/h264"
)

// H264Encoder compresses pictures to H.264 on a V4L2 mem2mem video
// encoder: one access unit, Annex B, per picture, parameter sets in front
// of every IDR picture. It is not safe for concurrent use.
type H264Encoder struct {
	s     *Session
	cfg   H264Config
	log   *slog.Logger
	force atomic.Bool // the next picture is to be an IDR; set from any goroutine

	raw   FourCC
	size  image.Point
	ratio image.YCbCrSubsampleRatio
	img   *image.YCbCr
	fill  FillFunc
	nals  [][]byte
}

// NewH264Encoder opens the H.264 encoder at dev ("" finds one with
// FindH264). The formats are negotiated on the first Encode. A device that
// does not produce H.264 fails with ErrNoH264.
func NewH264Encoder(dev string, cfg H264Config, log *slog.Logger) (*H264Encoder, error) {
	return newH264Encoder(openFile, dev, cfg, log)
}

func newH264Encoder(open opener, dev string, cfg H264Config, log *slog.Logger, opts ...SessionOption) (*H264Encoder, error) {
	if cfg.Bitrate < 0 || cfg.GOP < 0 {
		return nil, fmt.Errorf("m2m: H.264 bitrate %d and GOP %d must not be negative", cfg.Bitrate, cfg.GOP)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s, err := openProducing(open, dev, FmtH264, ErrNoH264, log, opts)
	if err != nil {
		return nil, err
	}
	e := &H264Encoder{s: s, cfg: cfg, log: log}
	e.force.Store(true)
	e.fill = e.fillPicture
	return e, nil
}

// Name describes the device for logs.
func (e *H264Encoder) Name() string { return e.s.info.String() }

// Stats reports the underlying session's counters.
func (e *H264Encoder) Stats() Stats { return e.s.Stats() }

// ForceKeyFrame makes the next picture an IDR (a viewer's PLI, a new
// viewer): V4L2_CID_MPEG_VIDEO_FORCE_KEY_FRAME before it is queued. It may
// be called from any goroutine.
func (e *H264Encoder) ForceKeyFrame() { e.force.Store(true) }

// Encode appends the access unit for img to dst and says whether it is an
// IDR picture. A new picture size renegotiates the device.
func (e *H264Encoder) Encode(dst []byte, img *image.YCbCr) ([]byte, bool, error) {
	if err := checkPicture(img); err != nil {
		return dst, false, err
	}
	size := img.Rect.Size()
	if size != e.size || img.SubsampleRatio != e.ratio || e.raw == 0 {
		if err := e.configure(size, img.SubsampleRatio); err != nil {
			return dst, false, err
		}
		e.force.Store(true)
	}
	if e.force.Swap(false) {
		// A driver without the button gives the next IDR at its period.
		if err := e.s.SetControl(cidForceKeyFrame, 1); err != nil {
			e.log.Debug("m2m: cannot force a key frame", "device", e.Name(), "err", err)
		}
	}
	e.img = img
	defer func() { e.img = nil }()
	start := len(dst)
	out, err := e.s.ProcessUntil(dst, e.fill, e.whole)
	if err != nil {
		return dst, false, fmt.Errorf("m2m: H.264 %dx%d: %w", size.X, size.Y, err)
	}
	e.nals = h264.SplitAnnexB(e.nals[:0], out[start:])
	return out, h264.Key(e.nals), nil
}

// whole reports an access unit with a picture in it: the stream header
// some encoders hand back alone in the first buffer is not one yet.
func (e *H264Encoder) whole(au []byte) bool {
	e.nals = h264.SplitAnnexB(e.nals[:0], au)
	for _, n := range e.nals {
		if t := n[0] & 0x1f; t >= 1 && t <= 5 {
			return true
		}
	}
	return false
}

func (e *H264Encoder) configure(size image.Point, ratio image.YCbCrSubsampleRatio) error {
	e.raw, e.size = 0, image.Point{}
	raw, err := rawFormat(e.s.info, ratio)
	if err != nil {
		return err
	}
	out, capFmt, err := e.s.Configure(Format{FourCC: raw, Width: size.X, Height: size.Y},
		Format{FourCC: FmtH264, Width: size.X, Height: size.Y})
	if err != nil {
		return err
	}
	e.setControls()
	e.raw, e.size, e.ratio = raw, size, ratio
	e.log.Info("m2m: hardware H.264 encoder ready", "device", e.Name(), "raw", out.String(),
		"h264", capFmt.String(), "bitrate", e.cfg.Bitrate, "gop", e.cfg.GOP)
	return nil
}

// setControls applies the configuration. The parameter sets before every
// IDR matter most (a viewer that joins later needs them in-band); a driver
// that refuses any of these still encodes, at its own setting.
func (e *H264Encoder) setControls() {
	for _, c := range []struct {
		id    uint32
		name  string
		value int
		set   bool
	}{
		{cidRepeatSeqHeader, "repeat_seq_header", 1, true},
		{cidBitrate, "bitrate", e.cfg.Bitrate, e.cfg.Bitrate > 0},
		{cidH264IPeriod, "i_period", e.cfg.GOP, e.cfg.GOP > 0},
		{cidH264Profile, "profile", e.cfg.Profile, e.cfg.Profile >= 0},
		{cidH264Level, "level", e.cfg.Level, e.cfg.Level >= 0},
	} {
		if !c.set {
			continue
		}
		if err := e.s.SetControl(c.id, int32(c.value)); err != nil {
			e.log.Warn("m2m: the H.264 encoder refused a setting; the driver's applies", "device", e.Name(),
				"control", c.name, "value", c.value, "err", err)
		}
	}
}

func (e *H264Encoder) fillPicture(planes [][]byte, f Format) ([]int, error) {
	return fillImage(planes, f, e.img)
}

// Close releases the device and its buffers.
func (e *H264Encoder) Close() error { return e.s.Close() }
