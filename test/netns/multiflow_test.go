// Package netns_test runs flowcamd and flowcam in two network namespaces
// joined by an "ethernet" and a "wifi" path, impairs the paths the way
// field links are (delay, jitter, loss, outages, shallow and deep router
// queues, other traffic, capacity that changes mid-run), and checks what
// each multi-flow mode, a single plain flow and the static-weights
// baseline deliver (make test-netns).
package netns_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"flowcam/internal/testutil/daemon"
	"flowcam/internal/testutil/eventually"
	"flowcam/internal/testutil/impair"
	"flowcam/internal/testutil/netns"
	"flowcam/stream/client/pull"
)

const fps = 25

// runSeconds is each run's length (FLOWCAM_NETNS_SECONDS shortens it
// while developing; the checks need the default 20).
func runSeconds() int {
	if s, err := strconv.Atoi(os.Getenv("FLOWCAM_NETNS_SECONDS")); err == nil && s > 0 {
		return s
	}
	return 20
}

// lab is the two-namespace setup with the daemon running.
type lab struct {
	t        *testing.T
	topo     *netns.Topology
	bridge   *impair.Bridge
	client   string
	dir      string
	url      string
	bitsPerS float64 // the stream's rate on the wire, measured by the clean run
	daemon   *daemon.Daemon
	// serverSkipped is what the last run's session said, closing, it
	// skipped: the client infers skips from timestamp gaps, which a source
	// that stalls on a loaded machine makes too.
	serverSkipped int
}

func newLab(t *testing.T) *lab {
	return newLabWith(t, "multiflow:\n  interfaces: [eth, wifi]\n")
}

// newLabWith is newLab with the daemon's config body.
func newLabWith(t *testing.T, config string) *lab {
	netns.Require(t)
	dir := t.TempDir()
	server, err := daemon.Binary(dir)
	if err != nil {
		t.Fatal(err)
	}
	client, err := daemon.ClientBinary(dir)
	if err != nil {
		t.Fatal(err)
	}
	topo := netns.NewForTest(t, "fc")
	bridge, err := topo.StartWifiRelay(impair.Profile{}, impair.Profile{})
	if err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "flowcamd.yaml")
	os.WriteFile(cfg, []byte(config), 0o644)
	args := []string{"--config", cfg, "--rtsp-addr", netns.ServerEthIP + ":8554"}
	keep := os.Getenv("FLOWCAM_NETNS_LOG") // a file for the daemon's debug log, while developing
	if keep != "" {
		args = append(args, "--log-level", "debug")
	}
	d, err := daemon.StartWrapped([]string{"ip", "netns", "exec", topo.Server}, server, args...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		d.Stop()
		if keep != "" {
			os.WriteFile(keep, []byte(d.Logs()), 0o644)
		}
		if t.Failed() {
			t.Logf("flowcamd log (last 60 lines):\n%s", daemon.Tail(d.Logs(), 60))
		}
	})
	return &lab{t: t, topo: topo, bridge: bridge, client: client, dir: dir, daemon: d,
		url: "rtsp://" + netns.ServerEthIP + ":8554/cam"}
}

// mode is one way of pulling: a plain single flow on the ethernet path,
// or two flows in a multi-flow mode, adaptive or with static weights.
type mode struct{ name string }

var (
	single    = mode{"single"}
	stripe    = mode{"stripe"}
	static    = mode{"static"}
	duplicate = mode{"duplicate"}
	failover  = mode{"failover"}
)

func (m mode) args() []string {
	via := []string{"--flows", "2", "--via", netns.EthDev + "," + netns.WifiDev}
	switch m {
	case single:
		return nil // plain RTSP/UDP, routed over the ethernet path
	case static:
		return append(via, "--mode", "stripe", "--weights", "1,1")
	}
	return append(via, "--mode", m.name)
}

// pull runs the client in its namespace; during runs alongside it and is
// told to stop when the client exits.
func (l *lab) pull(sc, m string, args []string, during func(start time.Time, stop <-chan struct{})) *pull.Report {
	out := filepath.Join(l.dir, "stats-"+strings.Fields(sc)[0]+"-"+m+".json")
	args = append([]string{"pull", l.url, "--duration", fmt.Sprintf("%ds", runSeconds()), "--stats-json", out}, args...)
	cmd := l.topo.Cmd(l.topo.Client, l.client, args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	closed := strings.Count(l.daemon.Logs(), `"session closed"`)
	if err := cmd.Start(); err != nil {
		l.t.Fatal(err)
	}
	stop, finished := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(finished)
		if during != nil {
			during(time.Now(), stop)
		}
	}()
	err := cmd.Wait()
	close(stop)
	<-finished
	if err != nil {
		l.t.Fatalf("flowcam %s: %v\n%s", m, err, stderr.String())
	}
	l.serverSkipped = l.sessionSkipped(closed)
	b, err := os.ReadFile(out)
	if err != nil {
		l.t.Fatal(err)
	}
	var rep pull.Report
	if err := json.Unmarshal(b, &rep); err != nil {
		l.t.Fatal(err)
	}
	if keep := os.Getenv("FLOWCAM_NETNS_LOG"); keep != "" {
		os.WriteFile(filepath.Join(filepath.Dir(keep), filepath.Base(out)), b, 0o644)
	}
	return &rep
}

// sessionSkipped waits for the session after the first closed ones to
// log its end and returns the frames it skipped (-1 if it never did).
func (l *lab) sessionSkipped(closed int) int {
	var line string
	eventually.Wait(10*time.Second, func() bool {
		logs := l.daemon.Logs()
		lines := strings.Split(logs, "\n")
		n := 0
		for _, s := range lines {
			if strings.Contains(s, `"session closed"`) {
				if n++; n == closed+1 {
					line = s
					return true
				}
			}
		}
		return false
	})
	var entry struct {
		Skipped *int `json:"skipped"`
	}
	if json.Unmarshal([]byte(line), &entry) != nil || entry.Skipped == nil {
		return -1
	}
	return *entry.Skipped
}

// results holds every run, by scenario and mode.
type results map[string]map[string]*pull.Report

func TestMultiflowScenarios(t *testing.T) {
	l := newLab(t)
	res := results{}
	only := os.Getenv("FLOWCAM_NETNS_ONLY") // "g:single,stripe b" runs just those, while developing
	for _, sc := range scenarios {
		res[sc.name] = map[string]*pull.Report{}
		for _, m := range sc.modes {
			if !selected(only, sc.name, m.name) {
				continue
			}
			rep := l.run(sc, m, sc.name)
			res[sc.name][m.name] = rep
			t.Log(line(sc.name, m.name, rep))
			if sc.name == clean && m == single {
				l.bitsPerS = payloadBits(rep) * wireOverhead
				t.Logf("the stream is %.2f Mbit/s on the wire", l.bitsPerS/1e6)
			}
		}
	}
	fmt.Print("\n" + table(res))
	if only != "" {
		t.Skip("FLOWCAM_NETNS_ONLY: a partial run checks no targets")
	}
	checkTargets(t, res)
}

// run pulls in mode m through scenario sc: its setup, its disturbance
// alongside the client, its undo. label names the run's stats file.
func (l *lab) run(sc scenario, m mode, label string) *pull.Report {
	if sc.setup != nil {
		if err := sc.setup(l); err != nil {
			l.t.Fatal(err)
		}
	}
	var during func(time.Time, <-chan struct{})
	if sc.during != nil {
		during = func(start time.Time, stop <-chan struct{}) { sc.during(l, start, stop) }
	}
	rep := l.pull(label, m.name, m.args(), during)
	if sc.undo != nil {
		if err := sc.undo(l); err != nil {
			l.t.Fatal(err)
		}
	}
	return rep
}

// selected reports whether a FLOWCAM_NETNS_ONLY filter ("" for all, else
// scenario letters, each optionally with ":mode,mode") names this run. The
// clean single run always goes: it measures the stream.
func selected(only, sc, m string) bool {
	if only == "" || sc == clean && m == "single" {
		return true
	}
	for _, f := range strings.Fields(only) {
		letter, modes, _ := strings.Cut(f, ":")
		if strings.HasPrefix(sc, letter+" ") && (modes == "" || slices.Contains(strings.Split(modes, ","), m)) {
			return true
		}
	}
	return false
}

func payloadBits(r *pull.Report) float64 {
	var bytes uint64
	for _, p := range r.Paths {
		bytes += p.Bytes
	}
	return float64(bytes) * 8 / r.Duration
}
