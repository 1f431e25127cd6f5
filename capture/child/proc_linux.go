package child

import "syscall"

// groupAttr puts the helper in a process group of its own, so it is killed
// with everything it started (gst-launch's elements, a shell a vendor tool
// runs), and has the kernel kill it if the daemon dies, however it dies.
func groupAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// signalGroup sends sig to the helper's whole process group.
func signalGroup(pid int, sig syscall.Signal) { syscall.Kill(-pid, sig) }
