package netns_test

import (
	"bufio"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"flowcam/internal/testutil/need"
	"flowcam/internal/testutil/netns"
)

// A plain player that knows nothing of flowcam, on a link that carries
// half the stream: the server's whole-frame rate adaptation (from the
// player's own RTCP receiver reports) must give it fewer frames, each of
// them whole, at a steady rate.
func TestPlainViewerOnAWeakLink(t *testing.T) {
	need.Tool(t, "ffmpeg")
	l := newLab(t)
	l.bitsPerS = payloadBits(l.pull("measure", "single", []string{"--duration", "3s"}, nil)) * wireOverhead
	if err := l.topo.RateLimit(l.topo.Server, netns.EthDev, l.share(0.5)); err != nil {
		t.Fatal(err)
	}
	t.Logf("ethernet path: %.2f Mbit/s (half the stream)", float64(l.share(0.5))/1e6)
	const seconds, warmUp = 20, 4
	cmd := l.topo.Cmd(l.topo.Client, "ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "level+warning",
		"-rtsp_transport", "udp", "-i", l.url, "-t", strconv.Itoa(seconds), "-fps_mode", "passthrough",
		"-f", "framecrc", "-")
	stdout, _ := cmd.StdoutPipe()
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	var wg sync.WaitGroup
	var problems []string
	wg.Add(1)
	go func() {
		defer wg.Done()
		problems = complaints(stderr, start.Add(warmUp*time.Second))
	}()
	frames, err := decodedFrames(stdout)
	wg.Wait()
	if werr := cmd.Wait(); werr != nil || err != nil {
		t.Fatalf("ffmpeg: %v %v", werr, err)
	}
	checkSteady(t, frames, warmUp, seconds)
	if len(problems) > 0 {
		t.Errorf("ffmpeg complained after the first %d s:\n%s", warmUp, strings.Join(problems, "\n"))
	}
}

// complaints collects what ffmpeg says about damaged or missing data after
// since (the first seconds belong to the server finding the link's rate).
func complaints(r io.Reader, since time.Time) []string {
	var out []string
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := sc.Text()
		if time.Now().Before(since) {
			continue
		}
		low := strings.ToLower(line)
		for _, w := range []string{"error", "missing", "corrupt", "invalid", "drop", "mjpeg"} {
			if strings.Contains(low, w) {
				out = append(out, line)
				break
			}
		}
	}
	return out
}

// decodedFrames reads ffmpeg's framecrc output: one line per decoded frame
// with its presentation time in the stream's time base.
func decodedFrames(r io.Reader) ([]time.Duration, error) {
	var tb float64
	var out []time.Duration
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := sc.Text()
		if rest, ok := strings.CutPrefix(line, "#tb 0: "); ok {
			num, den, _ := strings.Cut(rest, "/")
			n, _ := strconv.ParseFloat(num, 64)
			d, _ := strconv.ParseFloat(den, 64)
			if d > 0 {
				tb = n / d
			}
			continue
		}
		if strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Split(line, ",")
		if len(f) < 2 || tb == 0 {
			continue
		}
		pts, err := strconv.ParseFloat(strings.TrimSpace(f[2]), 64)
		if err != nil {
			return out, fmt.Errorf("framecrc line %q: %w", line, err)
		}
		out = append(out, time.Duration(pts*tb*float64(time.Second)))
	}
	return out, sc.Err()
}

// checkSteady holds the rate the player gets after the warm-up: fewer
// frames than the source makes (the link carries half), more than a
// trickle, and no second without pictures or far below the others.
func checkSteady(t *testing.T, pts []time.Duration, warmUp, seconds int) {
	t.Helper()
	if len(pts) == 0 {
		t.Fatal("ffmpeg decoded no frame")
	}
	per := make([]int, seconds+2)
	for _, p := range pts {
		if s := int((p - pts[0]) / time.Second); s >= 0 && s < len(per) {
			per[s]++
		}
	}
	window := per[warmUp : seconds-1]
	total := 0
	for _, n := range window {
		total += n
	}
	rate := float64(total) / float64(len(window)) / fps
	sorted := slices.Clone(window)
	slices.Sort(sorted)
	t.Logf("frames decoded per second: %v (%.0f%% of the source's %d fps after %d s)", per, rate*100, fps, warmUp)
	if rate < 0.2 || rate > 0.6 {
		t.Errorf("the player got %.0f%% of the frames over a link carrying half the stream, want 20-60%%", rate*100)
	}
	if sorted[0] < sorted[len(sorted)/2]/2 {
		t.Errorf("frames per second %v: not steady (a second got less than half the median)", window)
	}
}
