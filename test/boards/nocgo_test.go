package boards_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"flowcam/internal/testutil/daemon"
	"flowcam/internal/testutil/need"
)

// TestNoCgoBuildServes builds flowcamd with CGO_ENABLED=0, the build for
// targets without a C cross compiler, and checks that it says what it lacks
// and that its pure-Go JPEG still plays in ffmpeg.
func TestNoCgoBuildServes(t *testing.T) {
	need.Tool(t, "ffmpeg")
	bin := filepath.Join(t.TempDir(), "flowcamd")
	build := exec.Command("go", "build", "-o", bin, "flowcam/cmd/flowcamd")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("CGO_ENABLED=0 go build: %v\n%s", err, out)
	}
	version, err := exec.Command(bin, "--version").CombinedOutput()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"no cgo", "static", "jpeg encoder: Go image/jpeg", "v4l2 cameras: no"} {
		if !bytes.Contains(version, []byte(want)) {
			t.Errorf("--version lacks %q:\n%s", want, version)
		}
	}
	d, err := daemon.Start(bin, "--source", "pattern", "--size", "640x480", "--fps", "25")
	if err != nil {
		t.Fatal(err)
	}
	defer d.Stop()
	frames, size, err := play(d.URL("/cam"), 25)
	if err != nil {
		t.Fatal(err)
	}
	if frames != 25 || size != "640x480" {
		t.Errorf("ffmpeg decoded %d frames of %s, want 25 of 640x480", frames, size)
	}
	cam, err := exec.Command(bin, "--source", "/dev/video0").CombinedOutput()
	if err == nil || !bytes.Contains(cam, []byte("cgo")) {
		t.Errorf("a camera source in a no-cgo build should fail saying why, got %v:\n%s", err, cam)
	}
}
