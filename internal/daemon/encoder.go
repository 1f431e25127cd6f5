package daemon

import (
	"errors"
	"fmt"
	"image"
	"log/slog"
	"os"

	"flowcam/capture"
	"flowcam/capture/jpeg"
	"flowcam/platform/board"
	"flowcam/platform/m2m"
	"flowcam/stream/server/broadcast"
)

// hardwareEncoder is what a board's JPEG engine offers (platform/m2m).
type hardwareEncoder interface {
	capture.Encoder
	Name() string
	Close() error
}

// hardware is the board's JPEG engine as probed once at start: how to open
// it, or why there is none.
type hardware struct {
	name   string // e.g. "/dev/video31 (bcm2835-codec, ...)"; "" when none
	reason string // why there is none, for the log and --version
	open   func(quality int) (hardwareEncoder, error)
}

func probeHardware(b board.Info, log *slog.Logger) hardware {
	info, err := m2m.Find()
	if err == nil {
		return hardware{name: info.String(), open: func(q int) (hardwareEncoder, error) {
			return m2m.NewEncoder(info.Path, q, log)
		}}
	}
	if nodes := board.JetsonJPEG(os.DirFS("/")); len(nodes) > 0 || b.Kind == board.Jetson {
		// Jetson's nvjpg engine is reached through NVIDIA's libraries, not a
		// V4L2 device: the argus helper's nvjpegenc uses it, our encoder
		// cannot.
		return hardware{reason: fmt.Sprintf("NVIDIA Jetson JPEG engine %v: used by --source argus:N, whose helper encodes with nvjpegenc; "+
			"frames from V4L2 cameras, files and raw helpers are encoded here", nodes)}
	}
	if b.SoC == "brcm,bcm2712" {
		return hardware{reason: b.Model + " has no video encoder, for JPEG or H.264: H.264 paths need a source that gives H.264 " +
			"(libcamera.codec: h264 encodes it in software)"}
	}
	return hardware{reason: err.Error()}
}

// String is the one line for the start log and --version.
func (h hardware) String() string {
	if h.open != nil {
		return h.name
	}
	return "none (" + h.reason + "); libjpeg-turbo encodes"
}

// errPassthrough drops raw frames in passthrough mode; the pipeline counts them.
var errPassthrough = errors.New("encoder = passthrough: a raw frame is not encoded")

// streamEncoder is one stream's encoder as the encoder key chooses. The
// hardware engine is opened at the first raw frame, so a camera sending its
// own MJPEG never holds an encoder context; when it fails in auto mode the
// stream carries on with libjpeg-turbo.
type streamEncoder struct {
	video   videoEncoder // an H.264 path's encoder of raw pictures, or nil
	mode    Encoder
	quality int
	soft    *jpeg.Encoder
	hw      hardware
	dev     hardwareEncoder
	devErr  error
	tried   bool
	log     *slog.Logger
}

func newStreamEncoder(sc StreamConfig, hw hardware, log *slog.Logger) (*streamEncoder, error) {
	soft, err := jpeg.New(sc.Quality, jpeg.WithThreads(sc.Threads))
	if err != nil {
		return nil, err
	}
	if sc.Encoder == EncoderHardware && hw.open == nil {
		return nil, fmt.Errorf("encoder = hardware: no hardware JPEG encoder: %s (use auto or libjpeg)", hw.reason)
	}
	return &streamEncoder{mode: sc.Encoder, quality: sc.Quality, soft: soft, hw: hw, log: log}, nil
}

// Encode implements capture.Encoder.
func (e *streamEncoder) Encode(dst []byte, img *image.YCbCr) ([]byte, error) {
	switch e.mode {
	case EncoderPassthrough:
		return dst, errPassthrough
	case EncoderLibjpeg:
		return e.soft.Encode(dst, img)
	}
	if !e.tried {
		e.tried = true
		e.openHardware()
	}
	if e.dev != nil {
		out, err := e.dev.Encode(dst, img)
		if err == nil || e.mode == EncoderHardware {
			return out, err
		}
		e.log.Warn("hardware JPEG encoder failed: libjpeg-turbo encodes from now on", "encoder", e.dev.Name(), "err", err)
		e.dev.Close()
		e.dev = nil
	} else if e.devErr != nil && e.mode == EncoderHardware {
		return dst, e.devErr
	}
	return e.soft.Encode(dst, img)
}

func (e *streamEncoder) openHardware() {
	if e.hw.open == nil {
		e.log.Info("JPEG encoder", "encoder", jpeg.Backend, "threads", e.soft.Threads())
		return
	}
	dev, err := e.hw.open(e.quality)
	if err != nil {
		e.devErr = fmt.Errorf("hardware JPEG encoder %s: %w", e.hw.name, err)
		if e.mode == "auto" {
			e.log.Warn("hardware JPEG encoder unusable: libjpeg-turbo encodes", "err", e.devErr)
		}
		return
	}
	e.dev = dev
	e.log.Info("JPEG encoder", "encoder", dev.Name())
}

// Transcode re-encodes source JPEG that RTP/JPEG cannot carry; that is
// always libjpeg's job (the hardware engine takes raw pictures only).
func (e *streamEncoder) Transcode(dst, data []byte) ([]byte, error) {
	return e.soft.Transcode(dst, data)
}

// videoEncoder is a board's H.264 encoder of raw pictures.
type videoEncoder interface {
	capture.VideoEncoder
	broadcast.KeyFrameSource
	Name() string
	Close() error
}

// openVideo opens the board's H.264 encoder: a V4L2 memory-to-memory one,
// found by what it produces. A variable, so that tests on machines
// without one can put a fake below the daemon.
var openVideo = func(cfg m2m.H264Config, log *slog.Logger) (videoEncoder, error) {
	return m2m.NewH264Encoder("", cfg, log)
}

// Close releases the hardware engines, if they were opened.
func (e *streamEncoder) Close() error {
	if e.video != nil {
		e.video.Close()
		e.video = nil
	}
	if e.dev == nil {
		return nil
	}
	err := e.dev.Close()
	e.dev = nil
	return err
}
