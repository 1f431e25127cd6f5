package bench_test

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v4"

	"flowcam/internal/testutil/daemon"
	"flowcam/internal/testutil/need"
)

// build is one static release build and how this machine runs it.
type build struct {
	name string
	wrap []string // qemu-user emulator; nil when native
	// make bench builds amd64 and arm64 only; armv7 costs another minute
	// of serving, so it is measured when someone built it anyway.
	optional bool
}

var boardBuilds = []build{
	{name: "amd64"},
	{name: "arm64", wrap: []string{"qemu-aarch64-static"}},
	{name: "armv7", wrap: []string{"qemu-arm-static"}, optional: true},
}

const (
	boardClients = 5
	boardServe   = 60 * time.Second // the issue asks for RSS after a minute of serving
	coldRuns     = 5
	readyTimeout = 30 * time.Second // qemu translating the start-up path is slow
	minShare     = 0.95             // of the frames sent, below which the daemon did not keep up
)

// boardArgs is what every board figure serves: the picture of the rest of
// the report on a port of its own.
var boardArgs = []string{"--source", "pattern", "--size", fmt.Sprintf("%dx%d", width, height),
	"--fps", strconv.Itoa(fps), "--rtsp-addr", "127.0.0.1:0"}

// boardFig is one build's figures.
type boardFig struct {
	build
	daemonSize, clientSize int64
	startMs                []float64
	startErr               string // why there is no start figure
	versionHWM             int64  // kB, peak RSS of `flowcamd --version`
	rssKB, hwmKB           int64
	cpuPerMin              float64
	frames                 []uint64
	load                   string // 1-minute load average when the minute ended
}

type boardReport struct {
	figs    []boardFig
	missing []string // optional builds not found
}

// boardSection runs "On the board" as a subtest, so a missing build skips
// this section only and the rest of the report still prints.
func boardSection(t *testing.T) string {
	out := "On the board: skipped, see the test log.\n"
	t.Run("on the board", func(t *testing.T) { out = measureBoard(t).table() })
	return out
}

// TestBoardFigures runs the "On the board" section alone (about 4 minutes).
func TestBoardFigures(t *testing.T) {
	if os.Getenv("FLOWCAM_BENCH") != "1" {
		t.Skip("set FLOWCAM_BENCH=1 to measure the release builds (about 4 minutes)")
	}
	fmt.Print("\n" + measureBoard(t).table())
}

// measureBoard measures each build in turn: the machine has few cores and
// an emulated daemon needs them all. Missing builds skip before any
// measuring, so no minute is spent on figures that would not print.
func measureBoard(t *testing.T) boardReport {
	var r boardReport
	var todo []build
	for _, b := range boardBuilds {
		if _, err := os.Stat(filepath.Join(releaseDir(b.name), "flowcamd")); err != nil {
			if b.optional {
				r.missing = append(r.missing, b.name)
				continue
			}
			need.Skip(t, "no %s build in %s (run make %s)", b.name, releaseDir(b.name), b.name)
		}
		if len(b.wrap) > 0 {
			need.Tool(t, b.wrap[0])
		}
		todo = append(todo, b)
	}
	for _, b := range todo {
		r.figs = append(r.figs, measureBuild(t, b, releaseDir(b.name)))
	}
	return r
}

// releaseDir is where make put a build; FLOWCAM_BIN_ROOT overrides the
// repository's bin folder, as in test/boards.
func releaseDir(name string) string {
	root := os.Getenv("FLOWCAM_BIN_ROOT")
	if root == "" {
		root = filepath.Join("..", "..", "bin")
	}
	return filepath.Join(root, "linux-"+name)
}

func measureBuild(t *testing.T, b build, dir string) boardFig {
	f := boardFig{build: b}
	bin := filepath.Join(dir, "flowcamd")
	f.daemonSize, f.clientSize = fileSize(t, bin), fileSize(t, filepath.Join(dir, "flowcam"))
	f.versionHWM = versionPeak(t, b, bin)
	// The untimed first start puts the binary (and qemu) in the page cache,
	// so every timed start reads the same way; a board booting from flash
	// reads them cold and takes longer.
	for i := range coldRuns + 1 {
		d, err := coldStart(b, bin)
		if err != nil {
			t.Errorf("%s cold start: %v", b.name, err)
			f.startErr, f.startMs = "failed, see the log", nil
			break
		}
		if i > 0 {
			f.startMs = append(f.startMs, ms(d))
		}
	}
	serveMinute(t, b, bin, &f)
	return f
}

func fileSize(t *testing.T, path string) int64 {
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return st.Size()
}

// versionPeak is the peak RSS of a run that only prints the version: the
// floor of the Go runtime and, under qemu-user, of the emulator itself.
func versionPeak(t *testing.T, b build, bin string) int64 {
	argv := append(slices.Clone(b.wrap), bin, "--version")
	cmd := exec.Command(argv[0], argv[1:]...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s --version: %v\n%s", b.name, err, out)
	}
	return cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss // kB on Linux
}

// coldStart times exec to the READY=1 datagram of sd_notify(3): flowcamd
// sends it once its RTSP listener is up and its streams run, which is the
// moment systemd starts what waits for it.
func coldStart(b build, bin string) (time.Duration, error) {
	dir, err := os.MkdirTemp("", "fcready") // short: sun_path holds 108 bytes
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(dir)
	sock := filepath.Join(dir, "notify")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	// HTTP on a free port as daemon.StartWrapped does: the default :8080
	// would collide with other daemons, and it starts the same listeners.
	argv := append(append(slices.Clone(b.wrap), bin), boardArgs...)
	cmd := exec.Command(argv[0], append(argv[1:], "--http-addr", "127.0.0.1:0")...)
	cmd.Env = append(os.Environ(), "NOTIFY_SOCKET="+sock)
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	start := time.Now()
	conn.SetReadDeadline(start.Add(readyTimeout))
	if err := cmd.Start(); err != nil {
		return 0, err
	}
	exited := make(chan error, 1)
	go func() {
		exited <- cmd.Wait()
		conn.SetReadDeadline(time.Now()) // a daemon that died will send nothing
	}()
	ready, err := awaitReady(conn)
	if stopErr := stopProcess(cmd, exited); err == nil && stopErr != nil {
		err = fmt.Errorf("stopping after READY=1: %w", stopErr)
	}
	if err != nil {
		return 0, fmt.Errorf("%w\n%s", err, logs.String()) // safe: the process has exited
	}
	return ready.Sub(start), nil
}

// awaitReady returns when a datagram with the line READY=1 arrives; the
// protocol allows other lines (STATUS=...) in it and other datagrams first.
func awaitReady(conn *net.UnixConn) (time.Time, error) {
	buf := make([]byte, 4096)
	for {
		n, err := conn.Read(buf)
		if err != nil {
			return time.Time{}, fmt.Errorf("no READY=1 datagram: %w", err)
		}
		at := time.Now()
		if slices.Contains(strings.Split(string(buf[:n]), "\n"), "READY=1") {
			return at, nil
		}
	}
}

// stopProcess ends a daemon the way systemd does, with SIGTERM, and kills
// it if it lingers so the next run has the cores to itself.
func stopProcess(cmd *exec.Cmd, exited <-chan error) error {
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-exited:
		var ee *exec.ExitError
		if errors.As(err, &ee) && ee.ProcessState.Sys().(syscall.WaitStatus).Signaled() {
			return nil // the default action of SIGTERM is as good a stop as any
		}
		return err
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		<-exited
		return errors.New("still running 10 s after SIGTERM")
	}
}

// serveMinute serves boardClients UDP clients for boardServe and reads the
// daemon's memory and CPU from /proc at the end. Under qemu-user the
// process is the emulator running the daemon, so its figures include qemu.
func serveMinute(t *testing.T, b build, bin string, f *boardFig) {
	d, err := daemon.StartWrapped(b.wrap, bin, boardArgs...)
	if err != nil {
		t.Fatalf("%s: starting flowcamd: %v", b.name, err)
	}
	defer d.Stop()
	var cs []*counter
	for i := range boardClients {
		c, cnt, err := playCounting(d.URL("/cam"), gortsplib.TransportUDP)
		if err != nil {
			t.Fatalf("%s: client %d: %v\nflowcamd log:\n%s", b.name, i, err, d.Logs())
		}
		defer c.Close()
		cs = append(cs, cnt)
	}
	cpu0, frames0 := mustCPU(t, d), frameCounts(cs)
	start := time.Now()
	time.Sleep(boardServe)
	rss, hwm, err := procMem(d.Cmd.Process.Pid)
	if err != nil {
		t.Fatalf("%s: %v\nflowcamd log:\n%s", b.name, err, d.Logs())
	}
	cpu, elapsed := mustCPU(t, d)-cpu0, time.Since(start)
	f.load = loadAverage()
	f.rssKB, f.hwmKB, f.cpuPerMin = rss, hwm, cpu.Seconds()/elapsed.Minutes()
	f.frames = frameCounts(cs)
	sent := boardServe.Seconds() * fps
	for i := range f.frames {
		f.frames[i] -= frames0[i]
		// A benchmark prints, it does not judge a speed: an emulated ARM
		// build may fall behind on a loaded 2-core machine. Say so, since
		// the memory and CPU figures then describe an overloaded daemon.
		if float64(f.frames[i]) < minShare*sent {
			t.Logf("NOTE %s: client %d got %d of %.0f frames (under %.0f%%): the figures describe a daemon that did not keep up",
				b.name, i, f.frames[i], sent, 100*minShare)
		}
	}
	t.Logf("%s: %d clients over %v: CPU %v, VmRSS %d kB, VmHWM %d kB, frames %v, loss events %d",
		b.name, boardClients, elapsed.Round(time.Millisecond), cpu.Round(time.Millisecond), rss, hwm, f.frames, lostCount(cs))
}

func mustCPU(t *testing.T, d *daemon.Daemon) time.Duration {
	c, err := d.CPUTime()
	if err != nil {
		t.Fatalf("reading flowcamd's CPU time (did it exit?): %v\n%s", err, d.Logs())
	}
	return c
}

// loadAverage tells whether anything else ran during the minute: the
// emulated daemon needs a whole core, and other work shows in its figures.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	return strings.Fields(string(b))[0]
}

// procMem reads VmRSS and VmHWM (kB) from /proc/PID/status.
func procMem(pid int) (rss, hwm int64, err error) {
	fh, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, err
	}
	defer fh.Close()
	sc := bufio.NewScanner(fh)
	for sc.Scan() {
		k, v, _ := strings.Cut(sc.Text(), ":")
		n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		switch k {
		case "VmRSS":
			rss = n
		case "VmHWM":
			hwm = n
		}
	}
	if rss == 0 || hwm == 0 {
		return 0, 0, fmt.Errorf("no VmRSS/VmHWM in /proc/%d/status", pid)
	}
	return rss, hwm, sc.Err()
}

// table has a column per build, so the emulated figures read beside the
// native ones.
func (r boardReport) table() string {
	header := []string{fmt.Sprintf("On the board: static release builds, pattern %dx%d@%d", width, height, fps)}
	for _, f := range r.figs {
		how := "native"
		if len(f.wrap) > 0 {
			how = strings.Join(f.wrap, " ")
		}
		header = append(header, fmt.Sprintf("%s (%s)", f.name, how))
	}
	tb := newTable(header...)
	row := func(name string, cell func(boardFig) string) {
		cells := []string{name}
		for _, f := range r.figs {
			cells = append(cells, cell(f))
		}
		tb.row(cells...)
	}
	row("flowcamd size", func(f boardFig) string { return sizeCell(f.daemonSize) })
	row("flowcam size", func(f boardFig) string { return sizeCell(f.clientSize) })
	row(fmt.Sprintf("cold start to READY=1, ms: median (min..max) of %d", coldRuns), startCell)
	row(fmt.Sprintf("VmRSS after %.0f s serving %d clients, MB", boardServe.Seconds(), boardClients),
		func(f boardFig) string { return kbMB(f.rssKB) })
	row("VmHWM (peak RSS) over that run, MB", func(f boardFig) string { return kbMB(f.hwmKB) })
	row("peak RSS of `flowcamd --version`, MB (floor)", func(f boardFig) string { return kbMB(f.versionHWM) })
	row(fmt.Sprintf("CPU s/min over the %.0f s (%% of one core)", boardServe.Seconds()), func(f boardFig) string {
		return fmt.Sprintf("%.2f (%.0f%%)", f.cpuPerMin, 100*f.cpuPerMin/60)
	})
	row(fmt.Sprintf("frames per client (%.0f sent)", boardServe.Seconds()*fps), func(f boardFig) string {
		return strings.Trim(fmt.Sprint(f.frames), "[]")
	})
	row(fmt.Sprintf("machine load average (1 min) at the end, %d cores", runtime.NumCPU()),
		func(f boardFig) string { return f.load })
	return tb.String() + r.notes()
}

func (r boardReport) notes() string {
	s := fmt.Sprintf("Sizes are of the stripped (-s -w) static binaries; MB = 10^6 bytes.\n"+
		"Cold start: exec to the sd_notify READY=1 datagram (RTSP listening, streams started), page cache\n"+
		"warm (one untimed start first); a board reading the binary from flash starts slower.\n"+
		"Memory and CPU: %d gortsplib clients over UDP in the test process, one build at a time on %d cores.\n"+
		"Under qemu-user the emulator and the daemon are one process: its VmRSS, VmHWM and CPU include\n"+
		"qemu's translator and code cache, so they overstate what the daemon needs on a real board; the\n"+
		"--version row is each build's floor (Go runtime, plus qemu when emulated).\n",
		boardClients, runtime.NumCPU())
	for _, name := range r.missing {
		s += fmt.Sprintf("%s: not built, not measured (make %s adds it).\n", name, name)
	}
	return s
}

func sizeCell(b int64) string { return fmt.Sprintf("%d B = %.2f MB", b, float64(b)/1e6) }
func kbMB(kb int64) string    { return fmt.Sprintf("%.1f", float64(kb)*1024/1e6) }

func startCell(f boardFig) string {
	if f.startErr != "" {
		return f.startErr
	}
	return fmt.Sprintf("%.1f (%.1f..%.1f)", median(f.startMs), slices.Min(f.startMs), slices.Max(f.startMs))
}
