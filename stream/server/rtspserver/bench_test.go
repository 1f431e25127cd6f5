package rtspserver

import (
	"image"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"flowcam/capture"
	"flowcam/capture/jpeg"
	"flowcam/capture/pattern"
	"flowcam/internal/testutil/eventually"
	"flowcam/internal/testutil/rawrtsp"
	"flowcam/stream/format/rtpjpeg"
	"flowcam/stream/format/rtsp"
	"flowcam/stream/server/broadcast"
)

// BenchmarkServeUDP publishes a 720p frame to N viewers playing over UDP
// on loopback and waits until the last viewer's packets went to the
// kernel: one op is one frame's fan-out. Wall time includes waking the
// goroutines; the process's CPU time per op, and per viewer, is the cost. The viewers never read, so the kernel drops what overflows
// their buffers; the server's side of the work is all there. Run it with
// -cpuprofile to see where a viewer's cost goes.
func BenchmarkServeUDP(b *testing.B) {
	plain, banded := busyJPEG(b, 1280, 720, 1), busyJPEG(b, 1280, 720, 2)
	for _, c := range []struct {
		name  string
		frame []byte
		n     int
	}{{"plain/viewers=1", plain, 1}, {"plain/viewers=20", plain, 20}, {"restart-intervals/viewers=20", banded, 20}} {
		frame, n := c.frame, c.n
		b.Run(c.name, func(b *testing.B) {
			sent := make(chan struct{}, 1)
			pk, _ := rtpjpeg.NewPacketizer(rtpjpeg.DefaultMTU)
			bc := broadcast.New(broadcast.JPEG(pk), nil, broadcast.WithLatencyObserver(func(time.Duration) {
				sent <- struct{}{}
			}))
			_, addr := serve(b, Config{Guard: Guard{MaxSessionsPerIP: 64}}, Stream{Path: "/cam", Width: 1280, Height: 720, FPS: 25, Frames: bc})
			got := make([]*rawrtsp.UDPReceiver, n)
			for i := range got {
				got[i] = benchViewer(b, addr)
			}
			seq := uint64(0)
			publish := func() {
				bc.Publish(&capture.Frame{JPEG: frame, Seq: seq, PTS: time.Duration(seq) * 40 * time.Millisecond, Captured: time.Now()})
				seq++
				<-sent
			}
			// Every viewer is playing once each has a packet.
			if !eventually.Wait(10*time.Second, func() bool {
				publish()
				for _, u := range got {
					u.RTP.SetReadDeadline(time.Now().Add(time.Millisecond))
					if _, _, err := u.RTP.ReadFrom(make([]byte, 2048)); err != nil {
						return false
					}
				}
				return true
			}) {
				b.Fatal("not every viewer is playing")
			}
			c0 := processCPU(b)
			for b.Loop() {
				publish()
			}
			cpu := float64(processCPU(b) - c0)
			b.ReportMetric(cpu/float64(b.N), "cpu-ns/op")
			b.ReportMetric(cpu/float64(b.N)/float64(n), "cpu-ns/viewer")
		})
	}
}

// benchViewer sets up and plays one UDP session.
func benchViewer(b *testing.B, addr string) *rawrtsp.UDPReceiver {
	c, err := rawrtsp.Dial(addr)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.Close() })
	u, err := rawrtsp.ListenUDP()
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(u.Close)
	url := "rtsp://" + addr + "/cam"
	id, _, _, err := c.Setup(url+"/trackID=0", u.Transport())
	if err != nil {
		b.Fatal(err)
	}
	if res, err := c.Do(rtsp.Play, url, hdr("Session", id)); err != nil || res.Status != 200 {
		b.Fatalf("PLAY: %v %v", res, err)
	}
	return u
}

// busyJPEG is the test pattern, encoded by libjpeg-turbo on threads
// goroutines (above 1: in bands with restart markers).
func busyJPEG(b *testing.B, w, h, threads int) []byte {
	size := capture.Size{Width: w, Height: h}
	src, err := pattern.New(size, 25)
	if err != nil {
		b.Fatal(err)
	}
	img := capture.NewYCbCr(size, image.YCbCrSubsampleRatio420)
	src.Render(42, img)
	enc, err := jpeg.New(jpeg.DefaultQuality, jpeg.WithThreads(threads))
	if err != nil {
		b.Fatal(err)
	}
	out, err := enc.Encode(nil, img)
	if err != nil {
		b.Fatal(err)
	}
	return out
}

func processCPU(b *testing.B) time.Duration {
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
