package rtspserver

import (
	"bytes"
	"image/jpeg"
	"sync"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v4"
	"github.com/bluenviron/gortsplib/v4/pkg/base"
	"github.com/bluenviron/gortsplib/v4/pkg/format"
	"github.com/bluenviron/gortsplib/v4/pkg/format/rtpmjpeg"
	"github.com/pion/rtp"
)

// TestGortsplibPlays plays the server with an independent RTSP client over
// both transports and decodes what it receives.
func TestGortsplibPlays(t *testing.T) {
	f := start(t, Config{})
	for _, tr := range []gortsplib.Transport{gortsplib.TransportUDP, gortsplib.TransportTCP} {
		t.Run(tr.String(), func(t *testing.T) {
			frames := playGortsplib(t, f.url, tr, 20)
			for i, fr := range frames {
				cfg, err := jpeg.DecodeConfig(bytes.NewReader(fr))
				if err != nil || cfg.Width != 320 || cfg.Height != 240 {
					t.Fatalf("frame %d: %+v %v", i, cfg, err)
				}
			}
			if bytes.Equal(frames[0], frames[1]) {
				t.Fatal("consecutive frames are identical")
			}
		})
	}
}

func playGortsplib(t *testing.T, url string, tr gortsplib.Transport, n int) [][]byte {
	t.Helper()
	c := gortsplib.Client{Transport: &tr}
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
		t.Fatal(err)
	}
	var forma *format.MJPEG
	medi := desc.FindFormat(&forma)
	if medi == nil {
		t.Fatal("no MJPEG track in the description")
	}
	dec, err := forma.CreateDecoder()
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var frames [][]byte
	done := make(chan struct{})
	if err := c.SetupAll(desc.BaseURL, desc.Medias); err != nil {
		t.Fatal(err)
	}
	c.OnPacketRTP(medi, forma, func(p *rtp.Packet) {
		out, err := dec.Decode(p)
		if err != nil {
			if err != rtpmjpeg.ErrMorePacketsNeeded && err != rtpmjpeg.ErrNonStartingPacketAndNoPrevious {
				t.Errorf("decode: %v", err)
			}
			return
		}
		mu.Lock()
		defer mu.Unlock()
		if len(frames) < n {
			frames = append(frames, out)
			if len(frames) == n {
				close(done)
			}
		}
	})
	if _, err := c.Play(nil); err != nil {
		t.Fatal(err)
	}
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatalf("received %d of %d frames", len(frames), n)
	}
	mu.Lock()
	defer mu.Unlock()
	return frames
}
