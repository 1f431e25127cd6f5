package bench_test

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"flowcam/internal/testutil/daemon"
)

// Serving cost by viewer count, flowcamd beside gst-rtsp-server: the same
// 720p25 q80 stream, 1, 20 and 40 UDP viewers that copy what they get
// (`ffmpeg -c:v copy`, no decoding), the server's CPU over one window
// after a warm-up; and flowcamd's capture-to-wire latency at each count.

var viewerCounts = []int{1, 20, 40}

const viewersWindow = 10 * time.Second

// gstServer is gst-rtsp-server through its GObject bindings, one shared
// media: every viewer gets the one pipeline's packets.
const gstServer = `import sys, gi
gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import Gst, GstRtspServer, GLib
Gst.init(None)
server = GstRtspServer.RTSPServer()
server.set_address("127.0.0.1")
server.set_service(sys.argv[1])
factory = GstRtspServer.RTSPMediaFactory()
factory.set_launch(sys.argv[2])
factory.set_shared(True)
server.get_mount_points().add_factory("/cam", factory)
server.attach(None)
print("ready", flush=True)
GLib.MainLoop().run()
`

// viewerFig is one server at one viewer count.
type viewerFig struct {
	cpuPerMin    float64 // CPU seconds per minute
	p50ms, p99ms float64 // flowcamd's capture-to-wire, median of the window's seconds
}

type viewersReport struct {
	ours, gst map[int]viewerFig
}

func measureViewers(t *testing.T, dir string) viewersReport {
	rep := viewersReport{ours: map[int]viewerFig{}, gst: map[int]viewerFig{}}
	bin, err := daemon.Binary(dir)
	if err != nil {
		t.Fatal(err)
	}
	script := filepath.Join(dir, "gst-server.py")
	os.WriteFile(script, []byte(gstServer), 0o644)
	for _, n := range viewerCounts {
		rep.ours[n] = viewersOurs(t, bin, n)
		rep.gst[n] = viewersGst(t, script, n)
	}
	return rep
}

func viewersOurs(t *testing.T, bin string, n int) viewerFig {
	d, err := daemon.Start(bin, "--source", "pattern", "--size", fmt.Sprintf("%dx%d", width, height),
		"--fps", strconv.Itoa(fps), "--quality", strconv.Itoa(quality), "--mtu", strconv.Itoa(mtu))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Stop()
	stop := startViewers(t, d.URL("/cam"), n)
	defer stop()
	var p50, p99 []float64
	fig := measureServer(t, d.CPUTime, func() {
		var st struct {
			Paths []struct {
				Wire *struct {
					P50 float64 `json:"p50_ms"`
					P99 float64 `json:"p99_ms"`
				} `json:"wire_latency"`
			}
		}
		if res, err := http.Get(d.HTTPURL("/status.json")); err == nil {
			json.NewDecoder(res.Body).Decode(&st)
			res.Body.Close()
		}
		if len(st.Paths) > 0 && st.Paths[0].Wire != nil {
			p50, p99 = append(p50, st.Paths[0].Wire.P50), append(p99, st.Paths[0].Wire.P99)
		}
	})
	fig.p50ms, fig.p99ms = median(p50), median(p99)
	t.Logf("flowcamd, %d viewers: %.2f CPU s/min, capture to wire p50 %.2f ms, p99 %.2f ms", n, fig.cpuPerMin, fig.p50ms, fig.p99ms)
	return fig
}

func viewersGst(t *testing.T, script string, n int) viewerFig {
	port := freePort(t)
	launch := fmt.Sprintf("( videotestsrc is-live=true pattern=smpte ! video/x-raw,format=I420,width=%d,height=%d,framerate=%d/1 ! "+
		"jpegenc quality=%d ! rtpjpegpay name=pay0 pt=26 mtu=%d )", width, height, fps, quality, mtu)
	m := startPeer(t, "gst-rtsp-server", "/usr/bin/python3", script, strconv.Itoa(port), launch)
	defer m.stop()
	url := fmt.Sprintf("rtsp://127.0.0.1:%d/cam", port)
	deadline := time.Now().Add(20 * time.Second)
	for { // ready when it answers
		if c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port)); err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("gst-rtsp-server did not listen")
		}
		time.Sleep(100 * time.Millisecond)
	}
	stop := startViewers(t, url, n)
	defer stop()
	fig := measureServer(t, m.cpu, func() {})
	t.Logf("gst-rtsp-server, %d viewers: %.2f CPU s/min", n, fig.cpuPerMin)
	return fig
}

// measureServer warms up, then reads cpu over one window, calling each
// once a second.
func measureServer(t *testing.T, cpu func() (time.Duration, error), each func()) viewerFig {
	time.Sleep(3 * time.Second)
	c0, err := cpu()
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	for time.Since(start) < viewersWindow {
		time.Sleep(time.Second)
		each()
	}
	c1, err := cpu()
	if err != nil {
		t.Fatal(err)
	}
	return viewerFig{cpuPerMin: (c1 - c0).Seconds() / time.Since(start).Seconds() * 60}
}

// startViewers runs n ffmpeg viewers over UDP that copy the stream and
// throw it away; stop kills them.
func startViewers(t *testing.T, url string, n int) (stop func()) {
	var cmds []*exec.Cmd
	for range n {
		cmd := exec.Command("ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-rtsp_transport", "udp",
			"-i", url, "-c:v", "copy", "-f", "null", "-")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds = append(cmds, cmd)
	}
	return func() {
		for _, c := range cmds {
			c.Process.Kill()
			c.Wait()
		}
	}
}

func freePort(t *testing.T) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// TestViewers runs this section alone (FLOWCAM_BENCH=1).
func TestViewers(t *testing.T) {
	if os.Getenv("FLOWCAM_BENCH") != "1" {
		t.Skip("set FLOWCAM_BENCH=1 to measure serving by viewer count (about 2 minutes)")
	}
	daemon.LoopbackCrowd()
	fmt.Print("\n" + measureViewers(t, t.TempDir()).table())
}

func (r viewersReport) table() string {
	tb := newTable(fmt.Sprintf("serve %dx%d@%d q%d to N UDP viewers (ffmpeg -c:v copy), CPU over %.0f s", width, height, fps, quality, viewersWindow.Seconds()),
		"flowcamd CPU s/min", "gst-rtsp-server CPU s/min", "flowcamd / gst", "flowcamd capture-to-wire p50 / p99 ms")
	for _, n := range viewerCounts {
		o, g := r.ours[n], r.gst[n]
		tb.row(fmt.Sprintf("%d viewers", n), f2(o.cpuPerMin), f2(g.cpuPerMin), ratio(o.cpuPerMin, g.cpuPerMin), f2(o.p50ms)+" / "+f2(o.p99ms))
	}
	last := viewerCounts[len(viewerCounts)-1]
	per := func(m map[int]viewerFig) float64 { return (m[last].cpuPerMin - m[1].cpuPerMin) / float64(last-1) }
	return tb.String() + fmt.Sprintf("Marginal cost per viewer (1 to %d): flowcamd %.3f, gst-rtsp-server %.3f CPU s/min (%s).\n"+
		"Targets: flowcamd at most half the peer's total at every count, at most a third of its marginal cost; p99 under %d ms.\n"+
		"JPEG is encoded on one thread (jpeg.threads does not exist yet).\n",
		last, per(r.ours), per(r.gst), ratio(per(r.ours), per(r.gst)), 1000/fps)
}
