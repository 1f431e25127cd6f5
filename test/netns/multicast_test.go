package netns_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"flowcam/internal/testutil/daemon"
	"flowcam/internal/testutil/need"
	"flowcam/internal/testutil/netns"
)

// serveIn runs flowcamd in the topology's server namespace with config,
// until the test ends; its log is shown when the test fails.
func serveIn(t *testing.T, topo *netns.Topology, config string, args ...string) *daemon.Daemon {
	t.Helper()
	dir := t.TempDir()
	bin, err := daemon.Binary(dir)
	if err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "flowcamd.yaml")
	if err := os.WriteFile(cfg, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	d, err := daemon.StartWrapped([]string{"ip", "netns", "exec", topo.Server}, bin, append([]string{"--config", cfg}, args...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		d.Stop()
		if t.Failed() {
			t.Logf("flowcamd:\n%s", daemon.Tail(d.Logs(), 40))
		}
	})
	return d
}

// txBytes is what left the namespace's interface so far (ip -s link).
func txBytes(t *testing.T, ns, dev string) uint64 {
	t.Helper()
	out, err := exec.Command("ip", "-n", ns, "-s", "-j", "link", "show", "dev", dev).Output()
	if err != nil {
		t.Fatalf("ip -s link: %v", err)
	}
	var links []struct {
		Stats64 struct{ TX struct{ Bytes uint64 } } `json:"stats64"`
	}
	if err := json.Unmarshal(out, &links); err != nil || len(links) != 1 {
		t.Fatalf("ip -s link: %v %s", err, out)
	}
	return links[0].Stats64.TX.Bytes
}

// pathBytes is the path's RTP payload bytes so far, one copy of the
// stream, read from /metrics inside the server's namespace.
func pathBytes(t *testing.T, topo *netns.Topology, d *daemon.Daemon) float64 {
	t.Helper()
	var v float64
	err := topo.RunIn(topo.Server, func() error {
		// Dialled here, on the namespace's thread: http.Client would
		// dial from another goroutine, outside the namespace.
		nc, err := net.DialTimeout("tcp", d.HTTPAddr, 5*time.Second)
		if err != nil {
			return err
		}
		defer nc.Close()
		nc.SetDeadline(time.Now().Add(5 * time.Second))
		fmt.Fprintf(nc, "GET /metrics HTTP/1.0\r\nHost: flowcam\r\n\r\n")
		res, err := http.ReadResponse(bufio.NewReader(nc), nil)
		if err != nil {
			return err
		}
		body, err := io.ReadAll(res.Body)
		if err != nil {
			return err
		}
		for _, l := range strings.Split(string(body), "\n") {
			if rest, ok := strings.CutPrefix(l, `flowcam_path_bytes_total{path="/cam"} `); ok {
				_, err := fmt.Sscan(rest, &v)
				return err
			}
		}
		return fmt.Errorf("no flowcam_path_bytes_total in /metrics")
	})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestMulticastOneCopy: three ffmpeg viewers (-rtsp_transport
// udp_multicast) and one GStreamer viewer (protocols=udp-mcast) play the
// same group, and what leaves the server's interface is one copy of the
// stream, not four. Before the route exists, the log says what to add.
func TestMulticastOneCopy(t *testing.T) {
	need.Tool(t, "ffmpeg")
	need.Tool(t, "gst-launch-1.0")
	topo := netns.NewForTest(t, "fc-mc")
	// A short session timeout: the viewer that failed to join never
	// tears its session down, which holds the group until it times out.
	d := serveIn(t, topo, "size: 640x480\nfps: 25\nrtsp:\n  session_timeout: 5s\n  multicast:\n    enabled: true\n",
		"--rtsp-addr", netns.ServerEthIP+":8554")
	url := "rtsp://" + netns.ServerEthIP + ":8554/cam"
	ffmpeg := func(frames int) *exec.Cmd {
		return exec.Command("ip", "netns", "exec", topo.Client, "ffmpeg", "-hide_banner", "-nostdin", "-rtsp_transport", "udp_multicast",
			"-i", url, "-frames:v", fmt.Sprint(frames), "-f", "framemd5", "-")
	}

	// No multicast route on either side: the viewer cannot join, and the
	// daemon's log says what to add.
	out, err := ffmpeg(1).CombinedOutput()
	if err == nil || !strings.Contains(d.Logs(), "add `ip route add 224.0.0.0/4 dev eth`") {
		t.Fatalf("without a multicast route: ffmpeg %v\n%s", err, out)
	}
	for _, ns := range []string{topo.Server, topo.Client} {
		if out, err := exec.Command("ip", "-n", ns, "route", "add", "224.0.0.0/4", "dev", netns.EthDev).CombinedOutput(); err != nil {
			t.Fatalf("route: %v %s", err, out)
		}
	}

	tx0, copy0 := txBytes(t, topo.Server, netns.EthDev), pathBytes(t, topo, d)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var wg sync.WaitGroup
	results := make([]string, 4)
	for i := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out, err := ffmpeg(250).Output()
			if n := strings.Count(string(out), "\n0,"); err != nil || n < 240 {
				results[i] = fmt.Sprintf("ffmpeg %d: %v, %d frames", i, err, n)
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		out, err := exec.CommandContext(ctx, "ip", "netns", "exec", topo.Client, "gst-launch-1.0", "rtspsrc", "location="+url,
			"protocols=udp-mcast", "!", "rtpjpegdepay", "!", "jpegdec", "!", "identity", "eos-after=250", "!", "fakesink").CombinedOutput()
		if !strings.Contains(string(out), "Got EOS from element") {
			results[3] = fmt.Sprintf("gst-launch: %v\n%s", err, out)
		}
	}()
	wg.Wait()
	for _, r := range results {
		if r != "" {
			t.Error(r)
		}
	}
	tx, one := float64(txBytes(t, topo.Server, netns.EthDev)-tx0), pathBytes(t, topo, d)-copy0
	t.Logf("four multicast viewers: %.0f bytes left the server's interface; one copy of the stream is %.0f payload bytes: %.2f copies",
		tx, one, tx/one)
	if tx > 1.5*one {
		t.Errorf("%.2f copies of the stream left the server for four multicast viewers", tx/one)
	}
	if err := d.WaitLog("last multicast viewer left", 30*time.Second); err != nil {
		t.Errorf("the group was not released after its viewers left: %v", err)
	}
}
