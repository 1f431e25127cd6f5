package file

import "syscall"

// childAttr has the kernel kill ffmpeg if the daemon dies, however it dies.
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
