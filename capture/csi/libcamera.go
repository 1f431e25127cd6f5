package csi

import (
	"fmt"
	"strconv"
	"time"

	"flowcam/capture"
)

// Tool is a program that can run a CSI camera.
type Tool string

const (
	RpicamVid    Tool = "rpicam-vid"     // Raspberry Pi OS since late 2023
	LibcameraVid Tool = "libcamera-vid"  // its name before that
	GstLibcamera Tool = "gst-launch-1.0" // libcamera's GStreamer element, on other distributions
	GstArgus     Tool = "gst-launch-1.0 nvarguscamerasrc"
)

// Controls are the camera settings users change most. Zero values leave
// the camera's own automatic choice.
type Controls struct {
	Shutter       time.Duration // fixed exposure time
	Gain          float64       // fixed analogue gain
	AWB           string        // white balance mode: auto, incandescent, tungsten, fluorescent, indoor, daylight, cloudy
	AutofocusMode string        // default, manual, auto, continuous
	LensPosition  *float64      // dioptres, 0 is infinity (manual focus)
	HDR           string        // off, auto, sensor, single-exp
	Rotation      int           // 0 or 180
	HFlip, VFlip  bool
}

// Request is what the daemon asks of a libcamera camera.
type Request struct {
	Camera  string // rpicam's index ("0") or, for libcamerasrc, libcamera's camera id; "" is the first
	Size    capture.Size
	FPS     float64
	MJPEG   bool // the helper encodes JPEG itself instead of handing over raw I420
	Quality int  // JPEG quality when MJPEG
	H264    H264 // the helper encodes H.264 itself, when H264.On
	Controls
}

// H264 asks a helper for an H.264 Annex B stream with in-band parameter
// sets (so a viewer can start at any key frame) and access unit
// delimiters (so each frame is known complete as soon as it is written).
type H264 struct {
	On      bool
	Bitrate int // bits per second; 0 leaves the encoder's default
	GOP     int // frames from one key frame to the next
}

// RpicamCommand is the rpicam-vid (or libcamera-vid) command line for r:
// run forever, no preview, I420 or MJPEG to stdout, flushed after every
// frame so a picture never waits in stdio's buffer for the next one.
func RpicamCommand(tool Tool, r Request) []string {
	args := []string{string(tool), "-t", "0", "-n", "--flush", "-o", "-",
		"--width", strconv.Itoa(r.Size.Width), "--height", strconv.Itoa(r.Size.Height),
		"--framerate", formatFloat(r.FPS)}
	if r.Camera != "" {
		args = append(args, "--camera", r.Camera)
	}
	switch {
	case r.H264.On:
		// --inline repeats the parameter sets before every key frame.
		args = append(args, "--codec", "h264", "--inline", "--intra", strconv.Itoa(r.H264.GOP))
		if r.H264.Bitrate > 0 {
			args = append(args, "--bitrate", strconv.Itoa(r.H264.Bitrate))
		}
	case r.MJPEG:
		args = append(args, "--codec", "mjpeg", "--quality", strconv.Itoa(r.Quality))
	default:
		args = append(args, "--codec", "yuv420")
	}
	return append(args, rpicamControls(r.Controls)...)
}

// rpicamControls are the control options, in a stable order. Shutter goes
// as whole microseconds, which every version reads.
func rpicamControls(c Controls) []string {
	var a []string
	if c.Shutter > 0 {
		a = append(a, "--shutter", strconv.FormatInt(c.Shutter.Microseconds(), 10))
	}
	if c.Gain > 0 {
		a = append(a, "--gain", formatFloat(c.Gain))
	}
	if c.AWB != "" {
		a = append(a, "--awb", c.AWB)
	}
	if c.AutofocusMode != "" {
		a = append(a, "--autofocus-mode", c.AutofocusMode)
	}
	if c.LensPosition != nil {
		a = append(a, "--lens-position", formatFloat(*c.LensPosition))
	}
	if c.HDR != "" && c.HDR != "off" {
		a = append(a, "--hdr="+c.HDR)
	}
	if c.Rotation != 0 {
		a = append(a, "--rotation", strconv.Itoa(c.Rotation))
	}
	if c.HFlip {
		a = append(a, "--hflip")
	}
	if c.VFlip {
		a = append(a, "--vflip")
	}
	return a
}

// GstLibcameraCommand is the gst-launch pipeline that reads a camera
// through libcamerasrc. Debian's libcamerasrc has no control properties,
// so only the camera, size and rate are set; the camera picks its own
// pixel format (a Pi's ISP gives I420 at once, others such as vimc only
// RGB) and videoconvert, which passes I420 through untouched, makes it
// I420. -q keeps gst-launch's own messages off stdout.
//
// The camera is offered the asked size or up to a sixteenth less: libcamera
// rounds to what its pipeline can make (vimc turns 640x480 into 636x480),
// and libcamerasrc fails rather than take a size outside its caps. It
// fixes the range at the size nearest the camera's default, which is the
// asked one unless the default is smaller. videoscale brings what was
// granted to the asked size, and passes that size through untouched. Not
// "any size" as a fallback: libcamerasrc would take the camera's default
// mode, however large. libcamerasrc before libcamera 0.1 ignores the rate,
// so the source drops what comes faster (MaxFPS).
func GstLibcameraCommand(r Request) []string {
	args := []string{string(GstLibcamera), "-q", "libcamerasrc"}
	if r.Camera != "" {
		args = append(args, "camera-name="+r.Camera)
	}
	w, h := r.Size.Width, r.Size.Height
	offered := fmt.Sprintf("video/x-raw,width=[%d,%d],height=[%d,%d],framerate=%s", w-w/16, w, h-h/16, h, fraction(r.FPS))
	args = append(args, "!", offered, "!", "videoconvert", "!", "videoscale",
		"!", fmt.Sprintf("video/x-raw,width=%d,height=%d,format=I420", w, h))
	switch {
	case r.H264.On: // x264 (gstreamer1.0-plugins-ugly): libcamerasrc hands over raw pictures only
		enc := []string{"x264enc", "tune=zerolatency", "speed-preset=veryfast", "key-int-max=" + strconv.Itoa(r.H264.GOP),
			"byte-stream=true", "aud=true"}
		if r.H264.Bitrate > 0 {
			enc = append(enc, "bitrate="+strconv.Itoa(max(r.H264.Bitrate/1000, 1)))
		}
		args = append(append(args, "!"), enc...)
		args = append(args, "!", "video/x-h264,stream-format=byte-stream,alignment=au")
	case r.MJPEG:
		args = append(args, "!", "jpegenc", fmt.Sprintf("quality=%d", r.Quality))
	}
	return append(args, "!", "fdsink", "fd=1")
}

// ISP is the image signal processor of a Raspberry Pi, which decides how
// rpicam-vid pads the rows of the raw frames it writes.
type ISP int

const (
	ISPVC4  ISP = iota // Pi 0 to 4 (bcm2835-isp): rows padded to 64 bytes
	ISPPiSP            // Pi 5 (pispbe): rows padded to 128 bytes
)

// RpicamStride is the Y row stride of rpicam-vid's I420 frames: it writes
// libcamera's buffers whole, padding included (chroma rows are half as
// long). Widths that are multiples of 128 are packed on every Pi.
func RpicamStride(width int, isp ISP) int {
	align := 64
	if isp == ISPPiSP {
		align = 128
	}
	return (width + align - 1) / align * align
}

func formatFloat(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

// fraction writes a frame rate as GStreamer wants it: 25/1, 30000/1001.
func fraction(fps float64) string {
	for _, den := range []int{1, 1001, 2, 4, 100} {
		if num := fps * float64(den); num == float64(int(num)) {
			return fmt.Sprintf("%d/%d", int(num), den)
		}
	}
	return fmt.Sprintf("%d/1000", int(fps*1000+0.5))
}
