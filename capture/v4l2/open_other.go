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

func openCamera(path string) (camera, error) {
	return nil, errors.New("V4L2 cameras need Linux and a cgo build")
}

func monotonicNow() time.Duration { return time.Duration(time.Now().UnixNano()) }

// ListDevices is Linux-only.
func ListDevices(w io.Writer) error { return errors.New("V4L2 cameras need Linux and a cgo build") }

// ListFormats is Linux-only.
func ListFormats(w io.Writer, path string) error {
	return errors.New("V4L2 cameras need Linux and a cgo build")
}
