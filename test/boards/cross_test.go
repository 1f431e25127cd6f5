// Package boards_test checks the release binaries people copy onto boards:
// the static arm64 and armv7 builds run under qemu-user, serve the test
// pattern on loopback and play in ffmpeg.
package boards_test

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"flowcam/internal/testutil/daemon"
	"flowcam/internal/testutil/need"
)

// target is one release build: where make puts it, what `file` must say,
// and the qemu-user emulator that runs it here.
type target struct {
	name, fileSays, qemu string
}

var targets = []target{
	{"arm64", "ARM aarch64", "qemu-aarch64-static"},
	{"armv7", "ARM, EABI5", "qemu-arm-static"},
}

// binDir is where `make arm64 armv7` left the binaries; FLOWCAM_BIN_ROOT
// overrides the repository's bin folder.
func binDir(t *testing.T, name string) string {
	t.Helper()
	root := os.Getenv("FLOWCAM_BIN_ROOT")
	if root == "" {
		root = filepath.Join("..", "..", "bin")
	}
	dir := filepath.Join(root, "linux-"+name)
	if _, err := os.Stat(filepath.Join(dir, "flowcamd")); err != nil {
		need.Skip(t, "no %s build in %s (run make %s)", name, dir, name)
	}
	return dir
}

func TestStaticARMBinaries(t *testing.T) {
	need.Tool(t, "file")
	for _, tg := range targets {
		t.Run(tg.name, func(t *testing.T) {
			dir := binDir(t, tg.name)
			for _, bin := range []string{"flowcamd", "flowcam"} {
				out, err := exec.Command("file", "-b", filepath.Join(dir, bin)).Output()
				if err != nil {
					t.Fatal(err)
				}
				desc := string(out)
				if !strings.Contains(desc, tg.fileSays) || !strings.Contains(desc, "statically linked") {
					t.Errorf("%s/%s: file says %q, want a statically linked %s executable", tg.name, bin, desc, tg.fileSays)
				}
			}
		})
	}
}

// TestARMServesPattern plays 50 frames from each ARM flowcamd under
// qemu-user with ffmpeg, the way a viewer on the network would.
func TestARMServesPattern(t *testing.T) {
	need.Tool(t, "ffmpeg")
	for _, tg := range targets {
		t.Run(tg.name, func(t *testing.T) {
			need.Tool(t, tg.qemu)
			dir := binDir(t, tg.name)
			version, err := exec.Command(tg.qemu, filepath.Join(dir, "flowcamd"), "--version").CombinedOutput()
			if err != nil || !bytes.Contains(version, []byte("cgo, static")) || !bytes.Contains(version, []byte("libjpeg-turbo")) {
				t.Fatalf("--version under %s: %v\n%s", tg.qemu, err, version)
			}
			t.Logf("%s", bytes.TrimSpace(version))
			d, err := daemon.StartWrapped([]string{tg.qemu}, filepath.Join(dir, "flowcamd"),
				"--source", "pattern", "--size", "1280x720", "--fps", "25")
			if err != nil {
				t.Fatal(err)
			}
			defer d.Stop()
			frames, size, err := play(d.URL("/cam"), 50)
			if err != nil {
				t.Fatalf("%v\ndaemon log:\n%s", err, d.Logs())
			}
			if frames != 50 || size != "1280x720" {
				t.Errorf("ffmpeg decoded %d frames of %s, want 50 of 1280x720", frames, size)
			}
		})
	}
}

var (
	frameRe = regexp.MustCompile(`frame=\s*(\d+)`)
	sizeRe  = regexp.MustCompile(`Video: mjpeg[^\n]*?, (\d+x\d+)`)
)

// play decodes n frames over RTSP/TCP and reports what ffmpeg saw.
func play(url string, n int) (int, string, error) {
	cmd := exec.Command("ffmpeg", "-hide_banner", "-nostdin", "-rtsp_transport", "tcp", "-i", url,
		"-frames:v", strconv.Itoa(n), "-f", "null", "-")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	timer := time.AfterFunc(60*time.Second, func() { cmd.Process.Kill() })
	defer timer.Stop()
	if err := cmd.Run(); err != nil {
		return 0, "", fmt.Errorf("ffmpeg: %v\n%s", err, stderr.String())
	}
	out := stderr.String()
	var frames int
	if m := frameRe.FindAllStringSubmatch(out, -1); m != nil {
		frames, _ = strconv.Atoi(m[len(m)-1][1])
	}
	size := ""
	if m := sizeRe.FindStringSubmatch(out); m != nil {
		size = m[1]
	}
	return frames, size, nil
}
