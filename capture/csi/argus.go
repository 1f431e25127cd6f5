package csi

import (
	"fmt"
	"strconv"
	"time"

	"flowcam/capture"
)

// ArgusRequest is what the daemon asks of a Jetson CSI camera.
type ArgusRequest struct {
	Sensor  int // sensor-id
	Size    capture.Size
	FPS     float64
	Raw     bool // hand over I420 for our encoder instead of the Jetson's JPEG engine
	Quality int  // nvjpegenc quality
	H264    H264 // the Jetson's video encoder (nvv4l2h264enc) instead, when H264.On
	// Controls; zero values leave Argus's automatic choice.
	Exposure time.Duration // fixed exposure time
	Gain     float64       // fixed gain, 1 to 16
	WBMode   string        // off, auto, incandescent, fluorescent, warm-fluorescent, daylight, cloudy-daylight, twilight, shade
}

// ArgusFrameFD is where the Argus pipeline writes frames: nvarguscamerasrc
// prints its status with printf on stdout, which would land among them.
const ArgusFrameFD = 3

// ArgusCommand is the gst-launch pipeline for r: the Jetson's JPEG engine
// (nvjpegenc) by default, its H.264 encoder, or nvvidconv to planar I420
// in system memory.
func ArgusCommand(r ArgusRequest) []string {
	args := []string{"gst-launch-1.0", "-q", "nvarguscamerasrc", "sensor-id=" + strconv.Itoa(r.Sensor)}
	if r.Exposure > 0 {
		ns := strconv.FormatInt(r.Exposure.Nanoseconds(), 10)
		args = append(args, fmt.Sprintf("exposuretimerange=%s %s", ns, ns))
	}
	if r.Gain > 0 {
		g := formatFloat(r.Gain)
		args = append(args, fmt.Sprintf("gainrange=%s %s", g, g))
	}
	if r.WBMode != "" {
		args = append(args, "wbmode="+r.WBMode)
	}
	args = append(args, "!", fmt.Sprintf("video/x-raw(memory:NVMM),width=%d,height=%d,framerate=%s",
		r.Size.Width, r.Size.Height, fraction(r.FPS)))
	switch {
	case r.H264.On:
		args = append(args, "!", "nvv4l2h264enc", "insert-sps-pps=true", "insert-aud=true", "iframeinterval="+strconv.Itoa(r.H264.GOP))
		if r.H264.Bitrate > 0 {
			args = append(args, "bitrate="+strconv.Itoa(r.H264.Bitrate))
		}
		args = append(args, "!", "h264parse", "!", "video/x-h264,stream-format=byte-stream,alignment=au")
	case r.Raw:
		args = append(args, "!", "nvvidconv", "!", "video/x-raw,format=I420")
	default:
		args = append(args, "!", "nvjpegenc", "quality="+strconv.Itoa(r.Quality))
	}
	return append(args, "!", "fdsink", "fd="+strconv.Itoa(ArgusFrameFD))
}
