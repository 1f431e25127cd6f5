package netns_test

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"flowcam/internal/testutil/eventually"
	"flowcam/internal/testutil/need"
	"flowcam/internal/testutil/netns"
	"flowcam/stream/auth"
)

// nodeModules is where .ci/deps installs the npm onvif client.
func nodeModules(t *testing.T) string {
	t.Helper()
	dir, _ := filepath.Abs("../../.ci/node/node_modules")
	if _, err := os.Stat(filepath.Join(dir, "onvif", "package.json")); err != nil {
		need.Skip(t, "the npm onvif client is not installed in .ci/node (run .ci/deps test)")
	}
	return dir
}

// TestONVIFFromAnNVR: the npm onvif client (an NVR's side) finds flowcamd
// by WS-Discovery in a network namespace, authenticates, lists a profile
// per path, gets the stream and snapshot URIs, and ffmpeg plays the
// stream URI it got; a wrong password is refused. A flood of probes from
// one host gets a bounded number of answers.
func TestONVIFFromAnNVR(t *testing.T) {
	need.Tool(t, "node")
	need.Tool(t, "ffmpeg")
	modules := nodeModules(t)
	topo := netns.NewForTest(t, "fc-onvif")
	if out, err := exec.Command("ip", "-n", topo.Client, "route", "add", "224.0.0.0/4", "dev", netns.EthDev).CombinedOutput(); err != nil {
		t.Fatalf("route: %v %s", err, out)
	}
	announcements := listenDiscovery(t, topo)
	sha, md5 := auth.HashPassword("nvr", "flowcam", "s3cret")
	d := serveIn(t, topo, "size: 320x240\nfps: 25\nstreams:\n  - path: /cam\n  - path: /yard\n    quality: 60\n"+
		"auth:\n  users:\n    - {name: nvr, password: s3cret, sha256: "+sha+", md5: "+md5+"}\nonvif:\n  name: garden\n",
		"--rtsp-addr", netns.ServerEthIP+":8554", "--http-addr", netns.ServerEthIP+":8080", "--onvif-discovery=true")
	if err := d.WaitLog("ws-discovery: answering probes", 10*time.Second); err != nil {
		t.Fatal(err)
	}

	cmd := exec.Command("ip", "netns", "exec", topo.Client, "node", "testdata/nvr.js", "nvr", "s3cret", "wrong")
	cmd.Env = append(os.Environ(), "NODE_PATH="+modules)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("node: %v\n%s", err, out)
	}
	var nvr struct {
		Discovered              int
		Endpoint, Xaddr, Error  string
		Profiles                []string
		Info                    map[string]any
		Stream, Snapshot, Wrong string
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &nvr); err != nil {
		t.Fatalf("node said: %s", out)
	}
	t.Logf("the NVR saw: %+v", nvr)
	switch {
	case nvr.Error != "":
		t.Fatalf("the NVR failed: %s", nvr.Error)
	case nvr.Discovered != 1 || !strings.HasPrefix(nvr.Endpoint, "urn:uuid:") || nvr.Xaddr != "http://"+netns.ServerEthIP+":8080/onvif/device_service":
		t.Errorf("discovery: %+v", nvr)
	case len(nvr.Profiles) != 2 || nvr.Profiles[0] != "prof_cam" || nvr.Info["manufacturer"] != "flowcam":
		t.Errorf("profiles and device information: %+v", nvr)
	case nvr.Stream != "rtsp://"+netns.ServerEthIP+":8554/cam" || nvr.Snapshot != "http://"+netns.ServerEthIP+":8080/snapshot.jpg?path=%2Fcam":
		t.Errorf("URIs: %+v", nvr)
	case !strings.Contains(nvr.Wrong, "ONVIF SOAP Fault") || !strings.Contains(strings.ToLower(nvr.Wrong), "not authorized"):
		t.Errorf("a wrong password: %q", nvr.Wrong)
	}

	// The stream URI the NVR got, with its credentials, plays.
	play := exec.Command("ip", "netns", "exec", topo.Client, "ffmpeg", "-hide_banner", "-nostdin", "-rtsp_transport", "tcp",
		"-i", strings.Replace(nvr.Stream, "rtsp://", "rtsp://nvr:s3cret@", 1), "-frames:v", "50", "-f", "framemd5", "-")
	if out, err := play.Output(); err != nil || strings.Count(string(out), "\n0,") != 50 {
		t.Errorf("ffmpeg playing %s: %v, %d frames", nvr.Stream, err, strings.Count(string(out), "\n0,"))
	}

	probeFlood(t, topo)

	// Hello came at start; Bye comes at stop.
	d.Stop()
	if got := announcements(); !strings.Contains(got, "/discovery/Hello") || !strings.Contains(got, "/discovery/Bye") {
		t.Errorf("announcements heard on the client's network: %.300q", got)
	}
}

// listenDiscovery joins the WS-Discovery group in the client namespace
// and collects what is multicast to it; the function returns it so far.
func listenDiscovery(t *testing.T, topo *netns.Topology) func() string {
	t.Helper()
	var conn *net.UDPConn
	err := topo.RunIn(topo.Client, func() error {
		ifi, err := net.InterfaceByName(netns.EthDev)
		if err != nil {
			return err
		}
		conn, err = net.ListenMulticastUDP("udp4", ifi, &net.UDPAddr{IP: net.ParseIP("239.255.255.250"), Port: 3702})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var heard strings.Builder
	go func() {
		buf := make([]byte, 8192)
		for {
			n, _, err := conn.ReadFromUDP(buf)
			if err != nil {
				return
			}
			mu.Lock()
			heard.Write(buf[:n])
			mu.Unlock()
		}
	}()
	t.Cleanup(func() { conn.Close() })
	return func() string {
		eventually.Wait(5*time.Second, func() bool {
			mu.Lock()
			defer mu.Unlock()
			return strings.Contains(heard.String(), "/discovery/Bye")
		})
		mu.Lock()
		defer mu.Unlock()
		return heard.String()
	}
}

// probeFlood sends 500 probes from the client at once and counts the
// answers: a bounded few, not 500.
func probeFlood(t *testing.T, topo *netns.Topology) {
	t.Helper()
	probe := `<?xml version="1.0"?><Envelope xmlns="http://www.w3.org/2003/05/soap-envelope"><Header>` +
		`<MessageID xmlns="http://schemas.xmlsoap.org/ws/2004/08/addressing">urn:uuid:%d</MessageID></Header>` +
		`<Body><Probe xmlns="http://schemas.xmlsoap.org/ws/2005/04/discovery"><Types>dn:NetworkVideoTransmitter</Types></Probe></Body></Envelope>`
	var conn *net.UDPConn
	err := topo.RunIn(topo.Client, func() error {
		var err error
		conn, err = net.ListenUDP("udp4", &net.UDPAddr{IP: net.ParseIP(netns.ClientEthIP)})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	group := &net.UDPAddr{IP: net.ParseIP("239.255.255.250"), Port: 3702}
	start := time.Now()
	for i := range 500 {
		conn.WriteToUDP([]byte(fmt.Sprintf(probe, i)), group)
	}
	answers := 0
	buf := make([]byte, 8192)
	for {
		conn.SetReadDeadline(time.Now().Add(2 * time.Second))
		if _, _, err := conn.ReadFromUDP(buf); err != nil {
			break
		}
		answers++
	}
	elapsed := time.Since(start).Seconds()
	t.Logf("500 probes from one host: %d answers in %.1f s", answers, elapsed)
	if limit := 2 + int(2*elapsed) + 1; answers > limit {
		t.Errorf("a probe flood got %d answers; one host gets at most 2 a second (%d here)", answers, limit)
	}
	if answers == 0 {
		t.Error("no probe of the flood was answered")
	}
}
