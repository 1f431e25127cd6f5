// Package player plays an RTSP stream with players independent of ours
// (gortsplib in process; ffmpeg, GStreamer and OpenCV as children), for
// tests and benchmarks.
package player

import (
	"bytes"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/bluenviron/gortsplib/v4"
	"github.com/bluenviron/gortsplib/v4/pkg/base"
	"github.com/bluenviron/gortsplib/v4/pkg/format"
	"github.com/pion/rtp"
)

// Play starts playing url over tr. onPacket (if set) sees every RTP packet;
// onFrame (if set) every complete JPEG, decoded by gortsplib's RFC 2435
// depacketizer. The caller closes the client.
func Play(url string, tr gortsplib.Transport, onPacket func(*rtp.Packet), onFrame func([]byte)) (*gortsplib.Client, error) {
	c := &gortsplib.Client{Transport: &tr}
	if err := PlayWith(c, url, onPacket, onFrame); err != nil {
		return nil, err
	}
	return c, nil
}

// PlayWith is Play with a client the caller configured (TLS, transport).
// On error the client is closed.
func PlayWith(c *gortsplib.Client, url string, onPacket func(*rtp.Packet), onFrame func([]byte)) error {
	u, err := base.ParseURL(url)
	if err != nil {
		return err
	}
	if err := c.Start(u.Scheme, u.Host); err != nil {
		return err
	}
	if err := setup(c, u, onPacket, onFrame); err != nil {
		c.Close()
		return err
	}
	return nil
}

func setup(c *gortsplib.Client, u *base.URL, onPacket func(*rtp.Packet), onFrame func([]byte)) error {
	desc, _, err := c.Describe(u)
	if err != nil {
		return err
	}
	var forma *format.MJPEG
	medi := desc.FindFormat(&forma)
	if medi == nil {
		return errors.New("no MJPEG track in the description")
	}
	if err := c.SetupAll(desc.BaseURL, desc.Medias); err != nil {
		return err
	}
	dec, err := forma.CreateDecoder()
	if err != nil {
		return err
	}
	var mu sync.Mutex // gortsplib may call back from several goroutines
	c.OnPacketRTP(medi, forma, func(p *rtp.Packet) {
		if onPacket != nil {
			onPacket(p)
		}
		if onFrame == nil {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		if f, err := dec.Decode(p); err == nil {
			onFrame(f)
		}
	})
	if _, err := c.Play(nil); err != nil {
		return fmt.Errorf("PLAY: %w", err)
	}
	return nil
}

// FrameCounter counts the complete frames one viewer receives (packets with
// the marker bit) and how many the stream clock says were sent meanwhile,
// from the first and last frame's RTP timestamps on the 90 kHz clock. Its
// Packet method suits Play's onPacket; it is safe for concurrent use.
type FrameCounter struct {
	ticks       uint32 // RTP ticks between frames
	mu          sync.Mutex
	frames      int
	first, last uint32
	started     bool
}

// NewFrameCounter returns a FrameCounter for a stream of fps frames a
// second.
func NewFrameCounter(fps int) *FrameCounter {
	return &FrameCounter{ticks: uint32(90000 / fps)}
}

// Packet counts p if it ends a frame.
func (c *FrameCounter) Packet(p *rtp.Packet) {
	if !p.Marker {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.started {
		c.first, c.started = p.Timestamp, true
	}
	c.last = p.Timestamp
	c.frames++
}

// Result gives the frames received and the frames sent from the first
// received one to the last; both are 0 before any frame.
func (c *FrameCounter) Result() (got, sent int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.started {
		return 0, 0
	}
	return c.frames, int((c.last-c.first)/c.ticks) + 1
}

// Frames plays url over tr until n complete JPEG frames have arrived (each
// copied) and returns them; after timeout it returns the ones it has with
// an error. The timeout only stops a hang.
func Frames(url string, tr gortsplib.Transport, n int, timeout time.Duration) ([][]byte, error) {
	var mu sync.Mutex
	var frames [][]byte
	done := make(chan struct{})
	c, err := Play(url, tr, nil, func(f []byte) {
		mu.Lock()
		defer mu.Unlock()
		if len(frames) < n {
			if frames = append(frames, bytes.Clone(f)); len(frames) == n {
				close(done)
			}
		}
	})
	if err != nil {
		return nil, err
	}
	defer c.Close()
	select {
	case <-done:
	case <-time.After(timeout):
	}
	mu.Lock()
	defer mu.Unlock()
	if len(frames) < n {
		return frames, fmt.Errorf("%d of %d frames in %v", len(frames), n, timeout)
	}
	return frames, nil
}
