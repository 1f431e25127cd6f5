package player

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/bluenviron/gortsplib/v4"
	"github.com/bluenviron/gortsplib/v4/pkg/base"
	"github.com/bluenviron/gortsplib/v4/pkg/format"
	"github.com/pion/rtp"
)

// AccessUnits plays an H.264 url over tr with gortsplib until n access
// units have come out of its RFC 6184 decoder, and returns them (each
// NAL unit copied) with the SPS and PPS the description gave; after
// timeout it returns what it has with an error.
func AccessUnits(url string, tr gortsplib.Transport, n int, timeout time.Duration) (aus [][][]byte, sps, pps []byte, err error) {
	c := &gortsplib.Client{Transport: &tr}
	u, err := base.ParseURL(url)
	if err != nil {
		return nil, nil, nil, err
	}
	if err := c.Start(u.Scheme, u.Host); err != nil {
		return nil, nil, nil, err
	}
	defer c.Close()
	desc, _, err := c.Describe(u)
	if err != nil {
		return nil, nil, nil, err
	}
	var forma *format.H264
	medi := desc.FindFormat(&forma)
	if medi == nil {
		return nil, nil, nil, errors.New("no H.264 track in the description")
	}
	if err := c.SetupAll(desc.BaseURL, desc.Medias); err != nil {
		return nil, nil, nil, err
	}
	dec, err := forma.CreateDecoder()
	if err != nil {
		return nil, nil, nil, err
	}
	var mu sync.Mutex
	done := make(chan struct{})
	c.OnPacketRTP(medi, forma, func(p *rtp.Packet) {
		mu.Lock()
		defer mu.Unlock()
		au, err := dec.Decode(p)
		if err != nil || len(aus) >= n {
			return
		}
		cp := make([][]byte, len(au))
		for i, nalu := range au {
			cp[i] = append([]byte(nil), nalu...)
		}
		if aus = append(aus, cp); len(aus) == n {
			close(done)
		}
	})
	if _, err := c.Play(nil); err != nil {
		return nil, nil, nil, fmt.Errorf("PLAY: %w", err)
	}
	select {
	case <-done:
	case <-time.After(timeout):
	}
	mu.Lock()
	defer mu.Unlock()
	if len(aus) < n {
		return aus, forma.SPS, forma.PPS, fmt.Errorf("%d of %d access units in %v", len(aus), n, timeout)
	}
	return aus, forma.SPS, forma.PPS, nil
}
