//go:build !linux

package child

import (
	"os"
	"syscall"
)

func groupAttr() *syscall.SysProcAttr { return nil }

func signalGroup(pid int, sig syscall.Signal) {
	if p, err := os.FindProcess(pid); err == nil {
		p.Kill()
	}
}
