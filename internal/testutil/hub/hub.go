// Package hub starts RTSP servers that take a published stream (ANNOUNCE
// and RECORD), for tests of publishers: gortsplib's server (the library
// mediamtx is built on) in process, with Digest auth, TLS and refusals on
// demand, and gst-rtsp-server through its GObject bindings.
package hub

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	mrand "math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v4"
	"github.com/bluenviron/gortsplib/v4/pkg/auth"
	"github.com/bluenviron/gortsplib/v4/pkg/base"
	"github.com/bluenviron/gortsplib/v4/pkg/description"
	"github.com/bluenviron/gortsplib/v4/pkg/format"
	"github.com/pion/rtp"

	"flowcam/internal/testutil/eventually"
	"flowcam/internal/testutil/output"
	"flowcam/internal/testutil/player"
	"flowcam/platform/selfsigned"
)

// The credentials a hub with Auth wants.
const (
	User = "pub"
	Pass = "s3cret"
)

// Options shape a gortsplib hub.
type Options struct {
	Auth   bool        // Digest (MD5) with User and Pass
	Refuse int         // ANNOUNCEs to refuse with 403 before accepting
	TLS    *tls.Config // serve rtsps
}

// Hub is gortsplib's server taking one published stream at a time and
// serving it to readers.
type Hub struct {
	s     *gortsplib.Server
	o     Options
	nonce string

	mu        sync.Mutex
	stream    *gortsplib.ServerStream
	publisher *gortsplib.ServerSession
	records   int
	packets   int
	bytes     int
}

// Start serves on addr (host:port) until the test ends or Close.
func Start(t testing.TB, addr string, o Options) *Hub {
	t.Helper()
	nonce, _ := auth.GenerateNonce()
	h := &Hub{o: o, nonce: nonce}
	host, _, _ := net.SplitHostPort(addr)
	var err error
	for try := 0; try < 20; try++ {
		h.s = &gortsplib.Server{Handler: h, RTSPAddress: addr, TLSConfig: o.TLS}
		if o.TLS == nil { // RTP over UDP too, on a free even/odd port pair
			rtp := 20000 + 2*mrand.IntN(5000)
			h.s.UDPRTPAddress = net.JoinHostPort(host, strconv.Itoa(rtp))
			h.s.UDPRTCPAddress = net.JoinHostPort(host, strconv.Itoa(rtp+1))
		}
		if err = h.s.Start(); err == nil {
			t.Cleanup(h.Close)
			return h
		}
	}
	t.Fatalf("hub: %v", err)
	return nil
}

// Close stops the hub; a second call does nothing.
func (h *Hub) Close() {
	h.mu.Lock()
	s := h.s
	h.s = nil
	h.mu.Unlock()
	if s != nil {
		s.Close()
	}
}

// Counts are the RECORDs accepted, and the RTP packets and payload bytes
// received, since the hub started.
func (h *Hub) Counts() (records, packets, bytes int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.records, h.packets, h.bytes
}

// OnSessionClose ends the stream its publisher leaves.
func (h *Hub) OnSessionClose(ctx *gortsplib.ServerHandlerOnSessionCloseCtx) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.stream != nil && ctx.Session == h.publisher {
		h.stream.Close()
		h.stream = nil
	}
}

// OnDescribe serves the published stream to readers.
func (h *Hub) OnDescribe(*gortsplib.ServerHandlerOnDescribeCtx) (*base.Response, *gortsplib.ServerStream, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.stream == nil {
		return &base.Response{StatusCode: base.StatusNotFound}, nil, nil
	}
	return &base.Response{StatusCode: base.StatusOK}, h.stream, nil
}

// OnAnnounce checks credentials, refuses as told, and takes the stream.
func (h *Hub) OnAnnounce(ctx *gortsplib.ServerHandlerOnAnnounceCtx) (*base.Response, error) {
	if h.o.Auth {
		methods := []auth.ValidateMethod{auth.ValidateMethodDigestMD5}
		if err := auth.Validate(ctx.Request, User, Pass, methods, "hub", h.nonce); err != nil {
			return &base.Response{StatusCode: base.StatusUnauthorized,
				Header: base.Header{"WWW-Authenticate": auth.GenerateWWWAuthenticate(methods, "hub", h.nonce)}}, nil
		}
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.o.Refuse > 0 {
		h.o.Refuse--
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

// OnSetup sets up readers and the publisher alike.
func (h *Hub) OnSetup(*gortsplib.ServerHandlerOnSetupCtx) (*base.Response, *gortsplib.ServerStream, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.stream == nil {
		return &base.Response{StatusCode: base.StatusNotFound}, nil, nil
	}
	return &base.Response{StatusCode: base.StatusOK}, h.stream, nil
}

// OnPlay lets readers play.
func (h *Hub) OnPlay(*gortsplib.ServerHandlerOnPlayCtx) (*base.Response, error) {
	return &base.Response{StatusCode: base.StatusOK}, nil
}

// OnRecord counts what the publisher sends and passes it on to readers.
func (h *Hub) OnRecord(ctx *gortsplib.ServerHandlerOnRecordCtx) (*base.Response, error) {
	h.mu.Lock()
	h.records++
	stream := h.stream
	h.mu.Unlock()
	ctx.Session.OnPacketRTPAny(func(medi *description.Media, _ format.Format, pkt *rtp.Packet) {
		h.mu.Lock()
		h.packets++
		h.bytes += len(pkt.Payload)
		h.mu.Unlock()
		stream.WritePacketRTP(medi, pkt)
	})
	return &base.Response{StatusCode: base.StatusOK}, nil
}

// FreeAddr is a loopback address with a port nothing listens on.
func FreeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// gstScript is gst-rtsp-server through its GObject bindings with one
// media factory at /cam, run as `python3 script PORT MODE LAUNCH`. MODE
// play serves LAUNCH (ending in a payloader named pay0) to every viewer
// from one shared pipeline; MODE record takes a stream into LAUNCH and
// prints a "picture" line per handoff of its element named sink.
const gstScript = `import sys, gi
gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import Gst, GstRtspServer, GLib
Gst.init(None)
port, mode, launch = sys.argv[1:4]
server = GstRtspServer.RTSPServer()
server.set_address("127.0.0.1")
server.set_service(port)
factory = GstRtspServer.RTSPMediaFactory()
factory.set_launch(launch)
if mode == "record":
    factory.set_transport_mode(GstRtspServer.RTSPTransportMode.RECORD)
    def configure(factory, media):
        def frame(*args):
            print("picture", flush=True)
        media.get_element().get_by_name("sink").connect("handoff", frame)
    factory.connect("media-configure", configure)
else:
    factory.set_shared(True)
server.get_mount_points().add_factory("/cam", factory)
server.attach(None)
print("ready", flush=True)
GLib.MainLoop().run()
`

// python is Debian's, which has the GObject bindings (a pyenv python
// earlier on PATH would not).
const python = "/usr/bin/python3"

// HasGst reports whether gst-rtsp-server's GObject bindings are installed.
func HasGst() bool {
	return exec.Command(python, "-c", `import gi; gi.require_version("GstRtspServer", "1.0")`).Run() == nil
}

// GstCommand writes the gst-rtsp-server script into dir and returns the
// command line that runs it on 127.0.0.1:port in mode "play" or "record"
// (see gstScript); it prints "ready" once it listens.
func GstCommand(dir, port, mode, launch string) (bin string, args []string, err error) {
	script := filepath.Join(dir, "gst-rtsp-server.py")
	if err := os.WriteFile(script, []byte(gstScript), 0o644); err != nil {
		return "", nil, err
	}
	return python, []string{script, port, mode, launch}, nil
}

// StartGst runs gst-rtsp-server on a free loopback port, taking a stream
// at /cam; its output counts a "picture" line per decoded picture.
func StartGst(t testing.TB) (port string, out *output.Buffer) {
	t.Helper()
	_, port, _ = net.SplitHostPort(FreeAddr(t))
	bin, args, err := GstCommand(t.TempDir(), port, "record",
		"( decodebin name=depay0 ! videoconvert ! fakesink name=sink signal-handoffs=true )")
	if err != nil {
		t.Fatal(err)
	}
	out = &output.Buffer{}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	if !eventually.Wait(time.Minute, func() bool { return out.Count("ready") > 0 }) {
		t.Fatalf("gst-rtsp-server did not start:\n%s", out.String())
	}
	return port, out
}

// ReadBack plays a hub's copy of a 320x240 stream with ffmpeg over TCP
// and fails t unless 25 frames decode.
func ReadBack(t testing.TB, url, codec string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dec, err := player.FFmpeg(ctx, url, "tcp", 25, codec, "320x240")
	if err != nil || dec.Frames != 25 {
		t.Fatalf("ffmpeg reading the hub back: %v, %d frames", err, dec.Frames)
	}
}

// SelfSigned is a TLS setup for an rtsps hub on 127.0.0.1 with a fresh
// self-signed certificate, and that certificate's SHA-256 in hex, as a
// publisher pins it.
func SelfSigned(t testing.TB) (*tls.Config, string) {
	t.Helper()
	dir := t.TempDir()
	cert, _, err := selfsigned.Load(filepath.Join(dir, "c.pem"), filepath.Join(dir, "k.pem"), true, []string{"127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(cert.Certificate[0])
	return &tls.Config{Certificates: []tls.Certificate{cert}}, hex.EncodeToString(sum[:])
}
