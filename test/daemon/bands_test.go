package daemon_test

import (
	"bytes"
	"context"
	"image/jpeg"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v4"
	"github.com/pion/rtp"

	"flowcam/internal/testutil/daemon"
	"flowcam/internal/testutil/player"
	"flowcam/stream/format/rtpjpeg"
)

// TestBandedJPEGPlays runs the daemon with jpeg.threads 2: every frame is
// encoded in bands joined by restart markers and sent as RTP/JPEG type 65.
// GStreamer plays it over both transports, its depayloaded JPEGs decode
// strictly, the packets follow RFC 2435's restart-interval alignment and
// rebuild into clean frames, and ffmpeg decodes the MJPEG-over-HTTP stream.
// (ffmpeg's and gortsplib's RTP/JPEG depayloaders refuse types 64-127;
// configs/flowcamd.yaml says so.)
func TestBandedJPEGPlays(t *testing.T) {
	d := daemon.StartConfig(t, "jpeg:\n  threads: 2\n", "--source", "pattern")
	t.Run("gstreamer", func(t *testing.T) {
		need(t, "gst-launch-1.0")
		for _, transport := range []string{"udp", "tcp"} {
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			out, err := player.GStreamer(ctx, d.URL("/cam"), 50, "video/x-raw,width=1280,height=720", "protocols="+transport)
			cancel()
			if err != nil {
				t.Fatalf("%s: %v\n%s", transport, err, out)
			}
		}
	})
	t.Run("gstreamer depayloads restart JPEGs", func(t *testing.T) {
		need(t, "gst-launch-1.0")
		dir := t.TempDir()
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		out, err := exec.CommandContext(ctx, "gst-launch-1.0", "-e", "rtspsrc", "location="+d.URL("/cam"), "protocols=tcp", "!",
			"rtpjpegdepay", "!", "identity", "eos-after=11", "!", "multifilesink", "location="+filepath.Join(dir, "%03d.jpg")).CombinedOutput()
		files, _ := filepath.Glob(filepath.Join(dir, "*.jpg"))
		if len(files) < 10 {
			t.Fatalf("gst-launch wrote %d frames (%v)\n%s", len(files), err, out)
		}
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			checkBanded(t, f, b)
		}
	})
	t.Run("packets align to restart intervals", func(t *testing.T) {
		checkBandedPackets(t, d.URL("/cam"))
	})
	t.Run("ffmpeg over RTSP is told why it sees nothing", func(t *testing.T) {
		need(t, "ffmpeg")
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		// ffmpeg's RTP/JPEG depacketizer refuses restart headers ("Unimplemented
		// RTP/JPEG restart marker header"): it decodes nothing, and the daemon
		// logs which setting did that.
		cmd := exec.CommandContext(ctx, "ffmpeg", "-hide_banner", "-nostdin", "-rtsp_transport", "tcp", "-i", d.URL("/cam"),
			"-frames:v", "5", "-f", "null", "-")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		defer func() { cmd.Process.Kill(); cmd.Wait() }()
		// Only that warning names a user_agent.
		if err := d.WaitLog(`"user_agent":"Lavf`, 20*time.Second); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("ffmpeg decodes the MJPEG over HTTP", func(t *testing.T) {
		need(t, "ffmpeg")
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		out, err := exec.CommandContext(ctx, "ffmpeg", "-hide_banner", "-nostdin", "-xerror", "-i", d.HTTPURL("/stream.mjpg"),
			"-frames:v", "25", "-f", "null", "-").CombinedOutput()
		if err != nil || !regexp.MustCompile(`frame=\s*25`).Match(out) {
			t.Fatalf("ffmpeg: %v\n%s", err, out)
		}
	})
}

// checkBanded decodes a JPEG strictly (Go's decoder refuses a restart
// marker out of sequence) and checks that it has restart intervals.
func checkBanded(t *testing.T, name string, b []byte) {
	t.Helper()
	if !bytes.Contains(b, []byte{0xFF, 0xDD, 0, 4}) {
		t.Fatalf("%s has no DRI segment", name)
	}
	img, err := jpeg.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("%s does not decode: %v", name, err)
	}
	if s := img.Bounds().Size(); s.X != 1280 || s.Y != 720 {
		t.Fatalf("%s is %v", name, s)
	}
}

// checkBandedPackets reads RTP over TCP with gortsplib and checks every
// packet's restart header, then rebuilds frames with flowcam's own
// depacketizer (the flowcam client's) and decodes them.
func checkBandedPackets(t *testing.T, url string) {
	var mu sync.Mutex
	var pkts []*rtp.Packet
	done := make(chan struct{})
	c, err := player.Play(url, gortsplib.TransportTCP, func(p *rtp.Packet) {
		mu.Lock()
		defer mu.Unlock()
		if len(pkts) < 400 {
			pkts = append(pkts, p.Clone())
			if len(pkts) == 400 {
				close(done)
			}
		}
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("fewer than 400 packets in 30 s")
	}
	var dep rtpjpeg.Depacketizer
	frames, starts := 0, 0
	for _, p := range pkts {
		pl := p.Payload
		if len(pl) < 12 || pl[4] != 65 {
			t.Fatalf("packet %d: type %d, want 65 (4:2:0 with restart markers)", p.SequenceNumber, pl[4])
		}
		if rh := uint16(pl[10])<<8 | uint16(pl[11]); rh == 0xFFFF {
			t.Fatalf("packet %d: unaligned restart header", p.SequenceNumber)
		} else if rh&0x8000 != 0 {
			starts++
		}
		out, err := dep.PushPacket(p)
		if err != nil {
			t.Fatalf("packet %d: %v", p.SequenceNumber, err)
		}
		if out != nil {
			frames++
			checkBanded(t, "rebuilt frame", out)
		}
	}
	if frames < 3 || starts < 8*frames {
		t.Fatalf("%d frames rebuilt, %d packets starting a restart interval", frames, starts)
	}
	t.Logf("%d packets: %d frames, %d starting a restart interval", len(pkts), frames, starts)
}
