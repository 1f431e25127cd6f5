package player

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"regexp"
	"strconv"
)

// GStreamer plays url with gst-launch-1.0 (rtspsrc ! rtpjpegdepay !
// jpegdec) until frames frames were decoded, and returns gst-launch's
// output. caps, if set, must fit the decoded pictures (such as
// "video/x-raw,width=1280,height=720"), or the pipeline fails to
// negotiate. props are extra rtspsrc properties such as "protocols=tcp".
//
// After the last frame gst-launch tears the pipeline down, and rtspsrc's
// state change can flush the RTSP connection while its own PAUSE is on the
// way out; it then reports "Could not send message" for that PAUSE and exits
// with 1, although the stream played and the TEARDOWN reached the server.
// That one error, after EOS, is not held against the stream.
func GStreamer(ctx context.Context, url string, frames int, caps string, props ...string) ([]byte, error) {
	return gstPlay(ctx, url, frames, []string{"rtpjpegdepay", "!", "jpegdec"}, caps, props)
}

// GStreamerH264 is GStreamer for an H.264 stream: rtph264depay !
// avdec_h264 (gstreamer1.0-libav).
func GStreamerH264(ctx context.Context, url string, frames int, caps string, props ...string) ([]byte, error) {
	return gstPlay(ctx, url, frames, []string{"rtph264depay", "!", "avdec_h264"}, caps, props)
}

func gstPlay(ctx context.Context, url string, frames int, decode []string, caps string, props []string) ([]byte, error) {
	args := append([]string{"rtspsrc", "location=" + url}, props...)
	args = append(append(append(args, "!"), decode...), "!")
	if caps != "" {
		args = append(args, caps, "!")
	}
	args = append(args, "identity", "eos-after="+strconv.Itoa(frames), "!", "fakesink")
	out, err := exec.CommandContext(ctx, "gst-launch-1.0", args...).CombinedOutput()
	eos := bytes.Index(out, []byte("Got EOS from element"))
	switch {
	case eos < 0:
		return out, fmt.Errorf("gst-launch: no EOS after %d frames (%v)", frames, err)
	case err != nil && !onlyPauseRace(out[eos:]):
		return out, fmt.Errorf("gst-launch: %w", err)
	}
	return out, nil
}

var (
	gstError  = regexp.MustCompile(`(?m)^ERROR: .*\n(?:Additional debug info:\n)?(.*)`)
	pauseRace = regexp.MustCompile(`gst_rtspsrc_(?:try_send|pause) \(\): .*\n?.*Could not send message`)
)

// onlyPauseRace reports whether every error gst-launch printed after EOS
// is the teardown race described at GStreamer.
func onlyPauseRace(afterEOS []byte) bool {
	errs := gstError.FindAllSubmatchIndex(afterEOS, -1)
	if len(errs) == 0 {
		return false
	}
	for _, m := range errs {
		end := min(m[1]+200, len(afterEOS))
		if !pauseRace.Match(afterEOS[m[2]:end]) {
			return false
		}
	}
	return true
}
