package netns

import (
	"io"
	"net"
	"os"
	"strconv"
	"testing"
	"time"
)

// echoAddr is the echo server's address on the given server IP.
func echoAddr(e *EchoServer, ip string) string {
	return net.JoinHostPort(ip, strconv.Itoa(e.Port))
}

// pathWorks reports whether a few echo probes come back.
func pathWorks(t *testing.T, topo *Topology, addr string) bool {
	t.Helper()
	r, err := topo.Echo(topo.Client, addr, 5, 10*time.Millisecond, 300*time.Millisecond)
	if err != nil {
		t.Fatalf("echo %s: %v", addr, err)
	}
	return r.Received > 0
}

func TestTopology(t *testing.T) {
	topo := NewForTest(t, "fcnt")
	echo, err := topo.StartEcho(topo.Server)
	if err != nil {
		t.Fatal(err)
	}
	defer echo.Close()
	eth, wifi := echoAddr(echo, ServerEthIP), echoAddr(echo, ServerWifiIP)

	t.Run("RunInRestoresNamespace", func(t *testing.T) { testRunInRestores(t, topo) })
	t.Run("EthPath", func(t *testing.T) {
		if !pathWorks(t, topo, eth) {
			t.Fatal("no echo over the eth path")
		}
	})
	t.Run("WifiNeedsRelay", func(t *testing.T) {
		// Nothing bridges ws and wc here; package impair tests the bridge.
		if pathWorks(t, topo, wifi) {
			t.Fatal("wifi path works without a relay in R")
		}
	})
	t.Run("LinkDownUp", func(t *testing.T) { testLinkDownUp(t, topo, eth) })
	t.Run("RandomLoss", func(t *testing.T) { testRandomLoss(t, topo, eth) })
	t.Run("RateLimit", func(t *testing.T) { testRateLimit(t, topo) })
}

// testRunInRestores checks that RunIn really switches namespace and leaves
// the caller's namespace untouched.
func testRunInRestores(t *testing.T, topo *Topology) {
	before, err := os.Readlink("/proc/thread-self/ns/net")
	if err != nil {
		t.Fatal(err)
	}
	var inside string
	err = topo.RunIn(topo.Relay, func() error {
		inside, err = os.Readlink("/proc/thread-self/ns/net")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if inside == before {
		t.Fatalf("RunIn did not switch namespace (%s)", inside)
	}
	if _, err := net.InterfaceByName(RelayServerSide); err == nil {
		t.Fatal("relay interface visible outside its namespace")
	}
}

func testLinkDownUp(t *testing.T, topo *Topology, addr string) {
	if err := topo.LinkDown(topo.Server, EthDev); err != nil {
		t.Fatal(err)
	}
	if pathWorks(t, topo, addr) {
		t.Error("eth path works with its link down")
	}
	if err := topo.LinkUp(topo.Server, EthDev); err != nil {
		t.Fatal(err)
	}
	// The peer needs a moment to see carrier again.
	deadline := time.Now().Add(3 * time.Second)
	for !pathWorks(t, topo, addr) {
		if time.Now().After(deadline) {
			t.Fatal("eth path did not come back after LinkUp")
		}
	}
}

func testRandomLoss(t *testing.T, topo *Topology, addr string) {
	if err := topo.RandomLoss(topo.Server, EthDev, 30); err != nil {
		t.Fatal(err)
	}
	// Setting it again replaces the rule instead of adding a second one.
	if err := topo.RandomLoss(topo.Server, EthDev, 30); err != nil {
		t.Fatal(err)
	}
	r, err := topo.Echo(topo.Client, addr, 1000, 0, 300*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("nft 30%% loss on S:eth: %d of %d replies, %.1f%% lost", r.Received, r.Sent, r.LossPercent())
	if l := r.LossPercent(); l < 10 || l > 50 {
		t.Errorf("loss %.1f%%, want 10..50%%", l)
	}
	if err := topo.ClearLoss(topo.Server); err != nil {
		t.Fatal(err)
	}
	if err := topo.ClearLoss(topo.Server); err != nil {
		t.Fatalf("second ClearLoss: %v", err)
	}
	r, err = topo.Echo(topo.Client, addr, 200, 0, 300*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if r.LossPercent() > 0 {
		t.Errorf("%.1f%% loss after ClearLoss", r.LossPercent())
	}
}

// testRateLimit pushes 1 MB over TCP through a 4 Mbit/s tbf; TCP adapts to
// the bottleneck, so the goodput measured at the receiver is the limit.
func testRateLimit(t *testing.T, topo *Topology) {
	const rate, size = 4_000_000, 1 << 20
	if err := topo.RateLimit(topo.Server, EthDev, rate); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := topo.ClearQdisc(topo.Server, EthDev); err != nil {
			t.Error(err)
		}
	}()
	l, err := topo.Listen(topo.Client, "tcp4", ClientEthIP+":0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	got := make(chan float64, 1)
	go func() { got <- receiveRate(l) }()
	c, err := topo.Dial(topo.Server, "tcp4", l.Addr().String(), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write(make([]byte, size)); err != nil {
		t.Fatal(err)
	}
	c.Close()
	bps := <-got
	t.Logf("tbf %d bit/s: received %.2f Mbit/s", rate, bps/1e6)
	// An upper bound only: a loaded machine may be slower, never faster.
	if bps > 5e6 || bps == 0 {
		t.Errorf("received %.2f Mbit/s through a 4 Mbit/s limit, want (0, 5]", bps/1e6)
	}
}

// receiveRate reads one connection to EOF and returns its bits per second
// from the first byte to the last.
func receiveRate(l net.Listener) float64 {
	c, err := l.Accept()
	if err != nil {
		return 0
	}
	defer c.Close()
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 64<<10)
	// The clock starts at the first byte, so connection setup and the
	// tbf's initial burst do not count; the first read's bytes do not either.
	if _, err := c.Read(buf); err != nil {
		return 0
	}
	start := time.Now()
	rest, _ := io.CopyBuffer(io.Discard, c, buf)
	return float64(rest) * 8 / time.Since(start).Seconds()
}

// TestCloseAfterPartialBuild checks that Close removes what a NewTopology
// that failed half way would leave (two namespaces and one veth pair) and
// that it can be called again.
func TestCloseAfterPartialBuild(t *testing.T) {
	Require(t)
	suffix, err := randomSuffix()
	if err != nil {
		t.Fatal(err)
	}
	base := "fcpt-" + suffix
	topo := &Topology{Server: base + "-s", Client: base + "-c", Relay: base + "-r"}
	defer topo.Close()
	for _, ns := range []string{topo.Server, topo.Client} {
		if err := run("ip", "netns", "add", ns); err != nil {
			t.Fatal(err)
		}
	}
	if err := topo.vethPair(topo.Server, EthDev, topo.Client, EthDev); err != nil {
		t.Fatal(err)
	}
	if err := topo.RandomLoss(topo.Server, EthDev, 5); err != nil {
		t.Fatal(err)
	}
	if err := topo.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if left := topo.Leftovers(); len(left) > 0 {
		t.Fatalf("left behind: %v", left)
	}
	if err := topo.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}
