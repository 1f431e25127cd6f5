// Package netns_test runs flowcamd and flowcam in two network namespaces
// joined by an "ethernet" and a "wifi" path, impairs the paths, and checks
// what each multi-flow mode delivers (make test-netns).
package netns_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"flowcam/internal/testutil/daemon"
	"flowcam/internal/testutil/impair"
	"flowcam/internal/testutil/netns"
	"flowcam/stream/pull"
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
}

func newLab(t *testing.T) *lab {
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
	os.WriteFile(cfg, []byte("multiflow:\n  interfaces: [eth, wifi]\n"), 0o644)
	d, err := daemon.StartWrapped([]string{"ip", "netns", "exec", topo.Server}, server,
		"--config", cfg, "--rtsp-addr", netns.ServerEthIP+":8554")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		d.Stop()
		if t.Failed() {
			t.Logf("flowcamd log (last 60 lines):\n%s", daemon.Tail(d.Logs(), 60))
		}
	})
	return &lab{t: t, topo: topo, bridge: bridge, client: client, dir: dir,
		url: "rtsp://" + netns.ServerEthIP + ":8554/cam"}
}

// mode is one way of pulling: a plain single flow on the ethernet path,
// or two flows in a multi-flow mode.
type mode struct{ name string }

var modes = []mode{{"single"}, {"stripe"}, {"duplicate"}, {"failover"}}

func (m mode) args() []string {
	if m.name == "single" {
		return nil // plain RTSP/UDP, routed over the ethernet path
	}
	return []string{"--flows", "2", "--via", netns.EthDev + "," + netns.WifiDev, "--mode", m.name}
}

// pull runs the client in its namespace; during runs alongside it and is
// told to stop when the client exits.
func (l *lab) pull(m mode, during func(start time.Time, stop <-chan struct{})) *pull.Report {
	out := filepath.Join(l.dir, "stats-"+m.name+".json")
	args := append([]string{"pull", l.url, "--duration", fmt.Sprintf("%ds", runSeconds()), "--stats-json", out}, m.args()...)
	cmd := l.topo.Cmd(l.topo.Client, l.client, args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
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
		l.t.Fatalf("flowcam %s: %v\n%s", m.name, err, stderr.String())
	}
	b, err := os.ReadFile(out)
	if err != nil {
		l.t.Fatal(err)
	}
	var rep pull.Report
	if err := json.Unmarshal(b, &rep); err != nil {
		l.t.Fatal(err)
	}
	return &rep
}

// scenario is one network condition.
type scenario struct {
	name   string
	setup  func(*lab) error
	during func(*lab, time.Time, <-chan struct{})
	undo   func(*lab) error
}

var scenarios = []scenario{
	{name: "a clean"},
	{name: "b wifi 30ms+-10ms 3% loss", setup: wifiImpaired, undo: wifiClean},
	{name: "c each path 60% of the stream", setup: rateLimited, undo: unlimited},
	{name: "d ethernet down 8-14 s", during: ethernetOutage, undo: ethernetUp},
}

func wifiImpaired(l *lab) error {
	p := impair.Profile{Delay: 30 * time.Millisecond, Jitter: 10 * time.Millisecond, LossPercent: 3, Seed: 7}
	if err := l.bridge.SetProfile(impair.AToB, p); err != nil {
		return err
	}
	p.Seed = 8
	return l.bridge.SetProfile(impair.BToA, p)
}

func wifiClean(l *lab) error {
	if err := l.bridge.SetProfile(impair.AToB, impair.Profile{}); err != nil {
		return err
	}
	return l.bridge.SetProfile(impair.BToA, impair.Profile{})
}

func rateLimited(l *lab) error {
	rate := int64(0.6 * l.bitsPerS)
	l.t.Logf("rate limit per path: %.2f Mbit/s (stream %.2f Mbit/s on the wire)", float64(rate)/1e6, l.bitsPerS/1e6)
	for _, dev := range []string{netns.EthDev, netns.WifiDev} {
		if err := l.topo.RateLimit(l.topo.Server, dev, rate); err != nil {
			return err
		}
	}
	return nil
}

func unlimited(l *lab) error {
	for _, dev := range []string{netns.EthDev, netns.WifiDev} {
		if err := l.topo.ClearQdisc(l.topo.Server, dev); err != nil {
			return err
		}
	}
	return nil
}

func ethernetOutage(l *lab, start time.Time, stop <-chan struct{}) {
	if !sleepUntil(start.Add(8*time.Second), stop) {
		return
	}
	l.topo.LinkDown(l.topo.Server, netns.EthDev)
	sleepUntil(start.Add(14*time.Second), stop)
	l.topo.LinkUp(l.topo.Server, netns.EthDev)
}

// sleepUntil waits for t unless stop closes first.
func sleepUntil(t time.Time, stop <-chan struct{}) bool {
	timer := time.NewTimer(time.Until(t))
	defer timer.Stop()
	select {
	case <-timer.C:
		return true
	case <-stop:
		return false
	}
}

func ethernetUp(l *lab) error { return l.topo.LinkUp(l.topo.Server, netns.EthDev) }

// wireOverhead approximates Ethernet+IP+UDP+RTP(+extension) bytes per
// ~1380-byte payload, to turn payload rate into what tbf meters.
const wireOverhead = 1.05

func TestMultiflowScenarios(t *testing.T) {
	l := newLab(t)
	results := map[string]map[string]*pull.Report{}
	for _, sc := range scenarios {
		results[sc.name] = map[string]*pull.Report{}
		for _, m := range modes {
			if sc.setup != nil {
				if err := sc.setup(l); err != nil {
					t.Fatal(err)
				}
			}
			var during func(time.Time, <-chan struct{})
			if sc.during != nil {
				during = func(start time.Time, stop <-chan struct{}) { sc.during(l, start, stop) }
			}
			rep := l.pull(m, during)
			if sc.undo != nil {
				if err := sc.undo(l); err != nil {
					t.Fatal(err)
				}
			}
			results[sc.name][m.name] = rep
			t.Log(line(sc.name, m.name, rep))
			if sc.name == "a clean" && m.name == "single" {
				l.bitsPerS = payloadBits(rep) * wireOverhead
			}
		}
	}
	fmt.Print("\n" + table(results))
	checkTargets(t, results)
}

func payloadBits(r *pull.Report) float64 {
	var bytes uint64
	for _, p := range r.Paths {
		bytes += p.Bytes
	}
	return float64(bytes) * 8 / r.Duration
}
