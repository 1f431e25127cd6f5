// Package nvr_test drives flowcamd as NVRs and hubs meet it: publishing
// into hubs, recording on the box.
package nvr_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	"flowcam/internal/testutil/daemon"
	"flowcam/internal/testutil/eventually"
	"flowcam/internal/testutil/hub"
	"flowcam/internal/testutil/need"
)

// x264Helper is a live H.264 source for the daemon's exec: helper.
const x264Helper = "ffmpeg -hide_banner -nostdin -loglevel error -re -f lavfi -i testsrc2=size=320x240:rate=25 " +
	"-c:v libx264 -preset ultrafast -tune zerolatency -g 25 -bf 0 -x264-params aud=1 -f h264 -"

var sources = []struct{ codec, config string }{
	{"mjpeg", "size: 320x240\nfps: 25\nsource: pattern\n"},
	{"h264", "size: 320x240\nfps: 25\nsource: \"exec:" + x264Helper + "\"\nexec:\n  format: h264\n"},
}

// publishStatus is a publish target as /status.json shows it.
type publishStatus struct {
	Target     string
	State      string
	Bytes      uint64
	Reconnects uint64
	Error      string
}

func targets(t *testing.T, d *daemon.Daemon) []publishStatus {
	t.Helper()
	res, err := http.Get(d.HTTPURL("/status.json"))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var st struct {
		Paths []struct {
			RTSPViewers int `json:"rtsp_viewers"`
			Publish     []publishStatus
		}
	}
	if err := json.NewDecoder(res.Body).Decode(&st); err != nil || len(st.Paths) == 0 {
		t.Fatalf("status.json: %v", err)
	}
	if st.Paths[0].RTSPViewers != 0 {
		t.Errorf("a hub counts as %d RTSP viewers", st.Paths[0].RTSPViewers)
	}
	return st.Paths[0].Publish
}

func waitTarget(t *testing.T, d *daemon.Daemon, state string) publishStatus {
	t.Helper()
	var last publishStatus
	if !eventually.Wait(30*time.Second, func() bool { last = targets(t, d)[0]; return last.State == state }) {
		t.Fatalf("the publish target never got %s: %+v\n%s", state, last, daemon.Tail(d.Logs(), 20))
	}
	return last
}

// TestPublishToGortsplibHub: flowcamd publishes into gortsplib's server
// with Digest auth over TCP and over UDP; a refusal is logged with its
// status line; ffmpeg reads the stream back from the hub; the status page
// and /metrics show the target; a restarted hub gets the stream again.
func TestPublishToGortsplibHub(t *testing.T) {
	t.Parallel()
	need.Tool(t, "ffmpeg")
	for _, c := range sources {
		for _, transport := range []string{"tcp", "udp"} {
			t.Run(c.codec+"/"+transport, func(t *testing.T) {
				addr := hub.FreeAddr(t)
				h := hub.Start(t, addr, hub.Options{Auth: true, Refuse: 1})
				url := "rtsp://" + hub.User + ":" + hub.Pass + "@" + addr + "/cam"
				d := daemon.StartConfig(t, c.config+fmt.Sprintf("publish:\n  - url: %s\n    transport: %s\n", url, transport))
				st := waitTarget(t, d, "publishing")
				if st.Reconnects != 1 || !strings.Contains(d.Logs(), "403") || strings.Contains(st.Target, hub.Pass) {
					t.Errorf("after one refusal: %+v", st)
				}
				hub.ReadBack(t, "rtsp://"+addr+"/cam", c.codec)
				if v, err := d.Metric(`flowcam_publish_up{path="/cam",target="rtsp://` + addr + `/cam"}`); err != nil || v != 1 {
					t.Errorf("flowcam_publish_up: %v %v", v, err)
				}

				h.Close()
				waitTarget(t, d, "retrying")
				restarted := time.Now()
				h = hub.Start(t, addr, hub.Options{Auth: true})
				if !eventually.Wait(time.Minute, func() bool { _, n, _ := h.Counts(); return n > 0 }) {
					t.Fatalf("no packets at the restarted hub:\n%s", daemon.Tail(d.Logs(), 20))
				}
				t.Logf("publishing again %v after the hub came back", time.Since(restarted).Round(10*time.Millisecond))
				hub.ReadBack(t, "rtsp://"+addr+"/cam", c.codec)
			})
		}
	}
}

// TestPublishSurvivesHubRestarts: 30 hub restarts, each followed by the
// publish resuming, leave the daemon's descriptors and goroutines where
// they were after the first; the time to resume is printed.
func TestPublishSurvivesHubRestarts(t *testing.T) {
	t.Parallel()
	addr := hub.FreeAddr(t)
	h := hub.Start(t, addr, hub.Options{})
	d := daemon.StartConfig(t, sources[0].config+"publish: [rtsp://"+addr+"/cam]\n")
	waitTarget(t, d, "publishing")
	// The baseline is taken after the first restart, publishing again: what
	// the first reconnection starts for good is not a leak, and growth over
	// the 29 restarts after it is.
	var before daemon.Resources
	var resumed []time.Duration
	for i := 0; i < 30; i++ {
		h.Close()
		waitTarget(t, d, "retrying")
		restarted := time.Now()
		h = hub.Start(t, addr, hub.Options{})
		if !eventually.Wait(time.Minute, func() bool { _, n, _ := h.Counts(); return n > 0 }) {
			t.Fatalf("restart %d: no packets at the hub:\n%s", i, daemon.Tail(d.Logs(), 20))
		}
		resumed = append(resumed, time.Since(restarted))
		if i == 0 {
			waitTarget(t, d, "publishing")
			var err error
			if before, err = d.Resources(); err != nil {
				t.Fatal(err)
			}
		}
	}
	h.Close()
	waitTarget(t, d, "retrying")
	h = hub.Start(t, addr, hub.Options{})
	waitTarget(t, d, "publishing")
	var after daemon.Resources
	settled := eventually.Wait(20*time.Second, func() bool {
		var err error
		after, err = d.Resources()
		return err == nil && after.FDs <= before.FDs && after.Goroutines <= before.Goroutines
	})
	sort.Slice(resumed, func(i, j int) bool { return resumed[i] < resumed[j] })
	t.Logf("30 hub restarts: publishing resumed in median %v, max %v; before %v, after %v",
		resumed[len(resumed)/2].Round(time.Millisecond), resumed[len(resumed)-1].Round(time.Millisecond), before, after)
	if !settled {
		t.Errorf("30 hub restarts leaked: before %v, after %v", before, after)
	}
}

// TestPublishToGstRTSPServer: gst-rtsp-server's record factory decodes
// what flowcamd publishes, MJPEG and H.264.
func TestPublishToGstRTSPServer(t *testing.T) {
	t.Parallel()
	need.Tool(t, "ffmpeg")
	if !hub.HasGst() {
		t.Skip("gst-rtsp-server's GObject bindings (gir1.2-gst-rtsp-server-1.0, python3-gi) are not installed")
	}
	for _, c := range sources {
		t.Run(c.codec, func(t *testing.T) {
			port, out := hub.StartGst(t)
			d := daemon.StartConfig(t, c.config+"publish: [rtsp://127.0.0.1:"+port+"/cam]\n")
			if !eventually.Wait(time.Minute, func() bool { return out.Count("picture") >= 50 }) {
				t.Fatalf("gst-rtsp-server decoded %d pictures:\n%s\nflowcamd:\n%s", out.Count("picture"), out.String(), daemon.Tail(d.Logs(), 20))
			}
		})
	}
}

// TestPublishRTSPS: a hub on rtsps with a self-signed certificate takes
// the stream when its fingerprint is configured, and ffmpeg reads it back
// over TLS.
func TestPublishRTSPS(t *testing.T) {
	need.Tool(t, "ffmpeg")
	t.Parallel()
	tlsConf, fingerprint := hub.SelfSigned(t)
	addr := hub.FreeAddr(t)
	hub.Start(t, addr, hub.Options{TLS: tlsConf})
	d := daemon.StartConfig(t, sources[0].config+fmt.Sprintf("publish:\n  - url: rtsps://%s/cam\n    fingerprint: %s\n", addr, fingerprint))
	waitTarget(t, d, "publishing")
	hub.ReadBack(t, "rtsps://"+addr+"/cam", "mjpeg")
}
