package bench_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"flowcam/internal/testutil/daemon"
)

// filesReport is the cost of serving a 720p25 file, per second of video.
type filesReport struct {
	mjpeg, h264, ffmpegMJPEG, ffmpegH264 float64 // CPU seconds per second
	mjpegFrames, h264Frames              int
}

const fileWindow = 10 * time.Second

// measureFiles serves an MJPEG and an H.264 file of the test picture to
// one viewer and reads the CPU of the daemon and its ffmpeg children; as a
// reference, ffmpeg alone does the same work (read in real time, encode
// MJPEG) on the same files.
func measureFiles(t *testing.T, dir string) filesReport {
	t.Helper()
	bin, err := daemon.Binary(dir)
	if err != nil {
		t.Fatal(err)
	}
	mj := makeClip(t, dir, "clip.mkv", "-c:v", "mjpeg", "-q:v", "3", "-huffman", "default")
	h264 := makeClip(t, dir, "clip.mp4", "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p")
	var r filesReport
	var a, b []float64
	for i := 0; i < runs; i++ {
		cpu, n := serveFile(t, bin, mj)
		a, r.mjpegFrames = append(a, cpu), n
		cpu, n = serveFile(t, bin, h264)
		b, r.h264Frames = append(b, cpu), n
	}
	r.mjpeg, r.h264 = median(a), median(b)
	r.ffmpegMJPEG, r.ffmpegH264 = ffmpegAlone(t, mj), ffmpegAlone(t, h264)
	return r
}

func makeClip(t *testing.T, dir, name string, codec ...string) string {
	out := filepath.Join(dir, name)
	args := append([]string{"-hide_banner", "-nostdin", "-v", "error", "-f", "lavfi",
		"-i", fmt.Sprintf("testsrc2=size=%dx%d:rate=%d", width, height, fps), "-t", "20"}, codec...)
	if b, err := exec.Command("ffmpeg", append(args, "-y", out)...).CombinedOutput(); err != nil {
		t.Fatalf("making %s: %v\n%s", name, err, b)
	}
	return out
}

// serveFile returns the CPU seconds per second of video the daemon (with
// its ffmpeg child, when it decodes) spends serving the file to a viewer.
func serveFile(t *testing.T, bin, file string) (float64, int) {
	cpu, frames := serveForCPU(t, bin, func(d *daemon.Daemon) time.Duration { return treeCPU(t, d.Cmd.Process.Pid) },
		"--source", file, "--quality", strconv.Itoa(quality))
	return cpu.Seconds() / fileWindow.Seconds(), frames
}

// treeCPU is a process's CPU plus that of its children (the ffmpeg
// decoder), read from /proc.
func treeCPU(t *testing.T, pid int) time.Duration {
	total, err := daemon.ProcessCPU(pid)
	if err != nil {
		t.Fatal(err)
	}
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", pid))
	for _, f := range tasks {
		b, _ := os.ReadFile(f)
		for _, c := range strings.Fields(string(b)) {
			if cpid, err := strconv.Atoi(c); err == nil {
				if cpu, err := daemon.ProcessCPU(cpid); err == nil {
					total += cpu
				}
			}
		}
	}
	return total
}

// ffmpegAlone runs `ffmpeg -re -i FILE -c:v mjpeg -f null -` for the same
// window: the same work (real-time read, decode when needed, MJPEG) done by
// ffmpeg alone, without the RTSP serving.
func ffmpegAlone(t *testing.T, file string) float64 {
	cmd := exec.Command("ffmpeg", "-hide_banner", "-nostdin", "-v", "error", "-re", "-i", file,
		"-c:v", "mjpeg", "-q:v", "3", "-huffman", "default", "-f", "null", "-")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	time.Sleep(2 * time.Second)
	c0, _ := daemon.ProcessCPU(cmd.Process.Pid)
	time.Sleep(fileWindow)
	c1, _ := daemon.ProcessCPU(cmd.Process.Pid)
	return (c1 - c0).Seconds() / fileWindow.Seconds()
}

func (r filesReport) table() string {
	tb := newTable(fmt.Sprintf("serve a %dx%d %d fps file to one viewer", width, height, fps),
		"CPU s per s of video", "% of one core", "frames in 10 s")
	tb.row("flowcamd, MJPEG file (passthrough)", fmt.Sprintf("%.3f", r.mjpeg), f0(100*r.mjpeg), strconv.Itoa(r.mjpegFrames))
	tb.row("flowcamd, H.264 file (ffmpeg decode + our encode)", fmt.Sprintf("%.3f", r.h264), f0(100*r.h264), strconv.Itoa(r.h264Frames))
	tb.row("ffmpeg -re -i MJPEG file -c:v mjpeg -f null -", fmt.Sprintf("%.3f", r.ffmpegMJPEG), f0(100*r.ffmpegMJPEG), "")
	tb.row("ffmpeg -re -i H.264 file -c:v mjpeg -f null -", fmt.Sprintf("%.3f", r.ffmpegH264), f0(100*r.ffmpegH264), "")
	return tb.String()
}
