package rtspserver

import (
	"bytes"
	"fmt"
	"image"
	stdjpeg "image/jpeg"
	"net"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"flowcam/capture"
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
	frame := busyJPEG(b, 1280, 720)
	for _, n := range []int{1, 20} {
		b.Run(fmt.Sprintf("viewers=%d", n), func(b *testing.B) {
			sent := make(chan struct{}, 1)
			pk, _ := rtpjpeg.NewPacketizer(rtpjpeg.DefaultMTU)
			bc := broadcast.New(broadcast.JPEG(pk), nil, broadcast.WithLatencyObserver(func(time.Duration) {
				sent <- struct{}{}
			}))
			addr := serveBench(b, bc)
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

func serveBench(b *testing.B, bc *broadcast.Broadcaster) string {
	srv, err := New(Config{Logger: logger(b), Guard: Guard{MaxSessionsPerIP: 64}}, Stream{Path: "/cam", Width: 1280, Height: 720, FPS: 25, Frames: bc})
	if err != nil {
		b.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	go srv.Serve(ln)
	b.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
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

// busyJPEG is a w x h picture with detail everywhere, about a camera
// frame's size.
func busyJPEG(b *testing.B, w, h int) []byte {
	img := image.NewYCbCr(image.Rect(0, 0, w, h), image.YCbCrSubsampleRatio420)
	for i := range img.Y {
		img.Y[i] = uint8(i*7 ^ i>>5)
	}
	for i := range img.Cb {
		img.Cb[i], img.Cr[i] = uint8(i>>3), uint8(i*3)
	}
	var buf bytes.Buffer
	if err := stdjpeg.Encode(&buf, img, &stdjpeg.Options{Quality: 80}); err != nil {
		b.Fatal(err)
	}
	return buf.Bytes()
}

func processCPU(b *testing.B) time.Duration {
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
