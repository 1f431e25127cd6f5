// Package publish pushes a path's stream into RTSP servers that take
// ANNOUNCE and RECORD: a hub such as mediamtx or gst-rtsp-server, or an
// NVR's ingest. A target is one more viewer of the path's broadcaster: it
// sends the frames every viewer gets, packetized once, with no second
// encode. A hub that refuses is logged with its status line; one that goes
// away is connected to again with backoff, starting at a key frame.
package publish

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bluenviron/gortsplib/v4"
	"github.com/bluenviron/gortsplib/v4/pkg/description"
	"github.com/bluenviron/gortsplib/v4/pkg/liberrors"
	"github.com/pion/rtp"

	"flowcam/stream/server/broadcast"
)

// Source is the path's broadcaster, as a publisher uses it.
type Source interface {
	Subscribe(depth int) *broadcast.Subscriber
	Media() broadcast.Media
}

// Options adjust a publisher; the zero value is usable.
type Options struct {
	Logger *slog.Logger
	// QueueFrames bounds the frames that wait for a slow hub (default 8);
	// past it the subscriber drops as it does for any late viewer.
	QueueFrames int
	// Backoff is the first wait after a failure; it doubles up to
	// MaxBackoff, and starts again after a session that ran a while.
	Backoff, MaxBackoff time.Duration
}

// Defaults: a restarted hub has the stream back within a second or two,
// one that stays away is tried every few seconds.
const (
	DefaultBackoff    = 250 * time.Millisecond
	DefaultMaxBackoff = 2 * time.Second
	defaultQueue      = 8
	// writeQueue is gortsplib's packet queue: room for a few large
	// frames (a 400 kB JPEG is some 300 packets).
	writeQueue = 4096
	// keyEvery bounds how often a hub that fell behind asks for a key frame.
	keyEvery = time.Second
)

// State is where a publisher is.
type State string

const (
	Connecting State = "connecting" // waiting for a frame, or for the hub to answer
	Publishing State = "publishing" // RECORD accepted, frames flowing
	Retrying   State = "retrying"   // the last attempt failed; waiting before the next
)

// Status is a publisher's state for status pages and metrics.
type Status struct {
	Target     string // the URL without its password
	State      State
	Bytes      uint64 // RTP bytes handed to the hub's connection
	Reconnects uint64 // sessions that failed or were lost
	Error      string
}

// Publisher publishes one path to one target until closed.
type Publisher struct {
	src    Source
	target Target
	o      Options
	log    *slog.Logger
	done   chan struct{}
	stop   sync.Once
	wg     sync.WaitGroup

	bytes      atomic.Uint64
	reconnects atomic.Uint64
	viewing    atomic.Bool // subscribed to the source
	mu         sync.Mutex
	state      State
	lastErr    string
}

// Start begins publishing src to t.
func Start(src Source, t Target, o Options) *Publisher {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.QueueFrames <= 0 {
		o.QueueFrames = defaultQueue
	}
	if o.Backoff <= 0 {
		o.Backoff = DefaultBackoff
	}
	if o.MaxBackoff < o.Backoff {
		o.MaxBackoff = max(DefaultMaxBackoff, o.Backoff)
	}
	p := &Publisher{src: src, target: t, o: o, done: make(chan struct{}), state: Connecting,
		log: o.Logger.With("component", "publish", "target", t.Redacted())}
	p.wg.Add(1)
	go p.run()
	return p
}

// Close stops publishing and waits until the connection is gone. It may
// be called more than once.
func (p *Publisher) Close() {
	p.stop.Do(func() { close(p.done) })
	p.wg.Wait()
}

// Status returns a snapshot of the publisher's state.
func (p *Publisher) Status() Status {
	p.mu.Lock()
	defer p.mu.Unlock()
	return Status{Target: p.target.Redacted(), State: p.state, Bytes: p.bytes.Load(),
		Reconnects: p.reconnects.Load(), Error: p.lastErr}
}

// Viewing reports whether the publisher is one of the source's viewers
// now: from a connection attempt to its end, not while it waits to retry.
func (p *Publisher) Viewing() bool { return p.viewing.Load() }

func (p *Publisher) set(s State, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.state = s
	if err != nil {
		p.lastErr = err.Error()
	}
}

func (p *Publisher) run() {
	defer p.wg.Done()
	wait := p.o.Backoff
	for {
		p.set(Connecting, nil)
		start := time.Now()
		err := p.session()
		if err == nil {
			return // closed
		}
		p.reconnects.Add(1)
		if time.Since(start) > 10*time.Second {
			wait = p.o.Backoff // it ran a while: a new failure, not the same one again
		}
		p.set(Retrying, err)
		p.log.Warn("publishing: the hub refused or went away; trying again", "err", err, "in", wait)
		select {
		case <-p.done:
			return
		case <-time.After(wait):
		}
		wait = min(2*wait, p.o.MaxBackoff)
	}
}

// session publishes from the next frame a decoder can start at until the
// hub goes away (an error) or the publisher closes (nil).
func (p *Publisher) session() error {
	sub := p.src.Subscribe(p.o.QueueFrames)
	p.viewing.Store(true)
	defer func() { sub.Close(); p.viewing.Store(false) }()
	first, _ := p.next(sub, nil)
	if first == nil {
		return nil
	}
	settledFirst := false
	defer func() {
		if !settledFirst {
			first.Skipped()
		}
		first.Release()
	}()
	m := p.src.Media()
	media, err := mediaOf(m)
	if err != nil {
		return err
	}
	c, err := p.target.client(writeQueue)
	if err != nil {
		return err
	}
	if err := c.StartRecording(p.target.URL, &description.Session{Medias: []*description.Media{media}}); err != nil {
		return err
	}
	defer c.Close()
	p.set(Publishing, nil)
	p.log.Info("publishing", "codec", m.Codec, "transport", p.target.Transport)
	gone := make(chan error, 1)
	go func() { gone <- c.Wait() }()
	w := newWriter(c, media, m.PayloadType)
	for u := first; ; {
		n, err := w.frame(u, sub)
		p.bytes.Add(uint64(n))
		if n > 0 {
			u.Sent(time.Now())
		} else {
			u.Skipped()
		}
		if u == first {
			settledFirst = true
		} else {
			u.Release()
		}
		if err != nil {
			return err
		}
		if u, err = p.next(sub, gone); u == nil {
			return err
		}
	}
}

// next waits for the subscriber's next frame. It returns nil when the
// publisher closes (err nil) or the hub's connection ends (err says why);
// gone is nil before there is a connection.
func (p *Publisher) next(sub *broadcast.Subscriber, gone <-chan error) (*broadcast.Unit, error) {
	for {
		if u := sub.Next(); u != nil {
			return u, nil
		}
		select {
		case <-p.done:
			return nil, nil
		case e := <-gone:
			return nil, fmt.Errorf("connection lost: %w", e)
		case <-sub.Ready():
		}
	}
}

// writer turns units into RTP packets on the session's own sequence,
// timestamp offset and SSRC.
type writer struct {
	c      *gortsplib.Client
	media  *description.Media
	pt     uint8
	seq    uint16
	offset uint32
	ssrc   uint32
	behind bool // a frame was cut short: H.264 waits for a key frame
	keyAt  time.Time
}

func newWriter(c *gortsplib.Client, media *description.Media, pt uint8) *writer {
	var b [8]byte
	rand.Read(b[:])
	return &writer{c: c, media: media, pt: pt, seq: binary.BigEndian.Uint16(b[:2]),
		offset: binary.BigEndian.Uint32(b[2:6]), ssrc: binary.BigEndian.Uint32(b[4:8])}
}

// frame sends u, and returns the RTP bytes it queued. A full queue (a
// hub slower than the stream) cuts the frame short; an H.264 stream then
// skips to a key frame, asking the source for one.
func (w *writer) frame(u *broadcast.Unit, sub *broadcast.Subscriber) (int, error) {
	w.behind = w.behind && !u.Key
	if w.behind {
		return 0, nil
	}
	n := 0
	last := u.Payloads.Len() - 1
	for i := 0; i <= last; i++ {
		pkt := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: w.pt, SequenceNumber: w.seq,
			Timestamp: w.offset + u.Timestamp, SSRC: w.ssrc, Marker: i == last}, Payload: u.Payloads.At(i)}
		w.seq++
		err := w.c.WritePacketRTPWithNTP(w.media, &pkt, u.Captured)
		var full liberrors.ErrClientWriteQueueFull
		switch {
		case errors.As(err, &full):
			w.behind = u.Anchor // what follows depends on the cut frame
			if now := time.Now(); w.behind && now.Sub(w.keyAt) >= keyEvery {
				w.keyAt = now
				sub.RequestKeyFrame(now, keyEvery)
			}
			return n, nil
		case err != nil:
			return n, err
		}
		n += pkt.MarshalSize()
	}
	return n, nil
}
