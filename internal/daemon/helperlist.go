package daemon

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"flowcam/capture/csi"
)

// helperTools lists the capture helpers installed here, for --version and
// the status page.
func helperTools() []string {
	var out []string
	for _, t := range []string{"rpicam-vid", "libcamera-vid", "cam"} {
		if _, err := exec.LookPath(t); err == nil {
			out = append(out, t)
		}
	}
	for _, el := range []string{"libcamerasrc", "nvarguscamerasrc"} {
		if gstHasElement(el) {
			out = append(out, "gst-launch-1.0 "+el)
		}
	}
	if _, err := exec.LookPath("ffmpeg"); err == nil {
		out = append(out, "ffmpeg (for exec: sources)")
	}
	if len(out) == 0 {
		return []string{"none"}
	}
	return out
}

// listHelperCameras adds the cameras only a helper can drive to
// --list-devices, each with the name to put in --source.
func listHelperCameras(w io.Writer) {
	if out, tool := runFirst([][]string{{"rpicam-hello", "--list-cameras"}, {"libcamera-hello", "--list-cameras"}}); tool != "" {
		printCameras(w, tool, csi.ParseRpicamList(out), "libcamera:")
	} else if out, tool := runFirst([][]string{{"cam", "-l"}}); tool != "" {
		printCameras(w, tool, csi.ParseCamList(out), "libcamera:")
	}
	if gstHasElement("nvarguscamerasrc") {
		fmt.Fprintln(w, "Jetson CSI sensors (nvarguscamerasrc; sensor numbers follow the vi-output nodes' order):")
		names, _ := filepath.Glob("/sys/class/video4linux/video*/name")
		n := 0
		for _, p := range names {
			if b, err := os.ReadFile(p); err == nil && strings.HasPrefix(string(b), "vi-output") {
				fmt.Fprintf(w, "  argus:%d  %s\n", n, strings.TrimSpace(string(b)))
				n++
			}
		}
		if n == 0 {
			fmt.Fprintln(w, "  none found")
		}
	}
}

func printCameras(w io.Writer, tool string, cams []csi.Camera, prefix string) {
	fmt.Fprintf(w, "libcamera cameras (%s):\n", tool)
	if len(cams) == 0 {
		// libcamera cannot enumerate a camera another process streams from.
		fmt.Fprintln(w, "  none (a camera in use, by a running flowcamd too, is not listed)")
	}
	for _, c := range cams {
		fmt.Fprintf(w, "  %s%d  %s (%s)", prefix, c.Index, c.Model, c.ID)
		if len(c.Modes) > 0 {
			fmt.Fprintf(w, "  modes %s", strings.Join(c.Modes, " "))
		}
		fmt.Fprintln(w)
	}
}

// runFirst runs the first of the commands that is installed and returns
// its output and name ("" when none is).
func runFirst(cmds [][]string) (string, string) {
	for _, c := range cmds {
		if _, err := exec.LookPath(c[0]); err != nil {
			continue
		}
		cmd, cancel := probe(10*time.Second, c[0], c[1:]...)
		out, _ := cmd.CombinedOutput() // old tools list on stderr
		cancel()
		return string(out), strings.Join(c, " ")
	}
	return "", ""
}

// probe prepares a short-lived query of an installed tool. It is killed
// after limit, and its output is given up WaitDelay later: libcamera's IPA
// proxies and GStreamer's plugin scanner are children that inherit the
// pipe and may outlive a killed parent, which would otherwise hold
// --list-devices (or a helper's start) forever.
func probe(limit time.Duration, name string, args ...string) (*exec.Cmd, context.CancelFunc) {
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.WaitDelay = 2 * time.Second
	return cmd, cancel
}
