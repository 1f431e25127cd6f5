package publish

import (
	"bytes"
	"context"
	"crypto/tls"
	"image"
	"image/jpeg"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v4"
	"github.com/bluenviron/gortsplib/v4/pkg/base"
	"github.com/bluenviron/gortsplib/v4/pkg/format"
	"github.com/pion/rtp"

	"flowcam/capture"
	"flowcam/capture/pattern"
	"flowcam/internal/testutil/eventually"
	"flowcam/internal/testutil/hub"
	"flowcam/stream/format/rtpjpeg"
	"flowcam/stream/server/broadcast"
)

// feed publishes test-pattern JPEGs into a broadcaster at 25 fps until the
// test ends.
func feed(t *testing.T) *broadcast.Broadcaster {
	t.Helper()
	pk, err := rtpjpeg.NewPacketizer(rtpjpeg.DefaultMTU)
	if err != nil {
		t.Fatal(err)
	}
	b := broadcast.New(broadcast.JPEG(pk), nil)
	var buf bytes.Buffer
	img := image.NewYCbCr(image.Rect(0, 0, 320, 240), image.YCbCrSubsampleRatio420)
	pattern.RenderNoSignal(img, 0)
	if err := jpeg.Encode(&buf, img, nil); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(40 * time.Millisecond)
		defer tick.Stop()
		start := time.Now()
		for seq := uint64(0); ; seq++ {
			b.Publish(&capture.Frame{JPEG: buf.Bytes(), Seq: seq, PTS: time.Since(start), Captured: time.Now()})
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	}()
	t.Cleanup(func() { cancel(); <-done })
	return b
}

func waitState(t *testing.T, p *Publisher, s State) {
	t.Helper()
	if !eventually.Wait(30*time.Second, func() bool { return p.Status().State == s }) {
		t.Fatalf("publisher never %s: %+v", s, p.Status())
	}
}

// readBack plays the hub's copy and decodes one whole JPEG from it.
func readBack(t *testing.T, url string, tlsConf *tls.Config) {
	t.Helper()
	tr := gortsplib.TransportTCP
	c := gortsplib.Client{Transport: &tr, TLSConfig: tlsConf}
	u, err := base.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(u.Scheme, u.Host); err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	desc, _, err := c.Describe(u)
	if err != nil {
		t.Fatalf("describe the hub's copy: %v", err)
	}
	var f *format.MJPEG
	medi := desc.FindFormat(&f)
	if medi == nil {
		t.Fatalf("the hub's copy has no MJPEG: %v", desc.Medias)
	}
	if _, err := c.Setup(desc.BaseURL, medi, 0, 0); err != nil {
		t.Fatal(err)
	}
	dec, _ := f.CreateDecoder()
	got := make(chan []byte, 1)
	c.OnPacketRTP(medi, f, func(pkt *rtp.Packet) {
		if img, err := dec.Decode(pkt); err == nil {
			select {
			case got <- img:
			default:
			}
		}
	})
	if _, err := c.Play(nil); err != nil {
		t.Fatal(err)
	}
	select {
	case img := <-got:
		if _, err := jpeg.Decode(bytes.NewReader(img)); err != nil {
			t.Fatalf("the hub's picture does not decode: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("no whole picture from the hub")
	}
}

// TestPublishRefusedRestartedResumed: refusals are counted and say their
// status; the hub's copy decodes; a hub that restarts gets the stream
// again; closing leaves no goroutine behind.
func TestPublishRefusedRestartedResumed(t *testing.T) {
	before := runtime.NumGoroutine()
	b := feed(t)
	addr := hub.FreeAddr(t)
	h := hub.Start(t, addr, hub.Options{Auth: true, Refuse: 2})
	p := Start(b, Target{URL: "rtsp://" + hub.User + ":" + hub.Pass + "@" + addr + "/cam"}, Options{})
	waitState(t, p, Publishing)
	if st := p.Status(); st.Reconnects != 2 || !strings.Contains(st.Error, "403") || strings.Contains(st.Target, hub.Pass) {
		t.Errorf("after two refusals: %+v", st)
	}
	readBack(t, "rtsp://"+addr+"/cam", nil)
	if b.Stats().Viewers != 1 {
		t.Errorf("the publisher is %d viewers, want 1", b.Stats().Viewers)
	}

	h.Close()
	waitState(t, p, Retrying)
	h = hub.Start(t, addr, hub.Options{Auth: true})
	waitState(t, p, Publishing)
	if !eventually.Wait(10*time.Second, func() bool { _, n, _ := h.Counts(); return n > 50 }) {
		t.Fatal("the restarted hub gets no packets")
	}
	if st := p.Status(); st.Bytes == 0 || st.Reconnects != 3 {
		t.Errorf("after a restart: %+v", st)
	}
	p.Close()
	h.Close()
	if b.Stats().Viewers != 0 {
		t.Errorf("a closed publisher is still a viewer")
	}
	if !eventually.Wait(10*time.Second, func() bool { return runtime.NumGoroutine() <= before+1 }) {
		t.Errorf("goroutines: %d before, %d after", before, runtime.NumGoroutine())
	}
}

// TestPublishRTSPS: a self-signed rtsps hub is trusted by its
// fingerprint, and a wrong one is refused.
func TestPublishRTSPS(t *testing.T) {
	tlsConf, fingerprint := hub.SelfSigned(t)
	b := feed(t)
	addr := hub.FreeAddr(t)
	hub.Start(t, addr, hub.Options{TLS: tlsConf})
	bad := Start(b, Target{URL: "rtsps://" + addr + "/cam", Fingerprint: strings.Repeat("ab", 32)}, Options{})
	defer bad.Close()
	waitState(t, bad, Retrying)
	if st := bad.Status(); !strings.Contains(st.Error, "fingerprint") {
		t.Errorf("a wrong fingerprint: %+v", st)
	}
	bad.Close()
	p := Start(b, Target{URL: "rtsps://" + addr + "/cam", Fingerprint: fingerprint}, Options{})
	defer p.Close()
	waitState(t, p, Publishing)
	readBack(t, "rtsps://"+addr+"/cam", &tls.Config{InsecureSkipVerify: true})
}

func TestTargetCheck(t *testing.T) {
	for _, c := range []struct {
		t   Target
		bad string
	}{
		{Target{URL: "rtsp://u:p@hub:8554/cam"}, ""},
		{Target{URL: "rtsp://hub/cam", Transport: UDP}, ""},
		{Target{URL: "rtsps://hub:8322/cam", Fingerprint: strings.Repeat("0A:", 31) + "0A"}, ""},
		{Target{URL: "http://hub/cam"}, "rtsp://"},
		{Target{URL: "rtsp:///cam"}, "no host"},
		{Target{URL: "rtsp://hub/cam", Transport: "sctp"}, "tcp or udp"},
		{Target{URL: "rtsps://hub/cam", Transport: UDP}, "TCP only"},
		{Target{URL: "rtsp://hub/cam", Fingerprint: strings.Repeat("00", 32)}, "rtsps://"},
		{Target{URL: "rtsps://hub/cam", Fingerprint: "abc"}, "64 digits"},
	} {
		err := c.t.Check()
		if (err == nil) != (c.bad == "") || (err != nil && !strings.Contains(err.Error(), c.bad)) {
			t.Errorf("%+v: %v, want %q", c.t, err, c.bad)
		}
	}
	if r := (Target{URL: "rtsp://u:secret@hub/cam"}).Redacted(); strings.Contains(r, "secret") {
		t.Errorf("redacted: %s", r)
	}
}
