package m2m

import (
	"fmt"
	"image"
	"log/slog"
	"slices"

	"flowcam/capture"
)

var _ capture.Encoder = (*Encoder)(nil)

// Encoder compresses pictures to JPEG on a V4L2 mem2mem JPEG encoder. It
// is not safe for concurrent use; each pipeline owns one.
type Encoder struct {
	s       *Session
	quality int
	log     *slog.Logger

	raw   FourCC
	size  image.Point
	ratio image.YCbCrSubsampleRatio
	img   *image.YCbCr // the picture being encoded, for fill
	fill  FillFunc
}

// NewEncoder opens the JPEG encoder at dev ("" finds one with Find) with
// quality 1-100. The formats are negotiated on the first Encode, when the
// picture size is known. A device that does not produce JPEG fails with
// ErrNoJPEG.
func NewEncoder(dev string, quality int, log *slog.Logger) (*Encoder, error) {
	return newEncoder(openFile, dev, quality, log)
}

func newEncoder(open opener, dev string, quality int, log *slog.Logger, opts ...SessionOption) (*Encoder, error) {
	if quality < 1 || quality > 100 {
		return nil, fmt.Errorf("m2m: quality %d out of range 1-100", quality)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s, err := openProducing(open, dev, FmtJPEG, ErrNoJPEG, log, opts)
	if err != nil {
		return nil, err
	}
	e := &Encoder{s: s, quality: quality, log: log}
	e.fill = e.fillPicture
	// A driver without the control still encodes, at its own quality:
	// worth a warning, not a dead camera.
	if err := s.SetControl(cidJPEGQuality, int32(quality)); err != nil {
		log.Warn("m2m: cannot set the JPEG quality; the driver's default applies", "device", s.info.String(), "err", err)
	}
	return e, nil
}

// openProducing opens a session on dev, or on the device find chooses
// for want when dev is "", and makes sure the device produces want (none
// when it does not).
func openProducing(open opener, dev string, want FourCC, none error, log *slog.Logger, opts []SessionOption) (*Session, error) {
	if dev == "" {
		info, err := find(want, none, []FindOption{withOpener(open)})
		if err != nil {
			return nil, err
		}
		dev = info.Path
	}
	s, err := openSession(open, dev, append([]SessionOption{WithLogger(log)}, opts...)...)
	if err != nil {
		return nil, err
	}
	if !slices.Contains(s.info.Capture, want) {
		s.Close()
		return nil, fmt.Errorf("m2m: %s gives %s: %w", s.info, formatList(s.info.Capture), none)
	}
	return s, nil
}

// Name describes the device for logs: path, driver, card and API.
func (e *Encoder) Name() string { return e.s.info.String() }

// Info is what the device said about itself.
func (e *Encoder) Info() DeviceInfo { return e.s.info }

// Quality reports the configured quality.
func (e *Encoder) Quality() int { return e.quality }

// Stats reports the underlying session's counters.
func (e *Encoder) Stats() Stats { return e.s.Stats() }

// Encode appends the JPEG for img to dst and returns the extended slice.
// A new picture size or subsampling renegotiates the device's formats and
// buffers; otherwise the same buffers serve every frame.
func (e *Encoder) Encode(dst []byte, img *image.YCbCr) ([]byte, error) {
	if err := checkPicture(img); err != nil {
		return dst, err
	}
	size := img.Rect.Size()
	if size != e.size || img.SubsampleRatio != e.ratio || e.raw == 0 {
		if err := e.configure(size, img.SubsampleRatio); err != nil {
			return dst, err
		}
	}
	e.img = img
	defer func() { e.img = nil }() // do not pin the caller's picture
	out, err := e.s.Process(dst, e.fill)
	if err != nil {
		return dst, fmt.Errorf("m2m: encode %dx%d: %w", size.X, size.Y, err)
	}
	return out, nil
}

func (e *Encoder) configure(size image.Point, ratio image.YCbCrSubsampleRatio) error {
	e.raw, e.size = 0, image.Point{}
	raw, err := rawFormat(e.s.info, ratio)
	if err != nil {
		return err
	}
	out, capFmt, err := e.s.Configure(Format{FourCC: raw, Width: size.X, Height: size.Y},
		Format{FourCC: FmtJPEG, Width: size.X, Height: size.Y})
	if err != nil {
		return err
	}
	e.raw, e.size, e.ratio = raw, size, ratio
	e.log.Info("m2m: hardware JPEG encoder ready", "device", e.Name(), "raw", out.String(),
		"stride", out.Planes[0].BytesPerLine, "jpeg", capFmt.String(), "quality", e.quality)
	return nil
}

// rawFormat picks what the device takes for a picture of this subsampling:
// planar formats copy row by row; YUYV costs an interleave.
func rawFormat(info DeviceInfo, ratio image.YCbCrSubsampleRatio) (FourCC, error) {
	var want []FourCC
	switch ratio {
	case image.YCbCrSubsampleRatio420:
		want = []FourCC{FmtYUV420}
	case image.YCbCrSubsampleRatio422:
		want = []FourCC{FmtYUV422P, FmtYUYV}
	}
	for _, f := range want {
		if slices.Contains(info.Output, f) {
			return f, nil
		}
	}
	return 0, fmt.Errorf("m2m: %s takes %s, none of them %s for %v pictures: %w",
		info, formatList(info.Output), formatList(want), ratio, ErrFormat)
}

func (e *Encoder) fillPicture(planes [][]byte, f Format) ([]int, error) {
	return fillImage(planes, f, e.img)
}

// fillImage copies img into the OUTPUT buffer's planes in the negotiated
// format: planar formats row by row, YUYV interleaved.
func fillImage(planes [][]byte, f Format, img *image.YCbCr) ([]int, error) {
	if f.FourCC == FmtYUYV {
		return fillYUYV(planes, f, img)
	}
	return fillPlanar(planes, f, img)
}

// Close releases the device and its buffers.
func (e *Encoder) Close() error { return e.s.Close() }
