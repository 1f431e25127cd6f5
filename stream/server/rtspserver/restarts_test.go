package rtspserver

import (
	"image"
	"log/slog"
	"net/netip"
	"strings"
	"testing"
	"time"

	"flowcam/capture"
	"flowcam/capture/jpeg"
	"flowcam/internal/testutil/eventually"
	"flowcam/internal/testutil/feeder"
	"flowcam/internal/testutil/output"
	"flowcam/internal/testutil/rawrtsp"
	"flowcam/stream/format/rtpjpeg"
	"flowcam/stream/format/rtsp"
	"flowcam/stream/server/broadcast"
)

// TestPlayerWithoutRestartsIsWarnedOnce: a stream with restart markers
// (jpeg.threads above 1) played by ffmpeg, whose depacketizer refuses them,
// gets one warning naming the setting; GStreamer gets none.
func TestPlayerWithoutRestartsIsWarnedOnce(t *testing.T) {
	frame := bandedFrame(t)
	var logs output.Buffer
	pk, _ := rtpjpeg.NewPacketizer(rtpjpeg.DefaultMTU)
	b := broadcast.New(broadcast.JPEG(pk), nil)
	_, addr := serve(t, Config{Logger: slog.New(slog.NewTextHandler(&logs, nil))},
		Stream{Path: "/cam", Width: 320, Height: 240, FPS: testFPS, Frames: b})
	t.Cleanup(feeder.Start(b, [][]byte{frame}, testFPS))
	var u *rawrtsp.UDPReceiver
	for _, ua := range []string{"GStreamer/1.22.0", "Lavf59.27.100"} {
		u = newUDPClient(t)
		playAs(t, addr, u.Transport(), ua)
		frames(t, u, 3)
	}
	if !eventually.Wait(5*time.Second, func() bool { return logs.Count("refuses RTP/JPEG with restart markers") > 0 }) {
		t.Fatalf("no warning for ffmpeg:\n%s", logs.String())
	}
	frames(t, u, 5) // more frames to ffmpeg: still one warning
	if n := logs.Count("refuses RTP/JPEG"); n != 1 || !strings.Contains(logs.String(), "Lavf59") || strings.Contains(logs.String(), "GStreamer/1.22") {
		t.Fatalf("%d warnings, want one, for ffmpeg only:\n%s", n, logs.String())
	}
}

// TestMulticastViewerWithoutRestartsIsWarned: a multicast viewer's frames
// leave through its group's sender, which warns for an ffmpeg that joins
// the group, and only for it.
func TestMulticastViewerWithoutRestartsIsWarned(t *testing.T) {
	var logs output.Buffer
	pk, _ := rtpjpeg.NewPacketizer(rtpjpeg.DefaultMTU)
	b := broadcast.New(broadcast.JPEG(pk), nil)
	mc := &MulticastConfig{Groups: netip.MustParsePrefix("239.255.42.0/29"), Ports: [2]int{31000, 31003}, TTL: 0}
	srv, addr := serve(t, Config{Logger: slog.New(slog.NewTextHandler(&logs, nil)), Multicast: mc},
		Stream{Path: "/cam", Width: 320, Height: 240, FPS: testFPS, Frames: b})
	t.Cleanup(feeder.Start(b, [][]byte{bandedFrame(t)}, testFPS))
	for _, ua := range []string{"GStreamer/1.22.0", "Lavf59.27.100"} {
		playAs(t, addr, "RTP/AVP;multicast", ua)
		sent := groupFrames(srv)
		if !eventually.Wait(5*time.Second, func() bool { return groupFrames(srv) >= sent+3 }) {
			t.Fatalf("the group sent no frames after %s joined:\n%s", ua, logs.String())
		}
	}
	if !eventually.Wait(5*time.Second, func() bool { return logs.Count("refuses RTP/JPEG with restart markers") > 0 }) {
		t.Fatalf("no warning for ffmpeg on the group:\n%s", logs.String())
	}
	if n := logs.Count("refuses RTP/JPEG"); n != 1 || !strings.Contains(logs.String(), "Lavf59") || strings.Contains(logs.String(), "GStreamer/1.22") {
		t.Fatalf("%d warnings, want one, for ffmpeg only:\n%s", n, logs.String())
	}
}

// groupFrames counts the frames the server's multicast senders have sent.
func groupFrames(srv *Server) uint64 {
	srv.mc.mu.Lock()
	defer srv.mc.mu.Unlock()
	var n uint64
	for _, g := range srv.mc.groups {
		n += g.sender.frames.Load()
	}
	return n
}

// bandedFrame is a JPEG with restart markers, as jpeg.threads 2 writes it.
func bandedFrame(t *testing.T) []byte {
	t.Helper()
	enc, _ := jpeg.New(80, jpeg.WithThreads(2))
	frame, err := enc.Encode(nil, capture.NewYCbCr(capture.Size{Width: 320, Height: 240}, image.YCbCrSubsampleRatio420))
	if err != nil {
		t.Fatal(err)
	}
	return frame
}

// playAs sets up /cam with transport and plays it, as a player whose
// User-Agent is ua.
func playAs(t *testing.T, addr, transport, ua string) {
	t.Helper()
	url := "rtsp://" + addr + "/cam"
	c := (&fixture{addr: addr}).dial(t)
	res, err := c.Do(rtsp.Setup, url+"/trackID=0", hdr("Transport", transport), hdr("User-Agent", ua))
	if err != nil || res.Status != 200 {
		t.Fatalf("SETUP: %v %v", res, err)
	}
	id, _, _ := strings.Cut(res.Header.Get("Session"), ";")
	if res, err := c.Do(rtsp.Play, url, hdr("Session", id), hdr("User-Agent", ua)); err != nil || res.Status != 200 {
		t.Fatalf("PLAY: %v %v", res, err)
	}
}
