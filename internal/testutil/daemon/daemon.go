// Package daemon runs the real flowcamd binary for integration tests and
// benchmarks: it builds it (or takes $FLOWCAMD), starts it on a free
// loopback port, finds its listen address in its JSON log, measures its CPU
// time and stops it with a signal.
package daemon

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Binary returns the flowcamd to test: $FLOWCAMD when set (make test passes
// the one it just built), else a fresh build into dir.
func Binary(dir string) (string, error) {
	if p := os.Getenv("FLOWCAMD"); p != "" {
		return p, nil
	}
	out := filepath.Join(dir, "flowcamd")
	cmd := exec.Command("go", "build", "-o", out, "flowcam/cmd/flowcamd")
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build flowcamd: %v\n%s", err, b)
	}
	return out, nil
}

// ClientBinary returns the flowcam client to test: $FLOWCAM when set, else
// a fresh build into dir.
func ClientBinary(dir string) (string, error) {
	if p := os.Getenv("FLOWCAM"); p != "" {
		return p, nil
	}
	out := filepath.Join(dir, "flowcam")
	if b, err := exec.Command("go", "build", "-o", out, "flowcam/cmd/flowcam").CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build flowcam: %v\n%s", err, b)
	}
	return out, nil
}

// Daemon is a running flowcamd.
type Daemon struct {
	Cmd      *exec.Cmd
	Addr     string // RTSP listen address, host:port
	HTTPAddr string // HTTP listen address, host:port; "" when HTTP is off

	mu     sync.Mutex
	logs   bytes.Buffer
	exited chan struct{}
	err    error
}

// Start runs bin with args plus JSON logging and, unless args choose them,
// free loopback RTSP and HTTP ports; it returns once the daemon listens.
func Start(bin string, args ...string) (*Daemon, error) {
	return StartWrapped(nil, bin, args...)
}

// StartWrapped is Start with a command prefix, such as
// ["ip", "netns", "exec", NS] to run the daemon in a network namespace.
func StartWrapped(wrap []string, bin string, args ...string) (*Daemon, error) {
	joined := strings.Join(args, " ")
	if !strings.Contains(joined, "--rtsp-addr") {
		args = append(args, "--rtsp-addr", "127.0.0.1:0")
	}
	// Listening on :8080 would collide between daemons run side by side.
	wantHTTP := true
	if !strings.Contains(joined, "--http-addr") {
		args = append(args, "--http-addr", "127.0.0.1:0")
	} else {
		wantHTTP = httpAddrArg(args) != ""
	}
	// Tests stay off the machine's networks: no WS-Discovery Hello on
	// real interfaces unless a test asks for it.
	if !strings.Contains(joined, "--onvif-discovery") {
		args = append(args, "--onvif-discovery=false")
	}
	args = append(args, "--log-format", "json")
	argv := append(append(append([]string(nil), wrap...), bin), args...)
	d := &Daemon{Cmd: exec.Command(argv[0], argv[1:]...), exited: make(chan struct{})}
	stderr, err := d.Cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := d.Cmd.Start(); err != nil {
		return nil, err
	}
	rtsp, http := make(chan string, 1), make(chan string, 1)
	go d.readLogs(stderr, rtsp, http)
	timeout := time.After(15 * time.Second)
	for d.Addr == "" || (wantHTTP && d.HTTPAddr == "") {
		select {
		case d.Addr = <-rtsp:
		case d.HTTPAddr = <-http:
		case <-d.exited:
			return nil, fmt.Errorf("flowcamd exited at start: %v\n%s", d.err, d.Logs())
		case <-timeout:
			d.Cmd.Process.Kill()
			return nil, fmt.Errorf("flowcamd did not start listening:\n%s", d.Logs())
		}
	}
	return d, nil
}

// httpAddrArg is the value given to --http-addr, in either flag form.
func httpAddrArg(args []string) string {
	for i, a := range args {
		if v, ok := strings.CutPrefix(a, "--http-addr="); ok {
			return v
		}
		if a == "--http-addr" && i+1 < len(args) {
			return args[i+1]
		}
	}
	return ""
}

func (d *Daemon) readLogs(r io.Reader, rtsp, http chan<- string) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Bytes()
		d.mu.Lock()
		d.logs.Write(line)
		d.logs.WriteByte('\n')
		d.mu.Unlock()
		var rec struct{ Msg, Addr string }
		if json.Unmarshal(line, &rec) != nil {
			continue
		}
		switch rec.Msg {
		case "rtsp listening":
			offer(rtsp, rec.Addr)
		case "http listening":
			offer(http, rec.Addr)
		}
	}
	d.err = d.Cmd.Wait()
	close(d.exited)
}

// offer hands the first address over and ignores repeats.
func offer(ch chan<- string, addr string) {
	select {
	case ch <- addr:
	default:
	}
}

// URL is the RTSP URL of path on this daemon.
func (d *Daemon) URL(path string) string { return "rtsp://" + d.Addr + path }

// HTTPURL is the URL of an HTTP endpoint, such as "/snapshot.jpg?path=/cam".
func (d *Daemon) HTTPURL(path string) string { return "http://" + d.HTTPAddr + path }

// Logs returns everything the daemon logged so far.
func (d *Daemon) Logs() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.logs.String()
}

// WaitLog waits until the log holds substr. The log reaches us through a
// pipe, so a line the daemon wrote before answering a request may still be
// on its way when the answer arrives.
func (d *Daemon) WaitLog(substr string, within time.Duration) error {
	deadline := time.Now().Add(within)
	for !strings.Contains(d.Logs(), substr) {
		if time.Now().After(deadline) {
			return fmt.Errorf("no %q in the log after %v:\n%s", substr, within, Tail(d.Logs(), 20))
		}
		time.Sleep(20 * time.Millisecond)
	}
	return nil
}

// Tail returns the last lines lines of s (a daemon's log), for failure
// messages.
func Tail(s string, lines int) string {
	n := 0
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] == '\n' {
			if n++; n > lines {
				return s[i+1:]
			}
		}
	}
	return s
}

// Signal sends sig and waits for the exit, returning how long it took.
func (d *Daemon) Signal(sig syscall.Signal, timeout time.Duration) (time.Duration, error) {
	start := time.Now()
	if err := d.Cmd.Process.Signal(sig); err != nil {
		return 0, err
	}
	select {
	case <-d.exited:
		return time.Since(start), d.err
	case <-time.After(timeout):
		d.Cmd.Process.Kill()
		<-d.exited
		return time.Since(start), fmt.Errorf("flowcamd still running %v after %v", timeout, sig)
	}
}

// Stop ends the daemon with SIGTERM.
func (d *Daemon) Stop() error {
	select {
	case <-d.exited:
		return nil
	default:
	}
	_, err := d.Signal(syscall.SIGTERM, 10*time.Second)
	return err
}

// CPUTime is the user plus system CPU the daemon has used, from
// /proc/PID/stat (Linux).
func (d *Daemon) CPUTime() (time.Duration, error) {
	return ProcessCPU(d.Cmd.Process.Pid)
}

// ProcessCPU reads user plus system CPU time of any process.
func ProcessCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// Fields after the parenthesised command name; utime and stime are
	// fields 14 and 15 of the whole line.
	rest := string(b[bytes.LastIndexByte(b, ')')+2:])
	f := strings.Fields(rest)
	if len(f) < 13 {
		return 0, fmt.Errorf("short /proc/%d/stat", pid)
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	const ticks = 100 // USER_HZ on Linux
	return time.Duration(ut+st) * time.Second / ticks, nil
}
