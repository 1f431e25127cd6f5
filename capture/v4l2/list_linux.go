//go:build linux && cgo

package v4l2

import (
	"fmt"
	"io"
	"path/filepath"
	"sort"
	"strings"

	"github.com/vladimirvivien/go4vl/v4l2"
	"golang.org/x/sys/unix"
)

// ListDevices prints every video node with its card, driver and bus, marks
// the ones that can capture, and shows the stable /dev/v4l/by-id names.
func ListDevices(w io.Writer) error {
	nodes, _ := filepath.Glob("/dev/video*")
	sort.Slice(nodes, func(i, j int) bool { return naturalLess(nodes[i], nodes[j]) })
	if len(nodes) == 0 {
		fmt.Fprintln(w, "no video devices (/dev/video*)")
		return nil
	}
	aliases := stableNames()
	for _, n := range nodes {
		fd, err := v4l2.OpenDevice(n, unix.O_RDWR|unix.O_NONBLOCK, 0)
		if err != nil {
			fmt.Fprintf(w, "%s: %v\n", n, err)
			continue
		}
		caps, err := v4l2.GetCapability(fd)
		v4l2.CloseDevice(fd)
		if err != nil {
			fmt.Fprintf(w, "%s: %v\n", n, err)
			continue
		}
		kind := "not a capture device"
		if caps.IsVideoCaptureSupported() && caps.IsStreamingSupported() {
			kind = "capture"
		}
		fmt.Fprintf(w, "%s: %s (%s, %s) [%s]\n", n, caps.Card, caps.Driver, caps.BusInfo, kind)
		for _, a := range aliases[n] {
			fmt.Fprintf(w, "    %s\n", a)
		}
	}
	return nil
}

// stableNames maps device nodes to their /dev/v4l/by-id and by-path links.
func stableNames() map[string][]string {
	out := map[string][]string{}
	for _, dir := range []string{"/dev/v4l/by-id", "/dev/v4l/by-path"} {
		links, _ := filepath.Glob(dir + "/*")
		for _, l := range links {
			if target, err := filepath.EvalSymlinks(l); err == nil {
				out[target] = append(out[target], l)
			}
		}
	}
	return out
}

func naturalLess(a, b string) bool {
	if len(a) != len(b) {
		return len(a) < len(b)
	}
	return a < b
}

// ListFormats prints what a device offers, like v4l2-ctl --list-formats-ext.
func ListFormats(w io.Writer, path string) error {
	d, err := openDevice(path)
	if err != nil {
		return err
	}
	defer d.close()
	modes, err := d.modes()
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "%s: %s\n", path, d.card)
	last := FourCC(0)
	for _, m := range modes {
		if m.Format != last {
			usable := ""
			if _, ok := rawRatio(m.Format); ok || m.Format == MJPEG || m.Format == JPEG {
				usable = " (usable)"
			}
			fmt.Fprintf(w, "  %s%s\n", m.Format, usable)
			last = m.Format
		}
		if m.Max.Width != 0 {
			fmt.Fprintf(w, "    %v to %v, step %v\n", m.Size, m.Max, m.Step)
			continue
		}
		fps := make([]string, len(m.FPS))
		for i, f := range m.FPS {
			fps[i] = fmt.Sprintf("%.4g", f)
		}
		fmt.Fprintf(w, "    %v  %s fps\n", m.Size, strings.Join(fps, ", "))
	}
	return nil
}
