//go:build !linux

package m2m

import (
	"fmt"
	"image"
	"log/slog"
)

// FindOption adjusts Find and Scan.
type FindOption func()

// WithRoot looks below root instead of /.
func WithRoot(string) FindOption { return func() {} }

// WithGlob sets the nodes to scan.
func WithGlob(string) FindOption { return func() {} }

// Scan finds nothing: V4L2 is Linux-only.
func Scan(...FindOption) ([]DeviceInfo, error) { return nil, ErrUnsupported }

// Find finds nothing: V4L2 is Linux-only.
func Find(...FindOption) (DeviceInfo, error) { return DeviceInfo{}, ErrUnsupported }

// Probe fails: V4L2 is Linux-only.
func Probe(string) (DeviceInfo, error) { return DeviceInfo{}, ErrUnsupported }

// Encoder is unavailable outside Linux.
type Encoder struct{}

// NewEncoder fails with ErrUnsupported outside Linux.
func NewEncoder(dev string, quality int, log *slog.Logger) (*Encoder, error) {
	return nil, fmt.Errorf("m2m: %s: %w", dev, ErrUnsupported)
}

// Name is empty.
func (e *Encoder) Name() string { return "" }

// Encode fails with ErrUnsupported.
func (e *Encoder) Encode(dst []byte, img *image.YCbCr) ([]byte, error) { return dst, ErrUnsupported }

// Close does nothing.
func (e *Encoder) Close() error { return nil }

// H264Encoder is unavailable outside Linux.
type H264Encoder struct{}

// NewH264Encoder fails with ErrUnsupported outside Linux.
func NewH264Encoder(dev string, cfg H264Config, log *slog.Logger) (*H264Encoder, error) {
	return nil, fmt.Errorf("m2m: %s: %w", dev, ErrUnsupported)
}

// FindH264 fails with ErrUnsupported outside Linux.
func FindH264(...FindOption) (DeviceInfo, error) { return DeviceInfo{}, ErrUnsupported }

// Name is empty.
func (e *H264Encoder) Name() string { return "" }

// ForceKeyFrame does nothing.
func (e *H264Encoder) ForceKeyFrame() {}

// Encode fails with ErrUnsupported.
func (e *H264Encoder) Encode(dst []byte, img *image.YCbCr) ([]byte, bool, error) {
	return dst, false, ErrUnsupported
}

// Close does nothing.
func (e *H264Encoder) Close() error { return nil }
