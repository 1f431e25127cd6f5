package bench_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/pion/rtp"

	"flowcam/internal/testutil/daemon"
	"flowcam/stream/format/rtpbuf"
	"flowcam/stream/format/rtph264"
)

// codecReport puts the bit rate of the same picture as MJPEG and as H.264
// side by side, and what our H.264 packetizing costs.
type codecReport struct {
	mjpeg, h264             float64 // RTP payload bits per second
	packNs, depackNs        float64 // per 720p key frame
	packAllocs, depackAlloc float64
}

// testsrc2 is the same moving 720p25 picture for both codecs.
var testsrc2 = fmt.Sprintf("ffmpeg -hide_banner -nostdin -loglevel error -re -f lavfi -i testsrc2=size=%dx%d:rate=%d ", width, height, fps)

// measureCodecs serves testsrc2 twice: as raw I420 our encoder makes JPEG
// of at the report's quality, and as x264 (veryfast, a key frame every two
// seconds) passed through; the daemon's status gives each path's bit rate.
func measureCodecs(t *testing.T, dir string) codecReport {
	t.Helper()
	bin, err := daemon.Binary(dir)
	if err != nil {
		t.Fatal(err)
	}
	var r codecReport
	for _, c := range []struct {
		rate   *float64
		source string
		format string
	}{
		{&r.mjpeg, testsrc2 + "-pix_fmt yuv420p -f rawvideo -", "i420"},
		{&r.h264, testsrc2 + "-c:v libx264 -preset veryfast -tune zerolatency -g 50 -bf 0 -x264-params aud=1 -f h264 -", "h264"},
	} {
		conf := filepath.Join(dir, "codec.yaml")
		body := fmt.Sprintf("source: %q\nsize: %dx%d\nfps: %d\nquality: %d\nexec:\n  format: %s\n", "exec:"+c.source, width, height, fps, quality, c.format)
		if err := os.WriteFile(conf, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		*c.rate = pathBitrate(t, bin, conf)
	}
	r.packNs, r.packAllocs, r.depackNs, r.depackAlloc = packetizeH264()
	return r
}

// pathBitrate reads the path's bit rate from status.json after a warm-up,
// as the median of a few seconds' readings.
func pathBitrate(t *testing.T, bin, conf string) float64 {
	d, err := daemon.Start(bin, "--config", conf, "--http-addr", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer d.Stop()
	time.Sleep(warmUp) // pacing, not synchronisation: the helper's first seconds
	var rates []float64
	for range 5 {
		time.Sleep(time.Second)
		var st struct {
			Paths []struct {
				Bitrate float64 `json:"bitrate_bps"`
			} `json:"paths"`
		}
		res, err := http.Get(d.HTTPURL("/status.json"))
		if err != nil {
			t.Fatal(err)
		}
		err = json.NewDecoder(res.Body).Decode(&st)
		res.Body.Close()
		if err != nil || len(st.Paths) != 1 {
			t.Fatalf("status.json: %v", err)
		}
		rates = append(rates, st.Paths[0].Bitrate)
	}
	return median(rates)
}

// packetizeH264 times our RFC 6184 packetizer and depacketizer on a 60 kB
// access unit (a 720p key frame) at the default MTU.
func packetizeH264() (packNs, packAllocs, depackNs, depackAllocs float64) {
	au := [][]byte{{0x67, 0x42, 0xC0, 0x1F}, {0x68, 0xCE, 0x06, 0xE2}, make([]byte, 60000)}
	au[2][0] = 0x65
	pk, _ := rtph264.NewPacketizer(1400)
	var p rtpbuf.Payloads
	pack := testing.Benchmark(func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			pk.Packetize(&p, au)
		}
	})
	var d rtph264.Depacketizer
	var seq uint16
	depack := testing.Benchmark(func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			for j := range p.Len() {
				pkt := rtp.Packet{Header: rtp.Header{SequenceNumber: seq, Timestamp: uint32(i), Marker: j == p.Len()-1}, Payload: p.At(j)}
				d.PushPacket(&pkt)
				seq++
			}
		}
	})
	return float64(pack.NsPerOp()), float64(pack.AllocsPerOp()), float64(depack.NsPerOp()), float64(depack.AllocsPerOp())
}

func (r codecReport) table() string {
	tb := newTable(fmt.Sprintf("the same %dx%d %d fps picture (testsrc2) on the wire", width, height, fps), "Mbit/s", "vs MJPEG")
	tb.row(fmt.Sprintf("MJPEG q%d (our libjpeg-turbo encode)", quality), f2(r.mjpeg/1e6), "1.00x")
	tb.row("H.264 (x264 veryfast via exec:, passed through)", f2(r.h264/1e6), fmt.Sprintf("%.2fx", r.h264/r.mjpeg))
	return tb.String() + fmt.Sprintf("H.264 60 kB key frame at MTU 1400: packetize %.0f ns (%.0f allocs), depacketize %.0f ns (%.0f allocs)\n",
		r.packNs, r.packAllocs, r.depackNs, r.depackAlloc)
}

// TestCodecBitrates runs only the codec comparison: make bench prints it
// in the report.
func TestCodecBitrates(t *testing.T) {
	if os.Getenv("FLOWCAM_BENCH") != "1" {
		t.Skip("set FLOWCAM_BENCH=1 to run benchmarks")
	}
	fmt.Print("\n" + measureCodecs(t, t.TempDir()).table())
}
