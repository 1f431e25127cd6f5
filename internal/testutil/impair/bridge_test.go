package impair_test

import (
	"io"
	"net"
	"strconv"
	"testing"
	"time"

	"flowcam/internal/testutil/impair"
	"flowcam/internal/testutil/netns"
)

// TestBridge runs the relay in R between ws and wc and checks that the wifi
// path needs it, works through it and takes its impairments.
func TestBridge(t *testing.T) {
	topo := netns.NewForTest(t, "fcim")
	echo, err := topo.StartEcho(topo.Server)
	if err != nil {
		t.Fatal(err)
	}
	defer echo.Close()
	wifi := net.JoinHostPort(netns.ServerWifiIP, strconv.Itoa(echo.Port))
	eth := net.JoinHostPort(netns.ServerEthIP, strconv.Itoa(echo.Port))

	if r := probe(t, topo, wifi, 5); r.Received > 0 {
		t.Fatal("wifi path works before the bridge runs")
	}
	br := startBridge(t, topo)
	if err := topo.FlushNeighbors(); err != nil {
		t.Fatal(err)
	}
	if r := probe(t, topo, wifi, 5); r.Received == 0 {
		t.Fatal("no echo over the wifi path through the bridge")
	}
	if r := probe(t, topo, eth, 5); r.Received == 0 {
		t.Fatal("no echo over the eth path")
	}
	base := probe(t, topo, wifi, 20).MedianRTT()
	t.Logf("wifi baseline RTT %v", base)

	t.Run("Delay", func(t *testing.T) { testDelay(t, topo, br, wifi) })
	t.Run("Jitter", func(t *testing.T) { testJitter(t, topo, br, wifi) })
	t.Run("Loss100", func(t *testing.T) { testLoss100(t, topo, br, wifi) })
	t.Run("Loss30", func(t *testing.T) { testLoss30(t, topo, br, wifi) })
	t.Run("RateTCP", func(t *testing.T) { testRateTCP(t, topo, br) })
	s := br.Stats()
	t.Logf("bridge stats: a->b %+v, b->a %+v", s.AToB, s.BToA)
	if s.AToB.Forwarded == 0 || s.BToA.Forwarded == 0 {
		t.Error("a direction forwarded nothing")
	}
}

// startBridge runs the bridge in R through the topology, so AToB is the
// video direction server -> client; the topology's Close stops it.
func startBridge(t *testing.T, topo *netns.Topology) *impair.Bridge {
	t.Helper()
	br, err := topo.StartWifiRelay(impair.Profile{}, impair.Profile{})
	if err != nil {
		t.Fatal(err)
	}
	return br
}

func probe(t *testing.T, topo *netns.Topology, addr string, n int) netns.EchoResult {
	t.Helper()
	r, err := topo.Echo(topo.Client, addr, n, 5*time.Millisecond, 300*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func setProfile(t *testing.T, br *impair.Bridge, p impair.Profile) {
	t.Helper()
	if err := br.SetProfile(impair.AToB, p); err != nil {
		t.Fatal(err)
	}
}

func testDelay(t *testing.T, topo *netns.Topology, br *impair.Bridge, addr string) {
	setProfile(t, br, impair.Profile{Delay: 50 * time.Millisecond})
	defer setProfile(t, br, impair.Profile{})
	r := probe(t, topo, addr, 20)
	rtt := r.MedianRTT()
	t.Logf("50 ms delay server->client: median RTT %v over %d replies", rtt, r.Received)
	// A lower bound only: an overloaded machine adds, never removes, delay.
	if r.Received == 0 || rtt < 40*time.Millisecond {
		t.Errorf("median RTT %v with 50 ms delay, want > 40 ms", rtt)
	}
}

func testJitter(t *testing.T, topo *netns.Topology, br *impair.Bridge, addr string) {
	setProfile(t, br, impair.Profile{Delay: 20 * time.Millisecond, Jitter: 10 * time.Millisecond, Seed: 7})
	defer setProfile(t, br, impair.Profile{})
	r := probe(t, topo, addr, 50)
	lo, hi := r.RTTs[0], r.RTTs[0]
	for _, d := range r.RTTs {
		lo, hi = min(lo, d), max(hi, d)
	}
	t.Logf("20±10 ms: RTT %v..%v over %d replies", lo, hi, r.Received)
	if lo < 9*time.Millisecond {
		t.Errorf("minimum RTT %v below delay-jitter (10 ms)", lo)
	}
	if hi-lo < 5*time.Millisecond {
		t.Errorf("RTT spread %v, jitter of ±10 ms should show", hi-lo)
	}
}

func testLoss100(t *testing.T, topo *netns.Topology, br *impair.Bridge, addr string) {
	setProfile(t, br, impair.Profile{LossPercent: 100})
	defer setProfile(t, br, impair.Profile{})
	if r := probe(t, topo, addr, 20); r.Received != 0 {
		t.Errorf("%d replies through 100%% loss", r.Received)
	}
}

func testLoss30(t *testing.T, topo *netns.Topology, br *impair.Bridge, addr string) {
	setProfile(t, br, impair.Profile{LossPercent: 30, Seed: 42})
	defer setProfile(t, br, impair.Profile{})
	r, err := topo.Echo(topo.Client, addr, 1000, 0, 300*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("30%% loss server->client: %d of %d replies, %.1f%% lost", r.Received, r.Sent, r.LossPercent())
	if l := r.LossPercent(); l < 10 || l > 50 {
		t.Errorf("loss %.1f%%, want 10..50%%", l)
	}
}

// testRateTCP sends 512 KiB over TCP through a 500 kB/s (4 Mbit/s) bridge
// rate limit. It also proves that TCP (checksum offload) crosses the bridge.
func testRateTCP(t *testing.T, topo *netns.Topology, br *impair.Bridge) {
	const size = 512 << 10
	setProfile(t, br, impair.Profile{RateBps: 500_000})
	defer setProfile(t, br, impair.Profile{})
	l, err := topo.Listen(topo.Client, "tcp4", netns.ClientWifiIP+":0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	got := make(chan int64, 1)
	start := time.Now()
	go func() { got <- drain(l) }()
	c, err := topo.Dial(topo.Server, "tcp4", l.Addr().String(), 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write(make([]byte, size)); err != nil {
		t.Fatal(err)
	}
	c.Close()
	n := <-got
	bps := float64(n) * 8 / time.Since(start).Seconds()
	t.Logf("4 Mbit/s bridge limit: %d bytes over TCP at %.2f Mbit/s", n, bps/1e6)
	if n != size {
		t.Fatalf("received %d of %d bytes", n, size)
	}
	if bps > 5e6 {
		t.Errorf("%.2f Mbit/s through a 4 Mbit/s limit", bps/1e6)
	}
}

func drain(l net.Listener) int64 {
	c, err := l.Accept()
	if err != nil {
		return 0
	}
	defer c.Close()
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	n, _ := io.Copy(io.Discard, c)
	return n
}
