package child

import (
	"fmt"
	"image"

	"flowcam/capture"
	"flowcam/capture/yuv"
)

// Format is what a helper writes.
type Format string

const (
	MJPEG Format = "mjpeg" // JPEG pictures back to back
	I420  Format = "i420"  // planar 4:2:0: Y, then Cb and Cr at half the stride
	NV12  Format = "nv12"  // Y, then interleaved CbCr at the same stride
	YUYV  Format = "yuyv"  // packed 4:2:2
	H264  Format = "h264"  // an H.264 Annex B stream, passed through
)

// UnmarshalText accepts mjpeg, i420, nv12, yuyv or h264.
func (f *Format) UnmarshalText(b []byte) error {
	switch v := Format(b); v {
	case MJPEG, I420, NV12, YUYV, H264:
		*f = v
		return nil
	}
	return fmt.Errorf("%q: accepted values are mjpeg, i420, nv12, yuyv, h264", b)
}

// MarshalText writes the format's name.
func (f Format) MarshalText() ([]byte, error) { return []byte(f), nil }

// raw reports whether frames have a fixed size (every format but MJPEG
// and H.264).
func (f Format) raw() bool { return f != MJPEG && f != H264 && f != "" }

// minStride is the packed row length of the first plane.
func (f Format) minStride(w int) int {
	if f == YUYV {
		return 2 * w
	}
	return w
}

// frameLen is the size of one raw frame whose first plane has rows stride
// bytes apart (rpicam-vid and GStreamer pad rows; the chroma planes of
// I420 use half the stride, NV12's CbCr plane the whole stride).
func (f Format) frameLen(size capture.Size, stride int) int {
	h := size.Height
	switch f {
	case I420:
		return stride*h + 2*(stride/2)*(h/2)
	case NV12:
		return stride*h + stride*(h/2)
	case YUYV:
		return stride * h
	}
	return 0
}

// ratio is the planar layout a raw format converts to.
func (f Format) ratio() image.YCbCrSubsampleRatio {
	if f == YUYV {
		return image.YCbCrSubsampleRatio422
	}
	return image.YCbCrSubsampleRatio420
}

// convert turns one raw frame into planar YCbCr for the encoder.
func (f Format) convert(dst *image.YCbCr, src []byte, stride int, size capture.Size) error {
	w, h := size.Width, size.Height
	switch f {
	case I420:
		return yuv.YU12ToI420(dst, src, stride, w, h)
	case NV12:
		return yuv.NV12ToI420(dst, src, stride, w, h)
	case YUYV:
		return yuv.YUYVToI422(dst, src, stride, w, h)
	}
	return fmt.Errorf("format %q has no raw layout", f)
}
