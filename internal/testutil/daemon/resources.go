package daemon

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"
)

// Resources is what the daemon holds at one moment, for leak checks.
type Resources struct {
	FDs        int   // open file descriptors (/proc/PID/fd)
	Goroutines int   // go_goroutines from /metrics
	RSS        int64 // resident set size in bytes (/proc/PID/status VmRSS)
}

func (r Resources) String() string {
	return fmt.Sprintf("%d fds, %d goroutines, %.1f MiB RSS", r.FDs, r.Goroutines, float64(r.RSS)/(1<<20))
}

// Resources reads the daemon's open descriptors and RSS from /proc and its
// goroutine count from /metrics (the Prometheus Go collector); it needs
// the HTTP side on.
func (d *Daemon) Resources() (Resources, error) {
	var r Resources
	pid := d.Cmd.Process.Pid
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return r, err
	}
	r.FDs = len(fds)
	if r.RSS, err = rss(pid); err != nil {
		return r, err
	}
	if d.HTTPAddr == "" {
		return r, fmt.Errorf("no HTTP address: goroutines are read from /metrics")
	}
	v, err := d.Metric("go_goroutines")
	if err != nil {
		return r, err
	}
	r.Goroutines = int(v)
	return r, nil
}

// Metric returns the value of an unlabelled metric from /metrics. Each
// scrape uses a fresh connection, closed after, so that no keep-alive
// connection of the test's own stays in the daemon's counts.
func (d *Daemon) Metric(name string) (float64, error) {
	c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	res, err := c.Get(d.HTTPURL("/metrics"))
	if err != nil {
		return 0, err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("/metrics: %s", res.Status)
	}
	sc := bufio.NewScanner(res.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
			io.Copy(io.Discard, res.Body)
			return strconv.ParseFloat(strings.TrimSpace(v), 64)
		}
	}
	return 0, fmt.Errorf("/metrics has no %s", name)
}

func rss(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			f := strings.Fields(v)
			if len(f) > 0 {
				kb, err := strconv.ParseInt(f[0], 10, 64)
				return kb << 10, err
			}
		}
	}
	return 0, fmt.Errorf("no VmRSS in /proc/%d/status", pid)
}

// Alive reports whether the daemon's process still runs (not exited, not
// a zombie).
func (d *Daemon) Alive() bool {
	select {
	case <-d.exited:
		return false
	default:
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", d.Cmd.Process.Pid))
	if err != nil {
		return false
	}
	i := strings.LastIndexByte(string(b), ')')
	return i >= 0 && i+2 < len(b) && b[i+2] != 'Z'
}
