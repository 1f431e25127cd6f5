package relay

import (
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/bluenviron/gortsplib/v4"
	"github.com/bluenviron/gortsplib/v4/pkg/base"
	"github.com/bluenviron/gortsplib/v4/pkg/description"
	"github.com/bluenviron/gortsplib/v4/pkg/format"
	"github.com/bluenviron/gortsplib/v4/pkg/liberrors"
	"github.com/pion/rtp"

	"flowcam/capture/h264"
	"flowcam/stream/client/playout"
	"flowcam/stream/client/rtspclient"
)

// Publisher pushes the played-out stream into an RTSP server that takes
// ANNOUNCE and RECORD (mediamtx, gst-rtsp-server, an NVR's ingest), over
// TCP, with Digest or Basic auth from the URL's user and password. When the
// hub refuses or goes away it says why (the status line) and connects
// again with backoff, starting each time at a key frame.
type Publisher struct {
	url string
	log *slog.Logger

	frames chan *playout.Frame
	done   chan struct{}
	wg     sync.WaitGroup

	mu   sync.Mutex
	desc *rtspclient.Description
}

// publishQueue is how many frames wait for a slow hub before the oldest go.
const publishQueue = 50

// Backoff between attempts: short at first, so a restarted hub has the
// stream back within a few seconds, longer while it stays away.
const (
	backoffMin = 250 * time.Millisecond
	backoffMax = 2 * time.Second
)

// Publish starts publishing to url; frames come through WriteFrame.
func Publish(url string, log *slog.Logger) *Publisher {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	p := &Publisher{url: url, log: log.With("component", "publish", "url", redact(url)),
		frames: make(chan *playout.Frame, publishQueue), done: make(chan struct{})}
	p.wg.Add(1)
	go p.run()
	return p
}

// Describe takes the stream's description, for the hub's.
func (p *Publisher) Describe(d *rtspclient.Description) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.desc = d
}

// WriteFrame queues a frame; it never waits for the hub.
func (p *Publisher) WriteFrame(f *playout.Frame) error {
	c := *f
	c.Data = append([]byte(nil), f.Data...)
	for {
		select {
		case p.frames <- &c:
			return nil
		default:
		}
		select {
		case <-p.frames: // the hub is behind: the oldest goes
		default:
		}
	}
}

// Close stops publishing.
func (p *Publisher) Close() error {
	close(p.done)
	p.wg.Wait()
	return nil
}

func (p *Publisher) run() {
	defer p.wg.Done()
	wait := backoffMin
	for {
		start := time.Now()
		err := p.session()
		if err == nil {
			return // closed
		}
		if time.Since(start) > 10*time.Second {
			wait = backoffMin // it ran a while: this is a new failure
		}
		p.log.Warn("publishing: the hub refused or went away; trying again", "err", err, "in", wait)
		select {
		case <-p.done:
			return
		case <-time.After(wait):
		}
		wait = min(2*wait, backoffMax)
	}
}

// session connects at the next key frame and publishes until the hub
// goes away (an error) or the publisher closes (nil).
func (p *Publisher) session() error {
	first, err := p.keyFrame()
	if first == nil {
		return err
	}
	track, err := p.track(first)
	if err != nil {
		return err
	}
	tr := gortsplib.TransportTCP
	// Room for a few large frames: a 400 kB JPEG is some 300 packets.
	c := &gortsplib.Client{Transport: &tr, WriteQueueSize: 4096}
	if err := c.StartRecording(p.url, &description.Session{Medias: []*description.Media{track.media}}); err != nil {
		return err
	}
	defer c.Close()
	p.log.Info("publishing")
	gone := make(chan error, 1)
	go func() { gone <- c.Wait() }()
	behind := false // the hub fell behind: frames wait for the next key frame
	for f := first; ; {
		behind = behind && !f.Key
		if !behind {
			err := track.write(c, f)
			var full liberrors.ErrClientWriteQueueFull
			switch {
			case errors.As(err, &full):
				behind = true // a frame was cut short: what follows cannot be decoded until a key frame
			case err != nil:
				return err
			}
		}
		select {
		case <-p.done:
			return nil
		case err := <-gone:
			return fmt.Errorf("connection lost: %w", err)
		case f = <-p.frames:
		}
	}
}

// keyFrame waits for a frame a decoder can start at; nil when closed.
func (p *Publisher) keyFrame() (*playout.Frame, error) {
	for {
		select {
		case <-p.done:
			return nil, nil
		case f := <-p.frames:
			if f.Key {
				return f, nil
			}
		}
	}
}

// track is the published media and its RTP encoder.
type track struct {
	media *description.Media
	jpeg  func([]byte) ([]*rtp.Packet, error)
	h264  func([][]byte) ([]*rtp.Packet, error)
}

func (p *Publisher) track(first *playout.Frame) (*track, error) {
	p.mu.Lock()
	d := p.desc
	p.mu.Unlock()
	if d == nil || d.Codec != "h264" {
		f := &format.MJPEG{}
		enc, err := f.CreateEncoder()
		if err != nil {
			return nil, err
		}
		return &track{media: &description.Media{Type: description.MediaTypeVideo, Formats: []format.Format{f}}, jpeg: enc.Encode}, nil
	}
	au := h264.SplitAnnexB(nil, first.Data)
	sps, pps := h264.ParameterSet(au, h264.TypeSPS), h264.ParameterSet(au, h264.TypePPS)
	if sps == nil || pps == nil {
		sps, pps = d.SPS, d.PPS
	}
	f := &format.H264{PayloadTyp: 96, SPS: sps, PPS: pps, PacketizationMode: 1}
	enc, err := f.CreateEncoder()
	if err != nil {
		return nil, err
	}
	return &track{media: &description.Media{Type: description.MediaTypeVideo, Formats: []format.Format{f}}, h264: enc.Encode}, nil
}

// write sends one frame at its own RTP time.
func (t *track) write(c *gortsplib.Client, f *playout.Frame) error {
	var pkts []*rtp.Packet
	var err error
	if t.h264 != nil {
		pkts, err = t.h264(h264.SplitAnnexB(nil, f.Data))
	} else {
		pkts, err = t.jpeg(f.Data)
	}
	if err != nil {
		return nil // a frame RTP cannot carry: skipped, the hub stays
	}
	for _, pkt := range pkts {
		pkt.Timestamp = f.Timestamp
		if err := c.WritePacketRTP(t.media, pkt); err != nil {
			return err
		}
	}
	return nil
}

// redact hides a URL's password in logs.
func redact(url string) string {
	if u, err := base.ParseURL(url); err == nil && u.User != nil {
		u.User = nil
		return u.String()
	}
	return url
}
