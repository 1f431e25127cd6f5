package relay_test

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v4"
	"github.com/bluenviron/gortsplib/v4/pkg/auth"
	"github.com/bluenviron/gortsplib/v4/pkg/base"
	"github.com/bluenviron/gortsplib/v4/pkg/description"
	"github.com/bluenviron/gortsplib/v4/pkg/format"
	"github.com/pion/rtp"

	"flowcam/internal/testutil/daemon"
	"flowcam/internal/testutil/eventually"
	"flowcam/internal/testutil/need"
	"flowcam/internal/testutil/output"
	"flowcam/internal/testutil/player"
)

// hub is gortsplib's server (the library mediamtx is built on) as a hub
// that takes a published stream, with Digest auth, and serves it to
// readers. It refuses the first ANNOUNCEs it is told to.
type hub struct {
	s     *gortsplib.Server
	nonce string

	mu        sync.Mutex
	stream    *gortsplib.ServerStream
	publisher *gortsplib.ServerSession
	refuse    int // ANNOUNCEs still to refuse with 403
	records   int
	packets   int
}

const hubUser, hubPass = "pub", "s3cret"

func startHub(t *testing.T, addr string, refuse int) *hub {
	t.Helper()
	nonce, _ := auth.GenerateNonce()
	h := &hub{nonce: nonce, refuse: refuse}
	h.s = &gortsplib.Server{Handler: h, RTSPAddress: addr}
	if err := h.s.Start(); err != nil {
		t.Fatalf("hub: %v", err)
	}
	return h
}

func (h *hub) close() { h.s.Close() }

func (h *hub) OnSessionClose(ctx *gortsplib.ServerHandlerOnSessionCloseCtx) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.stream != nil && ctx.Session == h.publisher {
		h.stream.Close()
		h.stream = nil
	}
}

func (h *hub) OnDescribe(*gortsplib.ServerHandlerOnDescribeCtx) (*base.Response, *gortsplib.ServerStream, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.stream == nil {
		return &base.Response{StatusCode: base.StatusNotFound}, nil, nil
	}
	return &base.Response{StatusCode: base.StatusOK}, h.stream, nil
}

func (h *hub) OnAnnounce(ctx *gortsplib.ServerHandlerOnAnnounceCtx) (*base.Response, error) {
	if err := auth.Validate(ctx.Request, hubUser, hubPass, []auth.ValidateMethod{auth.ValidateMethodDigestMD5}, "hub", h.nonce); err != nil {
		return &base.Response{StatusCode: base.StatusUnauthorized,
			Header: base.Header{"WWW-Authenticate": auth.GenerateWWWAuthenticate([]auth.ValidateMethod{auth.ValidateMethodDigestMD5}, "hub", h.nonce)}}, nil
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.refuse > 0 {
		h.refuse--
		return &base.Response{StatusCode: base.StatusForbidden}, nil
	}
	if h.stream != nil {
		h.stream.Close()
		h.publisher.Close()
	}
	h.stream = gortsplib.NewServerStream(h.s, ctx.Description)
	h.publisher = ctx.Session
	return &base.Response{StatusCode: base.StatusOK}, nil
}

func (h *hub) OnSetup(*gortsplib.ServerHandlerOnSetupCtx) (*base.Response, *gortsplib.ServerStream, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.stream == nil {
		return &base.Response{StatusCode: base.StatusNotFound}, nil, nil
	}
	return &base.Response{StatusCode: base.StatusOK}, h.stream, nil
}

func (h *hub) OnPlay(*gortsplib.ServerHandlerOnPlayCtx) (*base.Response, error) {
	return &base.Response{StatusCode: base.StatusOK}, nil
}

func (h *hub) OnRecord(ctx *gortsplib.ServerHandlerOnRecordCtx) (*base.Response, error) {
	h.mu.Lock()
	h.records++
	stream := h.stream
	h.mu.Unlock()
	ctx.Session.OnPacketRTPAny(func(medi *description.Media, _ format.Format, pkt *rtp.Packet) {
		h.mu.Lock()
		h.packets++
		h.mu.Unlock()
		stream.WritePacketRTP(medi, pkt)
	})
	return &base.Response{StatusCode: base.StatusOK}, nil
}

func (h *hub) counts() (records, packets int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.records, h.packets
}

func freeAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

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
			addr := freeAddr(t)
			h := startHub(t, addr, 2)
			r := runRelay(t, d.URL("/cam"), "--flows", "2", "--mode", "duplicate",
				"--publish", "rtsp://"+hubUser+":"+hubPass+"@"+addr+"/cam")
			r.waitLog(t, `msg=publishing`)
			if !strings.Contains(r.log(), "403") {
				t.Errorf("the refusals are not reported with their status:\n%s", r.log())
			}
			readBack(t, "rtsp://"+addr+"/cam", c.codec)

			h.close()
			r.waitLog(t, `connection lost`)
			restarted := time.Now()
			h = startHub(t, addr, 0)
			defer h.close()
			if !eventually.Wait(time.Minute, func() bool { n, _ := h.counts(); return n > 0 }) {
				t.Fatalf("the relay did not publish to the restarted hub:\n%s", r.log())
			}
			t.Logf("%s: publishing again %v after the hub came back", c.codec, time.Since(restarted).Round(10*time.Millisecond))
			readBack(t, "rtsp://"+addr+"/cam", c.codec)
		})
	}
}

// readBack plays the hub's copy with ffmpeg.
func readBack(t *testing.T, url, codec string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dec, err := player.FFmpeg(ctx, url, "tcp", 25, codec, "320x240")
	if err != nil || dec.Frames != 25 {
		t.Fatalf("ffmpeg reading the hub back: %v, %d frames", err, dec.Frames)
	}
}

// gstHub is gst-rtsp-server (through its GObject bindings) with a media
// factory in record mode: it decodes what it is sent and prints a line
// per picture.
const gstHub = `import sys, gi
gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import Gst, GstRtspServer, GLib
Gst.init(None)
server = GstRtspServer.RTSPServer()
server.set_address("127.0.0.1")
server.set_service(sys.argv[1])
factory = GstRtspServer.RTSPMediaFactory()
factory.set_transport_mode(GstRtspServer.RTSPTransportMode.RECORD)
factory.set_launch("( decodebin name=depay0 ! videoconvert ! fakesink name=sink signal-handoffs=true )")
def configure(factory, media):
    def frame(*args):
        print("picture", flush=True)
    media.get_element().get_by_name("sink").connect("handoff", frame)
factory.connect("media-configure", configure)
server.get_mount_points().add_factory("/cam", factory)
server.attach(None)
print("ready", flush=True)
GLib.MainLoop().run()
`

// TestPublishToGstRTSPServer: gst-rtsp-server takes the relay's MJPEG
// and H.264 and decodes pictures from it.
func TestPublishToGstRTSPServer(t *testing.T) {
	need.Tool(t, "ffmpeg")
	py := "/usr/bin/python3"
	if exec.Command(py, "-c", `import gi; gi.require_version("GstRtspServer", "1.0")`).Run() != nil {
		t.Skip("gst-rtsp-server's GObject bindings (gir1.2-gst-rtsp-server-1.0, python3-gi) are not installed")
	}
	script := filepath.Join(t.TempDir(), "hub.py")
	if err := os.WriteFile(script, []byte(gstHub), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ codec, config string }{
		{"mjpeg", "size: 320x240\nfps: 25\nsource: pattern\n"},
		{"h264", "size: 320x240\nfps: 25\nsource: \"exec:" + x264Helper + "\"\nexec:\n  format: h264\n"},
	} {
		t.Run(c.codec, func(t *testing.T) {
			d := daemon.StartConfig(t, c.config, "--http-addr", "")
			_, port, _ := net.SplitHostPort(freeAddr(t))
			var out output.Buffer
			hub := exec.Command(py, script, port)
			hub.Stdout, hub.Stderr = &out, &out
			if err := hub.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { hub.Process.Kill(); hub.Wait() })
			if !eventually.Wait(time.Minute, func() bool { return out.Count("ready") > 0 }) {
				t.Fatalf("gst-rtsp-server did not start:\n%s", out.String())
			}
			r := runRelay(t, d.URL("/cam"), "--publish", "rtsp://127.0.0.1:"+port+"/cam")
			if !eventually.Wait(time.Minute, func() bool { return out.Count("picture") >= 50 }) {
				t.Fatalf("gst-rtsp-server decoded %d pictures:\n%s\nrelay:\n%s", out.Count("picture"), out.String(), r.log())
			}
		})
	}
}
