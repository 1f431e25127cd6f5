// Package m2m owns talking to V4L2 memory-to-memory encoders; its Encoder
// implements capture.Encoder. On a Raspberry Pi 3/4 that is the GPU's JPEG
// block behind bcm2835-codec's "encode_image" node, and H264Encoder its
// video encoder behind the "encode" node (the Pi 5 has none); the device
// is found by what it can do (an M2M node whose capture queue offers JPEG,
// or H.264), never by a fixed /dev/videoN number, which changes with the
// kernel and the board.
//
// The ioctl layer is our own (go4vl only knows single-planar capture) and
// needs no cgo. Session is the generic mem2mem machinery (formats, MMAP
// buffers, queueing, timeouts); Encoder and H264Encoder are the JPEG and
// H.264 uses of it.
package m2m

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

var (
	// ErrNotFound means no V4L2 memory-to-memory device was found at all.
	ErrNotFound = errors.New("no V4L2 memory-to-memory device")
	// ErrNoJPEG means M2M devices exist but none (or not the one named)
	// produces JPEG on its capture queue.
	ErrNoJPEG = errors.New("no V4L2 memory-to-memory device produces JPEG")
	// ErrNoH264 means M2M devices exist but none (or not the one named)
	// produces H.264 on its capture queue.
	ErrNoH264 = errors.New("no V4L2 memory-to-memory device produces H.264")
	// ErrNotM2M means a node is not a streaming memory-to-memory device.
	ErrNotM2M = errors.New("not a streaming V4L2 memory-to-memory device")
	// ErrFormat means the device does not take or give a format we need.
	ErrFormat = errors.New("format not supported by the device")
	// ErrTimeout means the driver did not hand a buffer back in time.
	ErrTimeout = errors.New("timed out waiting for the device")
	// ErrDriver means the driver answered something impossible (a payload
	// larger than its buffer, an index it never gave out).
	ErrDriver = errors.New("unexpected answer from the driver")
	// ErrClosed is returned after Close.
	ErrClosed = errors.New("device closed")
	// ErrUnsupported is returned on systems without V4L2.
	ErrUnsupported = errors.New("V4L2 memory-to-memory devices need Linux")
)

// FourCC is a V4L2 pixel format code.
type FourCC uint32

// Pixel formats this package names. The values are v4l2_fourcc(a, b, c, d).
var (
	FmtJPEG    = fourcc("JPEG")
	FmtMJPEG   = fourcc("MJPG")
	FmtH264    = fourcc("H264") // Annex B, start codes before each NAL unit
	FmtYUV420  = fourcc("YU12") // planar Y, Cb, Cr 4:2:0 in one buffer
	FmtYUV422P = fourcc("422P") // planar Y, Cb, Cr 4:2:2 in one buffer
	FmtYUYV    = fourcc("YUYV")
	FmtRGB24   = fourcc("RGB3")
	FmtBGR24   = fourcc("BGR3")
	FmtRGB565  = fourcc("RGBP")
)

func fourcc(s string) FourCC {
	return FourCC(uint32(s[0]) | uint32(s[1])<<8 | uint32(s[2])<<16 | uint32(s[3])<<24)
}

// ParseFourCC turns "YU12" into its code.
func ParseFourCC(s string) (FourCC, error) {
	if len(s) != 4 {
		return 0, fmt.Errorf("m2m: pixel format %q is not four characters", s)
	}
	return fourcc(s), nil
}

// String is the four characters, with unprintable bytes in hex.
func (f FourCC) String() string {
	var b strings.Builder
	for i := 0; i < 4; i++ {
		c := byte(f >> (8 * i))
		if c < 0x20 || c > 0x7e {
			return fmt.Sprintf("0x%08x", uint32(f))
		}
		b.WriteByte(c)
	}
	return b.String()
}

// DeviceInfo is what QUERYCAP and ENUM_FMT told about one node.
type DeviceInfo struct {
	Path    string
	Driver  string
	Card    string
	BusInfo string
	// Caps are the node's device_caps (capabilities when the driver sets no
	// V4L2_CAP_DEVICE_CAPS).
	Caps uint32
	// MPlane is true for the multi-planar API (bcm2835-codec), false for
	// the single-planar one (vim2m).
	MPlane bool
	// Output lists the raw formats the device takes (its OUTPUT queue),
	// Capture what it produces (its CAPTURE queue), in the driver's order.
	Output  []FourCC
	Capture []FourCC
}

// String describes the device for logs: path, driver and card.
func (d DeviceInfo) String() string {
	api := "single-planar"
	if d.MPlane {
		api = "multi-planar"
	}
	return fmt.Sprintf("%s (%s, %q, %s)", d.Path, d.Driver, d.Card, api)
}

// JPEG reports whether the device produces JPEG.
func (d DeviceInfo) JPEG() bool { return slices.Contains(d.Capture, FmtJPEG) }

// choose picks the encoder of want among probed M2M devices: the lowest
// node number among those producing it, preferring one that takes planar
// 4:2:0 directly (no conversion on our side). devs holds only M2M nodes;
// none producing want fails with none.
func choose(devs []DeviceInfo, want FourCC, none error) (DeviceInfo, error) {
	if len(devs) == 0 {
		return DeviceInfo{}, ErrNotFound
	}
	var best *DeviceInfo
	for i := range devs {
		d := &devs[i]
		if !slices.Contains(d.Capture, want) {
			continue
		}
		if best == nil || better(d, best) {
			best = d
		}
	}
	if best == nil {
		names := make([]string, len(devs))
		for i, d := range devs {
			names[i] = fmt.Sprintf("%s gives %s", d, formatList(d.Capture))
		}
		return DeviceInfo{}, fmt.Errorf("%w: %s", none, strings.Join(names, "; "))
	}
	return *best, nil
}

func better(a, b *DeviceInfo) bool {
	a420, b420 := slices.Contains(a.Output, FmtYUV420), slices.Contains(b.Output, FmtYUV420)
	if a420 != b420 {
		return a420
	}
	return nodeLess(a.Path, b.Path)
}

// nodeLess orders /dev/video2 before /dev/video10.
func nodeLess(a, b string) bool {
	na, ea := nodeNumber(a)
	nb, eb := nodeNumber(b)
	if ea == nil && eb == nil && na != nb {
		return na < nb
	}
	return a < b
}

func nodeNumber(path string) (int, error) {
	i := len(path)
	for i > 0 && path[i-1] >= '0' && path[i-1] <= '9' {
		i--
	}
	return strconv.Atoi(path[i:])
}

func formatList(fs []FourCC) string {
	if len(fs) == 0 {
		return "no formats"
	}
	s := make([]string, len(fs))
	for i, f := range fs {
		s[i] = f.String()
	}
	return strings.Join(s, ", ")
}

// PlaneFormat is one memory plane as the driver sized it.
type PlaneFormat struct {
	BytesPerLine int
	SizeImage    int
}

// Format is a queue's negotiated format.
type Format struct {
	FourCC FourCC
	Width  int
	Height int
	Planes []PlaneFormat
}

func (f Format) String() string {
	return fmt.Sprintf("%s %dx%d", f.FourCC, f.Width, f.Height)
}
