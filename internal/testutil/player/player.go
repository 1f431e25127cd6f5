// Package player plays an RTSP MJPEG stream with gortsplib, an RTSP client
// independent of ours, for tests and benchmarks.
package player

import (
	"errors"
	"fmt"
	"sync"

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
