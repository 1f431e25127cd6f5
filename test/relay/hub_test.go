package relay_test

import (
	"strings"
	"testing"
	"time"

	"flowcam/internal/testutil/daemon"
	"flowcam/internal/testutil/eventually"
	"flowcam/internal/testutil/hub"
	"flowcam/internal/testutil/need"
)

// TestPublishToGortsplib: the relay publishes into gortsplib's server with
// Digest auth; two 403s are reported with their status line and tried
// again; ffmpeg reads the stream back from the hub; the hub restarts and
// the relay publishes again.
func TestPublishToGortsplib(t *testing.T) {
	need.Tool(t, "ffmpeg")
	for _, c := range []struct{ codec, config string }{
		{"mjpeg", "size: 320x240\nfps: 25\nsource: pattern\n"},
		{"h264", "size: 320x240\nfps: 25\nsource: \"exec:" + x264Helper + "\"\nexec:\n  format: h264\n"},
	} {
		t.Run(c.codec, func(t *testing.T) {
			d := daemon.StartConfig(t, c.config, "--http-addr", "")
			addr := hub.FreeAddr(t)
			h := hub.Start(t, addr, hub.Options{Auth: true, Refuse: 2})
			r := runRelay(t, d.URL("/cam"), "--flows", "2", "--mode", "duplicate",
				"--publish", "rtsp://"+hub.User+":"+hub.Pass+"@"+addr+"/cam")
			r.waitLog(t, `msg=publishing`)
			if !strings.Contains(r.log(), "403") {
				t.Errorf("the refusals are not reported with their status:\n%s", r.log())
			}
			hub.ReadBack(t, "rtsp://"+addr+"/cam", c.codec)

			h.Close()
			r.waitLog(t, `connection lost`)
			restarted := time.Now()
			h = hub.Start(t, addr, hub.Options{Auth: true})
			if !eventually.Wait(time.Minute, func() bool { n, _, _ := h.Counts(); return n > 0 }) {
				t.Fatalf("the relay did not publish to the restarted hub:\n%s", r.log())
			}
			t.Logf("%s: publishing again %v after the hub came back", c.codec, time.Since(restarted).Round(10*time.Millisecond))
			hub.ReadBack(t, "rtsp://"+addr+"/cam", c.codec)
		})
	}
}

// TestPublishToGstRTSPServer: gst-rtsp-server takes the relay's MJPEG
// and H.264 and decodes pictures from it.
func TestPublishToGstRTSPServer(t *testing.T) {
	need.Tool(t, "ffmpeg")
	if !hub.HasGst() {
		t.Skip("gst-rtsp-server's GObject bindings (gir1.2-gst-rtsp-server-1.0, python3-gi) are not installed")
	}
	for _, c := range []struct{ codec, config string }{
		{"mjpeg", "size: 320x240\nfps: 25\nsource: pattern\n"},
		{"h264", "size: 320x240\nfps: 25\nsource: \"exec:" + x264Helper + "\"\nexec:\n  format: h264\n"},
	} {
		t.Run(c.codec, func(t *testing.T) {
			d := daemon.StartConfig(t, c.config, "--http-addr", "")
			port, out := hub.StartGst(t)
			r := runRelay(t, d.URL("/cam"), "--publish", "rtsp://127.0.0.1:"+port+"/cam")
			if !eventually.Wait(time.Minute, func() bool { return out.Count("picture") >= 50 }) {
				t.Fatalf("gst-rtsp-server decoded %d pictures:\n%s\nrelay:\n%s", out.Count("picture"), out.String(), r.log())
			}
		})
	}
}
