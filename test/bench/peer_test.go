package bench_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"flowcam/capture/jpeg"
)

// gstPatterns are videotestsrc's still pictures a GStreamer peer may
// encode. "smpte" carries a block of fresh noise in every frame, which
// doubles its JPEG at q80 against flowcamd's pattern and so doubles the
// bytes and packets the peer sends each viewer: a peer is only compared
// on a picture that costs about what flowcamd's does.
var gstPatterns = []string{"smpte", "smpte75", "smpte100", "bar", "ball", "colors"}

// peerPicture is the videotestsrc pattern a GStreamer peer encodes and
// how its JPEG compares with flowcamd's frame.
type peerPicture struct {
	pattern     string
	bytes, ours int
	sizes       []string // every candidate, for the report
}

// String is the report's line on it.
func (p peerPicture) String() string {
	return fmt.Sprintf("GStreamer encodes videotestsrc pattern=%s, %d bytes a frame at q%d against flowcamd's %d (the nearest of %s).\n",
		p.pattern, p.bytes, quality, p.ours, strings.Join(p.sizes, " "))
}

// gstCaps are the raw caps every GStreamer peer encodes from. format=I420:
// left free, videotestsrc and jpegenc settle on 4:4:4, which rtpjpegpay
// rejects ("Invalid component") and sends nothing.
var gstCaps = fmt.Sprintf("video/x-raw,format=I420,width=%d,height=%d,framerate=%d/1", width, height, fps)

// chooseGstPattern encodes one frame of each candidate with jpegenc at the
// bench's size and quality and keeps the one nearest in bytes to target.
func chooseGstPattern(t *testing.T, dir string, target int) peerPicture {
	t.Helper()
	best := peerPicture{ours: target, bytes: -1}
	for _, p := range gstPatterns {
		path := filepath.Join(dir, "gst-"+p+".jpg")
		if _, err := run(dir, "gst-launch-1.0", "-q", "videotestsrc", "pattern="+p, "num-buffers=1", "!", gstCaps, "!",
			"jpegenc", "quality="+strconv.Itoa(quality), "!", "filesink", "location="+path); err != nil {
			t.Fatalf("gst-launch videotestsrc pattern=%s: %v", p, err)
		}
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatalf("gst-launch videotestsrc pattern=%s wrote no JPEG: %v", p, err)
		}
		n := int(fi.Size())
		best.sizes = append(best.sizes, fmt.Sprintf("%s=%d", p, n))
		if best.bytes < 0 || abs(n-target) < abs(best.bytes-target) {
			best.pattern, best.bytes = p, n
		}
	}
	t.Logf("videotestsrc pattern search: %s", best)
	return best
}

// ourFrameBytes is the size of flowcamd's JPEG of the bench frame.
func ourFrameBytes(t *testing.T) int {
	t.Helper()
	enc, err := jpeg.New(quality)
	if err != nil {
		t.Fatalf("jpeg.New(%d): %v", quality, err)
	}
	out, err := enc.Encode(nil, newFrame(t))
	if err != nil {
		t.Fatalf("encoding the pattern frame: %v", err)
	}
	return len(out)
}
