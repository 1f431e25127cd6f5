// Package vm owns the throwaway Linux guests of the V4L2 integration tests:
// a qemu (TCG) VM running Debian's stock kernel with the virtual camera
// drivers loaded (vivid, a plain V4L2 camera; vimc, a media-controller
// camera of sensor, debayer and scaler, as libcamera drives them; vim2m, a
// memory-to-memory converter), so the daemon can be tested against real
// drivers on a machine with no camera.
//
// It owns the whole chain: fetching the kernel package Debian's
// linux-image-amd64 currently names (apt-get download, dpkg -x, depmod),
// taking the module load order from modprobe --show-depends, caching the
// kernel, the needed modules and the base initramfs (static busybox, the
// modules, an /init) in <repo root>/.cache/vm/<kernel version>/ (or
// $FLOWCAM_VM_CACHE), appending the per-test files (binaries, startup
// script) as a second cpio archive on each boot, running qemu, and driving
// the guest's serial console. Only the first boot on a machine downloads
// (~70 MB of kernel, plus ~155 MB of linux-source, headers and kbuild to
// build vim2m and vimc, ~60 s in all); later boots reuse the cache and take
// ~5-10 s.
//
// The guest's /init mounts proc, sysfs and devtmpfs, loads e1000 and the
// vivid chain, then vim2m's and vimc's (built out of tree when the kernel
// lacks them, as Debian 12's does),
// sets eth0 to 10.0.2.15/24 with the default route via 10.0.2.2 (qemu
// user-mode networking; the host is reachable there), runs Options.Startup,
// and then serves a shell on the console that Guest.Run drives. TCP ports
// listed in Options.GuestPorts are forwarded from 127.0.0.1 on the host.
//
// Guest binaries must be static: the initramfs has no libc, unless the
// test brings the host's with HostFiles (dynamically linked host programs,
// e.g. libcamera and GStreamer, with every library they load). For the daemon
// (cgo, for libjpeg-turbo) BuildStatic runs, from the repository root,
//
//	CGO_ENABLED=1 go build -trimpath -tags netgo,osusergo -ldflags '-extldflags -static' -o OUT ./cmd/flowcamd
//
// Programs started by Startup should send their output to a file in the
// guest (e.g. `flowcamd ... >/tmp/flowcamd.log 2>&1 &`) and be read with
// g.Run(ctx, "cat /tmp/flowcamd.log"): anything written to the console
// interleaves with Run's output.
//
// Under emulation the guest is slow (vivid gives ~12 fps at 1280x720, 25 fps
// at 640x480): never assert real-time rates in it.
//
// Host needs: linux/amd64, qemu-system-x86 busybox-static cpio kmod, and
// for the first boot apt with package lists and a reachable mirror.
// Available says which is missing; Require skips (fails under CI=true).
package vm

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Options configures a guest. The zero value boots a VM with vivid loaded
// and nothing else running.
type Options struct {
	// Files maps guest paths to host files copied into the guest,
	// keeping the host file's permissions.
	Files map[string]string
	// Binaries maps guest paths (e.g. "/bin/flowcamd") to static host
	// binaries, installed with mode 0755.
	Binaries map[string]string
	// Startup is a shell script run by /init, after the modules and the
	// network are up and before the console shell starts. Boot fails if it
	// exits non-zero. Start daemons in the background with their output
	// redirected to a file.
	Startup string
	// GuestPorts are guest TCP ports forwarded from a free host port each;
	// see HostAddr.
	GuestPorts []int
	// Memory is the guest's RAM in MiB (default 1024).
	Memory int
	// Timeout bounds Boot as a whole: fetching the kernel on a first run,
	// building the initrd and booting (default 3 minutes).
	Timeout time.Duration
	// Log, if set, receives a copy of the console as it is printed.
	Log io.Writer
}

func (o Options) withDefaults() Options {
	if o.Memory <= 0 {
		o.Memory = 1024
	}
	if o.Timeout <= 0 {
		o.Timeout = 3 * time.Minute
	}
	return o
}

// Guest is a running VM. Its methods are safe for concurrent use; Run calls
// are serialised on the one console.
type Guest struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	con    *console
	exited chan struct{} // closed once qemu has exited and its output is read

	kernel *kernel
	ports  map[int]int // guest port -> host port
	tmp    string
	boot   time.Duration
	nonce  string

	runMu sync.Mutex
	seq   int

	closeOnce sync.Once
	closeErr  error
}

// Boot starts a guest and returns once its console shell is ready, after
// Options.Startup has run. ctx bounds the boot only, not the guest's life:
// call Close when done.
func Boot(ctx context.Context, opts Options) (*Guest, error) {
	opts = opts.withDefaults()
	ctx, cancel := context.WithTimeout(ctx, opts.Timeout)
	defer cancel()
	k, err := resolveKernel(ctx)
	if err != nil {
		return nil, err
	}
	base, err := baseArchive(k)
	if err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp("", "flowcam-vm-")
	if err != nil {
		return nil, fmt.Errorf("vm: %w", err)
	}
	g, err := start(k, base, tmp, opts)
	if err != nil {
		os.RemoveAll(tmp)
		return nil, err
	}
	if err := g.waitReady(ctx); err != nil {
		g.Close()
		return nil, err
	}
	return g, nil
}

// Start is Boot for a test: it calls Require, boots with t's context,
// closes the guest in t.Cleanup and, if t failed, logs the console there.
func Start(t testing.TB, opts Options) *Guest {
	t.Helper()
	Require(t)
	g, err := Boot(t.Context(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("VM console:\n%s", g.Console())
		}
		if err := g.Close(); err != nil {
			t.Errorf("closing VM: %v", err)
		}
	})
	return g
}

// start builds the initrd in tmp and launches qemu.
func start(k *kernel, base, tmp string, opts Options) (*Guest, error) {
	initrd, err := bootArchive(base, tmp, opts)
	if err != nil {
		return nil, err
	}
	ports, err := freePorts(opts.GuestPorts)
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, 4)
	_, _ = rand.Read(nonce)
	g := &Guest{
		con:    newConsole(opts.Log),
		exited: make(chan struct{}),
		kernel: k,
		ports:  ports,
		tmp:    tmp,
		nonce:  hex.EncodeToString(nonce),
	}
	g.cmd = exec.Command("qemu-system-x86_64", qemuArgs(k.vmlinuz(), initrd, opts.Memory, ports)...)
	g.cmd.Stdout, g.cmd.Stderr = g.con, g.con
	// qemu must not outlive a test binary that dies without Close (e.g. a
	// test timeout panic).
	g.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if g.stdin, err = g.cmd.StdinPipe(); err != nil {
		return nil, fmt.Errorf("vm: %w", err)
	}
	if err := g.cmd.Start(); err != nil {
		return nil, fmt.Errorf("vm: starting qemu: %w", err)
	}
	go func() {
		g.con.end(g.cmd.Wait())
		close(g.exited)
	}()
	return g, nil
}

// qemuArgs is the guest's qemu command line: a direct kernel boot with user
// networking and forwarded ports. TCG, because this machine's KVM hangs
// booting a stock Debian kernel.
func qemuArgs(vmlinuz, initrd string, memory int, ports map[int]int) []string {
	netdev := "user,id=n0"
	for guest, host := range ports {
		netdev += fmt.Sprintf(",hostfwd=tcp:127.0.0.1:%d-:%d", host, guest)
	}
	return []string{
		"-accel", "tcg", "-m", strconv.Itoa(memory), "-smp", "2",
		"-nographic", "-no-reboot",
		"-kernel", vmlinuz, "-initrd", initrd,
		"-append", "console=ttyS0 quiet loglevel=3 panic=-1",
		"-netdev", netdev, "-device", "e1000,netdev=n0",
	}
}

// freePorts picks a free host port for each guest port by listening on
// 127.0.0.1:0 and closing again before qemu binds it. Another process could
// take the port in that short gap; qemu then fails to start with a hostfwd
// error in the console, and Boot reports it.
func freePorts(guestPorts []int) (map[int]int, error) {
	ports := map[int]int{}
	var listeners []net.Listener
	defer func() {
		for _, l := range listeners {
			l.Close()
		}
	}()
	for _, gp := range guestPorts {
		if gp <= 0 || gp > 65535 {
			return nil, fmt.Errorf("vm: bad guest port %d", gp)
		}
		if _, dup := ports[gp]; dup {
			continue
		}
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("vm: choosing a host port: %w", err)
		}
		listeners = append(listeners, l) // held until all are chosen, so they differ
		ports[gp] = l.Addr().(*net.TCPAddr).Port
	}
	return ports, nil
}

var readyRE = regexp.MustCompile(readyMarker + ` startup=(\d+) failed=([^\r\n]*)\r?\n`)

// waitReady waits for /init's ready marker and checks what it reports.
func (g *Guest) waitReady(ctx context.Context) error {
	began := time.Now()
	m, err := g.con.waitFor(ctx, 0, readyRE)
	if err != nil {
		return fmt.Errorf("vm: guest did not come up: %w; console:\n%s", err, g.con.tail(4000))
	}
	g.boot = time.Since(began)
	if m[2] != "" {
		return fmt.Errorf("vm: guest setup failed for: %s; console:\n%s", m[2], g.con.tail(4000))
	}
	if m[1] != "0" {
		return fmt.Errorf("vm: startup script exited with status %s; console:\n%s", m[1], g.con.tail(4000))
	}
	return nil
}

// HostAddr is the host address ("127.0.0.1:NNNNN") forwarded to guestPort,
// or "" if guestPort was not in Options.GuestPorts.
func (g *Guest) HostAddr(guestPort int) string {
	hp, ok := g.ports[guestPort]
	if !ok {
		return ""
	}
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(hp))
}

// DefaultRunLimit bounds a Run whose context has no deadline: generous for
// anything the tests run under TCG emulation.
const DefaultRunLimit = 4 * time.Minute

// Run runs a shell script in the guest and returns its output (stdout and
// stderr). A non-zero exit status is an error that quotes the output. If
// ctx ends first the command keeps running in the guest and later Runs wait
// behind it. A ctx without a deadline gets DefaultRunLimit, so a command
// that hangs in the guest fails its test with the console's tail instead of
// running into the test binary's timeout.
func (g *Guest) Run(ctx context.Context, cmd string) (string, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, DefaultRunLimit)
		defer cancel()
	}
	g.runMu.Lock()
	defer g.runMu.Unlock()
	g.seq++
	tag := fmt.Sprintf("%s-%d", g.nonce, g.seq)
	from := g.con.size()
	if _, err := io.WriteString(g.stdin, runInput(tag, cmd)); err != nil {
		return "", fmt.Errorf("vm: run %q: writing to the console: %w", cmd, err)
	}
	m, err := g.con.waitFor(ctx, from, runOutput(tag))
	if err != nil {
		return "", fmt.Errorf("vm: run %q: %w; console:\n%s", cmd, err, g.con.tail(2000))
	}
	out, status, err := parseRun(m)
	if err != nil {
		return "", err
	}
	if status != 0 {
		return out, fmt.Errorf("vm: run %q: exit status %d: %s", cmd, status, strings.TrimSpace(out))
	}
	return out, nil
}

// ModulePath is the guest path of the .ko file of a module loaded at boot
// ("vivid", "e1000", "vim2m", or a dependency's chain end), for rmmod and
// insmod in tests; "" when this kernel does not have it.
func (g *Guest) ModulePath(name string) string { return g.kernel.modulePath(name) }

// MissingReason says why the guest kernel lacks an optional module (e.g.
// why vim2m could not be built out of tree), or "" when it has it.
func (g *Guest) MissingReason(name string) string {
	if g.kernel.modulePath(name) != "" {
		return ""
	}
	if why := g.kernel.Why[name]; why != "" {
		return why
	}
	return "kernel " + g.kernel.Version + " has no " + name
}

// KernelVersion is the guest kernel's version, e.g. "6.1.0-56-amd64".
func (g *Guest) KernelVersion() string { return g.kernel.Version }

// Console is everything the console printed so far, qemu's own messages
// included.
func (g *Guest) Console() string { return g.con.String() }

// BootTime is the time from starting qemu to the console shell being ready.
func (g *Guest) BootTime() time.Duration { return g.boot }

// Close powers the guest off (poweroff -f on the console), kills qemu if it
// has not exited 5 s later (e.g. a Run left the shell busy), and removes the
// guest's temporary files. Only a qemu failure other than that kill is
// reported. Calling it again returns the first result.
func (g *Guest) Close() error {
	g.closeOnce.Do(func() { g.closeErr = g.shutdown() })
	return g.closeErr
}

func (g *Guest) shutdown() error {
	// In a goroutine: a write to a qemu that stopped reading must not hang
	// Close; the kill below unblocks it.
	go func() { _, _ = io.WriteString(g.stdin, "poweroff -f\n") }()
	killed := false
	select {
	case <-g.exited:
	case <-time.After(5 * time.Second):
		killed = true
		_ = g.cmd.Process.Kill()
		<-g.exited
	}
	_ = g.stdin.Close()
	var errs []error
	// endErr was set before exited closed.
	if err := g.con.endErr; err != nil && !killed {
		errs = append(errs, fmt.Errorf("vm: qemu: %w; console:\n%s", err, g.con.tail(2000)))
	}
	if err := os.RemoveAll(g.tmp); err != nil {
		errs = append(errs, fmt.Errorf("vm: %w", err))
	}
	return errors.Join(errs...)
}
