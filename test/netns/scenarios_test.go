package netns_test

import (
	"time"

	"flowcam/internal/testutil/impair"
	"flowcam/internal/testutil/netns"
)

// scenario is one network condition and the modes run through it.
type scenario struct {
	name   string
	modes  []mode
	setup  func(*lab) error
	during func(*lab, time.Time, <-chan struct{})
	undo   func(*lab) error
}

// Scenario names, as the table and the targets use them.
const (
	clean     = "a clean"
	lossy     = "b wifi 30ms+-10ms 3% loss"
	limited   = "c each path 60% of the stream"
	outage    = "d ethernet down 8-14 s"
	crossing  = "e ethernet cross traffic 0-4 s"
	stepping  = "f wifi 100%-30%-100% at 6/13 s"
	starved   = "g each path 35% of the stream"
	bloated   = "h each 60%, 300 ms queues"
	deepQueue = 300 * time.Millisecond
)

var (
	lab4 = []mode{single, stripe, duplicate, failover}
	lab5 = []mode{single, stripe, static, duplicate, failover}
)

var scenarios = []scenario{
	{name: clean, modes: lab4},
	{name: lossy, modes: lab4, setup: wifiImpaired, undo: wifiClean},
	{name: limited, modes: lab4, setup: shapeBoth(0.6, netns.DefaultQueue), undo: unshaped},
	{name: outage, modes: lab4, during: ethernetOutage, undo: ethernetUp},
	{name: crossing, modes: lab5, setup: shapeEthernet(1.2, deepQueue), during: crossTraffic, undo: unshaped},
	{name: stepping, modes: lab5, setup: shapeBoth(1, netns.DefaultQueue), during: wifiStep, undo: unshaped},
	{name: starved, modes: lab5, setup: shapeBoth(0.35, netns.DefaultQueue), undo: unshaped},
	{name: bloated, modes: lab5, setup: shapeBoth(0.6, deepQueue), undo: unshaped},
}

// wireOverhead approximates Ethernet+IP+UDP+RTP(+extension) bytes per
// ~1380-byte payload, to turn payload rate into what tbf meters.
const wireOverhead = 1.05

// share is a share of the stream's rate on the wire, in bits/s.
func (l *lab) share(f float64) int64 { return int64(f * l.bitsPerS) }

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

// shapeBoth caps each path's server side at f of the stream, with a queue
// of the given depth.
func shapeBoth(f float64, queue time.Duration) func(*lab) error {
	return func(l *lab) error {
		l.t.Logf("each path: %.2f Mbit/s, %v queue (stream %.2f Mbit/s on the wire)",
			float64(l.share(f))/1e6, queue, l.bitsPerS/1e6)
		for _, dev := range []string{netns.EthDev, netns.WifiDev} {
			if err := l.topo.Shape(l.topo.Server, dev, l.share(f), queue); err != nil {
				return err
			}
		}
		return nil
	}
}

func shapeEthernet(f float64, queue time.Duration) func(*lab) error {
	return func(l *lab) error { return l.topo.Shape(l.topo.Server, netns.EthDev, l.share(f), queue) }
}

func unshaped(l *lab) error {
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

func ethernetUp(l *lab) error { return l.topo.LinkUp(l.topo.Server, netns.EthDev) }

// crossTraffic saturates the ethernet path's bottleneck from the server's
// side (another upload through the same router queue) for the first 4 s.
func crossTraffic(l *lab, start time.Time, stop <-chan struct{}) {
	f, err := l.topo.StartFlood(l.topo.Server, netns.ServerEthIP, l.topo.Client, netns.ClientEthIP,
		2*float64(l.share(1.2)))
	if err != nil {
		l.t.Error(err)
		return
	}
	sleepUntil(start.Add(4*time.Second), stop)
	f.Stop()
}

// wifiStep drops the wifi path from the whole stream's rate to 30 % of it
// at 6 s and restores it at 13 s, keeping whatever is queued.
func wifiStep(l *lab, start time.Time, stop <-chan struct{}) {
	if !sleepUntil(start.Add(6*time.Second), stop) {
		return
	}
	if err := l.topo.Reshape(l.topo.Server, netns.WifiDev, l.share(0.3), netns.DefaultQueue); err != nil {
		l.t.Error(err)
	}
	if !sleepUntil(start.Add(13*time.Second), stop) {
		return
	}
	if err := l.topo.Reshape(l.topo.Server, netns.WifiDev, l.share(1), netns.DefaultQueue); err != nil {
		l.t.Error(err)
	}
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
