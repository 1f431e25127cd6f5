//go:build !linux || !cgo

package v4l2

import (
	"errors"
	"io"
	"time"
)

// ErrTimeout means no frame arrived in time.
var ErrTimeout = errors.New("no frame within the watchdog timeout")

type rawFrame struct {
	data     []byte
	seq      uint32
	captured time.Duration
	index    int
	bad      bool
}

// Available reports whether this build can open V4L2 cameras: it needs
// Linux and cgo (go4vl is a cgo package).
const Available = false

func openCamera(path string) (camera, error) {
	return nil, errUnavailable
}

func monotonicNow() time.Duration { return time.Duration(time.Now().UnixNano()) }

// ListDevices is Linux-only.
func ListDevices(w io.Writer) error { return errUnavailable }

// ListFormats is Linux-only.
func ListFormats(w io.Writer, path string) error {
	return errUnavailable
}
