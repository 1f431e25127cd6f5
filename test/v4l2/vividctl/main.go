// Command vividctl presses a button control of a V4L2 device by name, for
// the V4L2 integration test: vivid's "Disconnect" makes the device behave
// like an unplugged USB camera (every open handle gets ENODEV).
//
//	vividctl /dev/video0 Disconnect
package main

import (
	"fmt"
	"os"
	"strings"
	"unsafe"

	"github.com/vladimirvivien/go4vl/v4l2"
	"golang.org/x/sys/unix"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: vividctl DEVICE CONTROL")
		os.Exit(2)
	}
	if err := press(os.Args[1], os.Args[2]); err != nil {
		fmt.Fprintln(os.Stderr, "vividctl:", err)
		os.Exit(1)
	}
}

func press(dev, name string) error {
	fd, err := v4l2.OpenDevice(dev, unix.O_RDWR|unix.O_NONBLOCK, 0)
	if err != nil {
		return err
	}
	defer v4l2.CloseDevice(fd)
	ctrls, err := v4l2.QueryAllControls(fd)
	if err != nil {
		return fmt.Errorf("list controls: %w", err)
	}
	var names []string
	for _, c := range ctrls {
		if strings.EqualFold(c.Name, name) {
			return pressButton(fd, c.ID)
		}
		names = append(names, c.Name)
	}
	return fmt.Errorf("%s has no control %q (it has %s)", dev, name, strings.Join(names, ", "))
}

// pressButton sets a button control with a bare VIDIOC_S_CTRL: go4vl
// checks the value against the control's range, and a button's is 0..0.
func pressButton(fd uintptr, id uint32) error {
	ctrl := struct {
		id    uint32
		value int32
	}{id, 1}
	const vidiocSCtrl = 0xC008561C // _IOWR('V', 28, struct v4l2_control)
	if _, _, errno := unix.Syscall(unix.SYS_IOCTL, fd, vidiocSCtrl, uintptr(unsafe.Pointer(&ctrl))); errno != 0 {
		return fmt.Errorf("VIDIOC_S_CTRL %#x: %w", id, errno)
	}
	return nil
}
