package rtspserver

import (
	"image"
	"log/slog"
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
	size := capture.Size{Width: 320, Height: 240}
	enc, _ := jpeg.New(80, jpeg.WithThreads(2))
	img := capture.NewYCbCr(size, image.YCbCrSubsampleRatio420)
	frame, err := enc.Encode(nil, img)
	if err != nil {
		t.Fatal(err)
	}
	var logs output.Buffer
	pk, _ := rtpjpeg.NewPacketizer(rtpjpeg.DefaultMTU)
	b := broadcast.New(broadcast.JPEG(pk), nil)
	_, addr := serve(t, Config{Logger: slog.New(slog.NewTextHandler(&logs, nil))},
		Stream{Path: "/cam", Width: 320, Height: 240, FPS: testFPS, Frames: b})
	t.Cleanup(feeder.Start(b, [][]byte{frame}, testFPS))
	url := "rtsp://" + addr + "/cam"
	var u *rawrtsp.UDPReceiver
	for _, ua := range []string{"GStreamer/1.22.0", "Lavf59.27.100"} {
		c := (&fixture{addr: addr}).dial(t)
		u = newUDPClient(t)
		res, err := c.Do(rtsp.Setup, url+"/trackID=0", hdr("Transport", u.Transport()), hdr("User-Agent", ua))
		if err != nil || res.Status != 200 {
			t.Fatalf("SETUP: %v %v", res, err)
		}
		id, _, _ := strings.Cut(res.Header.Get("Session"), ";")
		if res, err := c.Do(rtsp.Play, url, hdr("Session", id), hdr("User-Agent", ua)); err != nil || res.Status != 200 {
			t.Fatalf("PLAY: %v %v", res, err)
		}
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
