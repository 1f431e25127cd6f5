//go:build !linux

package file

import "syscall"

// childAttr: elsewhere ffmpeg is killed by Close only.
func childAttr() *syscall.SysProcAttr { return nil }
