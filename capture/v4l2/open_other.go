//go:build !linux

package v4l2

import (
	"errors"
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
	return nil, errors.New("V4L2 cameras are only supported on Linux")
}

func monotonicNow() time.Duration { return time.Duration(time.Now().UnixNano()) }
