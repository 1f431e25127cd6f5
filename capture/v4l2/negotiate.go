// Package v4l2 captures from Video4Linux2 cameras: it negotiates the best
// mode a device offers, runs its own mmap/poll capture loop on go4vl's
// ioctl wrappers, keeps the driver's timestamps and sequence numbers, and
// survives a camera that is unplugged, busy or silent by reopening it while
// sending "no signal" frames.
package v4l2

import (
	"fmt"
	"math"
	"strings"

	"flowcam/capture"
)

// FourCC is a V4L2 pixel format code.
type FourCC uint32

// Pixel formats flowcamd captures, in order of preference: a camera's own
// JPEG costs no CPU at all; the packed and planar YUV formats need only a
// de-interleave before encoding. A camera's own H.264 (passed through) is
// the last resort of an MJPEG path and the first choice of an H.264 one.
const (
	MJPEG FourCC = 'M' | 'J'<<8 | 'P'<<16 | 'G'<<24
	JPEG  FourCC = 'J' | 'P'<<8 | 'E'<<16 | 'G'<<24
	YUYV  FourCC = 'Y' | 'U'<<8 | 'Y'<<16 | 'V'<<24
	UYVY  FourCC = 'U' | 'Y'<<8 | 'V'<<16 | 'Y'<<24
	NV12  FourCC = 'N' | 'V'<<8 | '1'<<16 | '2'<<24
	YU12  FourCC = 'Y' | 'U'<<8 | '1'<<16 | '2'<<24
	H264  FourCC = 'H' | '2'<<8 | '6'<<16 | '4'<<24
)

var preference = []FourCC{MJPEG, JPEG, YUYV, UYVY, NV12, YU12, H264}

// Want says what the paths of a camera need, which orders the formats
// when none is configured.
type Want int

const (
	// WantAny: JPEG paths; the camera's JPEG is best, then raw pictures.
	WantAny Want = iota
	// WantH264: H.264 paths only; the camera's own H.264 is best, then
	// raw pictures for the board's encoder, never JPEG (flowcamd does not
	// decode it).
	WantH264
	// WantRaw: JPEG and H.264 paths of one camera; only raw pictures feed
	// both encoders.
	WantRaw
)

// order lists the formats w accepts, best first.
func (w Want) order() []FourCC {
	switch w {
	case WantH264:
		return []FourCC{H264, YUYV, UYVY, NV12, YU12}
	case WantRaw:
		return []FourCC{YUYV, UYVY, NV12, YU12}
	}
	return preference
}

func (f FourCC) String() string {
	b := []byte{byte(f), byte(f >> 8), byte(f >> 16), byte(f >> 24)}
	return strings.TrimRight(string(b), " \x00")
}

// ParseFourCC reads a format name such as "MJPG" or "yuyv".
func ParseFourCC(s string) (FourCC, error) {
	up := strings.ToUpper(s)
	for _, f := range preference {
		if f.String() == up {
			return f, nil
		}
	}
	return 0, fmt.Errorf("pixel format %q not supported (accepted: MJPG, JPEG, YUYV, UYVY, NV12, YU12, H264)", s)
}

// Mode is one way a device can capture: a format at a size, with the frame
// rates it offers there.
type Mode struct {
	Format FourCC
	Size   capture.Size
	// Stepwise sizes: the device takes any size from Size up to Max in
	// steps of Step. Zero Max means the size is discrete.
	Max, Step capture.Size
	FPS       []float64 // empty when the device does not enumerate intervals
}

// Request is what the user asked for.
type Request struct {
	Size   capture.Size
	FPS    float64
	Format FourCC // 0: choose the best for Want
	Want   Want
}

// Choose picks the mode closest to the request: the requested format (or
// the most preferred one offered), then the size nearest in area (exact
// when offered), then the frame rate nearest to the request.
func Choose(modes []Mode, req Request) (Mode, capture.Size, float64, error) {
	candidates := modesOf(modes, req.Format, req.Want)
	if len(candidates) == 0 {
		switch {
		case req.Format != 0:
			return Mode{}, capture.Size{}, 0, fmt.Errorf("the device does not offer %s (it offers %s)", req.Format, formats(modes))
		case req.Want == WantH264:
			return Mode{}, capture.Size{}, 0, fmt.Errorf("an H.264 path needs the camera's H.264 or raw pictures for an encoder, "+
				"and the device offers none of H264, YUYV, UYVY, NV12, YU12 (it offers %s)", formats(modes))
		case req.Want == WantRaw:
			return Mode{}, capture.Size{}, 0, fmt.Errorf("an MJPEG and an H.264 path of one camera need raw pictures, "+
				"and the device offers none of YUYV, UYVY, NV12, YU12 (it offers %s): give the camera one path", formats(modes))
		}
		return Mode{}, capture.Size{}, 0, fmt.Errorf("the device offers none of MJPG, YUYV, UYVY, NV12, YU12, H264 (it offers %s)", formats(modes))
	}
	best, bestSize, bestScore := Mode{}, capture.Size{}, math.Inf(1)
	for _, m := range candidates {
		size := m.fit(req.Size)
		score := sizeDistance(size, req.Size)*1000 + fpsDistance(m.FPS, req.FPS)
		if score < bestScore {
			best, bestSize, bestScore = m, size, score
		}
	}
	return best, bestSize, nearestFPS(best.FPS, req.FPS), nil
}

// modesOf keeps the modes of the wanted format, or of the most preferred
// format the device offers.
func modesOf(modes []Mode, want FourCC, w Want) []Mode {
	pick := func(f FourCC) []Mode {
		var out []Mode
		for _, m := range modes {
			if m.Format == f {
				out = append(out, m)
			}
		}
		return out
	}
	if want != 0 {
		return pick(want)
	}
	for _, f := range w.order() {
		if out := pick(f); len(out) > 0 {
			return out
		}
	}
	return nil
}

// fit is the size this mode can deliver nearest to want.
func (m Mode) fit(want capture.Size) capture.Size {
	if m.Max.Width == 0 {
		return m.Size
	}
	return capture.Size{Width: stepClamp(want.Width, m.Size.Width, m.Max.Width, m.Step.Width),
		Height: stepClamp(want.Height, m.Size.Height, m.Max.Height, m.Step.Height)}
}

func stepClamp(v, lo, hi, step int) int {
	v = min(max(v, lo), hi)
	if step > 1 {
		v = lo + (v-lo)/step*step
	}
	return v
}

// sizeDistance compares areas on a log scale, so 640x480 for a 1280x720
// request is as far as 2560x1440 is, and prefers the same aspect.
func sizeDistance(a, b capture.Size) float64 {
	if a == b {
		return 0
	}
	area := math.Abs(math.Log(float64(a.Width*a.Height) / float64(max(b.Width*b.Height, 1))))
	aspect := math.Abs(math.Log(float64(a.Width*b.Height) / float64(max(a.Height*b.Width, 1))))
	return area + aspect + 0.001
}

func fpsDistance(offered []float64, want float64) float64 {
	if len(offered) == 0 || want <= 0 {
		return 0
	}
	f := nearestFPS(offered, want)
	if f < want {
		return (want - f) * 2 // a slower camera is worse than a faster one we can pace
	}
	return f - want
}

func nearestFPS(offered []float64, want float64) float64 {
	if len(offered) == 0 {
		return want
	}
	best := offered[0]
	for _, f := range offered[1:] {
		if math.Abs(f-want) < math.Abs(best-want) || (math.Abs(f-want) == math.Abs(best-want) && f > best) {
			best = f
		}
	}
	return best
}

func formats(modes []Mode) string {
	seen := map[FourCC]bool{}
	var out []string
	for _, m := range modes {
		if !seen[m.Format] {
			seen[m.Format] = true
			out = append(out, m.Format.String())
		}
	}
	if len(out) == 0 {
		return "nothing"
	}
	return strings.Join(out, ", ")
}
