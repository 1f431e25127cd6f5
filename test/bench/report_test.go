// Package bench_test is `make bench`: it measures flowcamd's hot paths and
// its serving cost and prints them beside reference tools measured in the
// same run. It prints figures and never fails on a time; it fails only
// when a tool crashes or its output cannot be read.
package bench_test

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"flowcam/internal/testutil/daemon"
)

// Settings shared by every measurement, so every row describes the same
// picture: 1280x720 at 25 frames/s, quality 80, 4:2:0.
const (
	width, height = 1280, 720
	fps           = 25
	quality       = 80
	patternFrame  = 42 // which pattern frame is encoded offline
	mtu           = 1400
	runs          = 3 // every figure is the median of this many runs

	warmUp = 2 * time.Second  // before the first serving window
	window = 15 * time.Second // one serving CPU measurement
)

// TestReport runs every measurement and prints the summary table.
// It takes about seven minutes, so it only runs with FLOWCAM_BENCH=1.
func TestReport(t *testing.T) {
	daemon.LoopbackCrowd() // the serving benchmark plays 20 clients from 127.0.0.1
	if os.Getenv("FLOWCAM_BENCH") != "1" {
		t.Skip("set FLOWCAM_BENCH=1 to run the benchmark report (about 7 minutes)")
	}
	for _, tool := range []string{"tjbench", "ffmpeg", "gst-launch-1.0"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is not installed: %v", tool, err)
		}
	}
	start := time.Now()
	dir := t.TempDir()

	frame := newFrame(t)
	enc := measureEncode(t, dir, frame)
	threads := measureThreads(t, dir)
	pkt := measurePacketize(t, enc.jpeg)
	cam := measureYUYV(t, dir, frame)
	peer := chooseGstPattern(t, dir, len(enc.jpeg))
	srv := measureServing(t, dir, enc.ffmpegQ, peer)
	viewers := measureViewers(t, dir, peer)
	files := measureFiles(t, dir)
	helper := measureHelper(t, dir)
	codecs := measureCodecs(t, dir)
	board := boardSection(t)

	fmt.Print("\n" + summary(enc, pkt, srv) + "\n" + threads.table() + "\n" + viewers.table() + "\n" + cam.table() + "\n" + helper.table(cam) + "\n" + codecs.table() + "\n" + files.table() + "\n" + board)
	t.Logf("report took %v", time.Since(start).Round(time.Second))
}

// summary renders every figure as plain aligned text for a closing note.
func summary(enc encodeReport, pkt packetizeFig, srv servingReport) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Figures: median of %d runs each; CPU = user+system time.\n\n", runs)
	b.WriteString(enc.table())
	b.WriteString("\n")
	b.WriteString(pkt.table())
	b.WriteString("\n")
	b.WriteString(srv.table())
	return b.String()
}
