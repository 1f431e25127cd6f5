package rtspserver

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	mrand "math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtp"

	"flowcam/stream/format/rtsp"
	"flowcam/stream/server/broadcast"
)

type sessionState int

const (
	stateReady sessionState = iota
	statePlaying
	stateClosed
)

// mediaTransport carries a session's RTP and RTCP to its client. It is
// used by the session's writer goroutine only (close excepted).
type mediaTransport interface {
	name() string
	// sendFrame delivers one frame; h is the header of its first packet.
	// It reports false when the frame was skipped whole, because the
	// viewer's path cannot carry it now (it then uses no sequence
	// numbers). An error on a connection-bound transport means the
	// viewer is gone.
	sendFrame(h rtp.Header, u *broadcast.Unit, now time.Time) (bool, error)
	// writeRTCP sends the session's sender report; a transport that
	// reports per path itself ignores it.
	writeRTCP(p []byte) error
	close()
}

// session is one viewer of one stream (RFC 2326 state machine: Ready,
// Playing). Its writer goroutine exists only while it plays.
type session struct {
	id       string
	srv      *Server
	stream   *Stream
	base     string
	client   string // the control connection's remote address, for status
	log      *slog.Logger
	ssrc     uint32
	tsOffset uint32
	pt       uint8 // the stream's RTP payload type
	intra    bool  // every frame stands alone (JPEG)
	seen     atomic.Int64

	media mediaTransport // set before the session is published
	owner *conn          // the connection carrying TCP media, else nil

	mu       sync.Mutex
	state    sessionState
	seq      uint16 // next sequence number; the writer owns it while playing
	playInfo rtsp.RTPInfo
	noInfo   bool // PLAY has no RTP-Info to give (a multicast viewer joining a running group)
	sub      *broadcast.Subscriber
	stop     chan struct{}
	done     chan struct{}

	// Written by the writer goroutine only.
	lastTS       uint32
	lastCaptured time.Time
	needKey      bool // a frame was skipped: the ones after it wait for a key frame
	// The player's User-Agent, and whether it is one that refuses RTP/JPEG
	// restart headers (see warnRestarts).
	userAgent                  string
	noRestarts, warnedRestarts bool
	// On a multicast group's sender: the User-Agent of a refusing viewer
	// that joined the group and has not been warned yet.
	refusing atomic.Pointer[string]

	frames, packets, octets, sendErrs, spoofed atomic.Uint64
	skipped, keyRequests, keyFrames            atomic.Uint64
	rtcp                                       receiverStats
}

// pacedTransport sends some frames' packets later, spaced: the writer asks
// it to release what is due, and when to ask next.
type pacedTransport interface {
	release(now time.Time) time.Time
}

// udpSRInterval bounds the sender report interval of UDP sessions: their
// reports' echoes time the round trip that rate adaptation reads a queue
// from.
const udpSRInterval = 500 * time.Millisecond

func newSession(s *Server, st *Stream, base string) *session {
	var b [8]byte
	rand.Read(b[:])
	id := hex.EncodeToString(b[:])
	ss := &session{
		id:       id,
		srv:      s,
		stream:   st,
		base:     base,
		log:      s.log.With("session", id, "path", st.Path),
		ssrc:     mrand.Uint32(),
		tsOffset: mrand.Uint32(),
		seq:      uint16(mrand.Uint32()),
		pt:       st.media().PayloadType,
		intra:    st.media().Intra,
	}
	ss.touch()
	return ss
}

func (s *session) touch()              { s.seen.Store(s.srv.cfg.Now().UnixNano()) }
func (s *session) lastSeen() time.Time { return time.Unix(0, s.seen.Load()) }

func (s *session) header() string {
	return rtsp.SessionHeader{ID: s.id, Timeout: int(s.srv.cfg.SessionTimeout / time.Second)}.String()
}

// play starts (or keeps) the flow of frames and returns the RTP-Info the
// client needs to map the first packet: its sequence number and timestamp.
func (s *session) play() (rtsp.RTPInfo, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch s.state {
	case stateClosed:
		return rtsp.RTPInfo{}, false
	case statePlaying:
		return s.playInfo, true
	}
	if m, ok := s.media.(*multicastMedia); ok {
		s.state = statePlaying
		var first bool
		s.playInfo, first = m.m.play(m.g)
		if s.noRestarts {
			m.g.sender.refusing.Store(&s.userAgent) // the sender sees the frames
		}
		s.noInfo = !first // joined mid-stream: no RTP-Info is true for it
		return s.playInfo, true
	}
	s.sub = s.stream.Frames.Subscribe(s.srv.cfg.QueueDepth)
	s.playInfo = rtsp.RTPInfo{Seq: s.seq, RTPTime: s.tsOffset}
	if ts, ok := s.sub.NextTimestamp(); ok {
		s.playInfo.RTPTime += ts
	}
	s.stop, s.done = make(chan struct{}), make(chan struct{})
	s.state = statePlaying
	s.srv.wg.Add(1)
	go s.write(s.sub, s.stop, s.done)
	s.log.Debug("playing", "seq", s.playInfo.Seq, "rtptime", s.playInfo.RTPTime)
	return s.playInfo, true
}

// pause stops the flow, keeping the session and its sequence numbering.
func (s *session) pause() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.state == statePlaying {
		s.stopWriter()
		s.state = stateReady
	}
	return s.state == stateReady
}

// stopWriter stops the frames flowing to the session: its writer, or its
// share of a multicast group's.
func (s *session) stopWriter() {
	if m, ok := s.media.(*multicastMedia); ok {
		m.m.pause(m.g)
		return
	}
	close(s.stop)
	<-s.done
	s.sub.Close()
	s.sub = nil
}

// close ends the session and frees its ports and goroutines. It is safe to
// call from any goroutine but the session's own writer.
func (s *session) close(reason string) {
	s.mu.Lock()
	if s.state == stateClosed {
		s.mu.Unlock()
		return
	}
	if s.state == statePlaying {
		s.stopWriter()
	}
	s.state = stateClosed
	s.mu.Unlock()
	if s.media != nil {
		s.media.close()
	}
	if s.owner != nil {
		s.owner.unbind(s)
	}
	s.srv.removeSession(s)
	s.log.Info("session closed", "reason", reason, "frames", s.frames.Load(),
		"packets", s.packets.Load(), "send_errors", s.sendErrs.Load(), "skipped", s.skipped.Load())
}

// write is the writer goroutine: frames from the broadcaster out to the
// client, plus a sender report every RTCPInterval.
func (s *session) write(sub *broadcast.Subscriber, stop, done chan struct{}) {
	defer s.srv.wg.Done()
	defer close(done)
	every := s.srv.cfg.RTCPInterval
	if _, ok := s.media.(*udpMedia); ok {
		every = min(every, udpSRInterval)
	}
	sr := time.NewTicker(every)
	defer sr.Stop()
	pacer := newPacerTimer(s.media)
	defer pacer.stop()
	reported := false
	for {
		select {
		case <-stop:
			return
		case <-sr.C:
			s.sendSR()
			// Formatting the state costs more than the report it rides on.
			if m, ok := s.media.(*udpMedia); ok && s.log.Enabled(context.Background(), slog.LevelDebug) {
				s.log.Debug("udp rate state", "state", m.rate.stats(s.srv.cfg.Now()).String())
			}
		case <-pacer.c():
			pacer.release(s.srv.cfg.Now())
		case <-sub.Ready():
			for u, replay := sub.NextReplay(); u != nil; u, replay = sub.NextReplay() {
				ok := s.sendUnit(u, replay)
				u.Release()
				if !ok {
					return
				}
			}
			pacer.release(s.srv.cfg.Now())
			if !reported {
				// An early report lets players map RTP time to wall-clock
				// time from the first frame on.
				s.sendSR()
				reported = true
			}
		}
	}
}

// pacerTimer wakes the writer when its transport's next paced packet is
// due; transports that do not pace never fire it.
type pacerTimer struct {
	t *time.Timer
	p pacedTransport
}

func newPacerTimer(m mediaTransport) *pacerTimer {
	pt := &pacerTimer{t: time.NewTimer(time.Hour)}
	pt.p, _ = m.(pacedTransport)
	return pt
}

func (pt *pacerTimer) c() <-chan time.Time { return pt.t.C }

func (pt *pacerTimer) release(now time.Time) {
	if pt.p == nil {
		return
	}
	wait := time.Hour
	if next := pt.p.release(now); !next.IsZero() {
		wait = max(next.Sub(now), 0)
	}
	pt.t.Reset(wait)
}

func (pt *pacerTimer) stop() { pt.t.Stop() }

// sendUnit sends one frame. It returns false when the viewer is gone. A
// frame sent again for a key frame request (replay) is stamped a tick
// after the last one sent, so the viewer's clock never runs back and the
// live frames after it still come later.
func (s *session) sendUnit(u *broadcast.Unit, replay bool) bool {
	if s.needKey = s.needKey && !u.Key; s.needKey {
		s.skipped.Add(1) // it could not be decoded without the skipped one
		u.Skipped()
		return true
	}
	s.warnRestarts(u)
	h := rtp.Header{Version: 2, PayloadType: s.pt, SSRC: s.ssrc,
		Timestamp: u.Timestamp + s.tsOffset, SequenceNumber: s.seq}
	n := u.Payloads.Len()
	if replay {
		h.Timestamp = s.lastTS + 1
		s.lastTS = h.Timestamp // its capture time is old: sender reports keep the live one
	} else {
		s.lastTS, s.lastCaptured = h.Timestamp, u.Captured
	}
	sent, err := s.media.sendFrame(h, u, s.srv.cfg.Now())
	if !sent || err != nil {
		u.Skipped()
	} else {
		u.Sent(s.srv.cfg.Now())
	}
	if !sent && err == nil {
		s.skipped.Add(1)
		s.needKey = !s.intra
		return true
	}
	s.seq += uint16(n)
	if err != nil {
		if n := s.sendErrs.Add(1); n == 1 || n%1000 == 0 {
			s.log.Debug("send failed", "err", err, "errors_total", n)
		}
		if s.owner != nil {
			s.owner.nc.Close() // the connection's goroutine then closes the session
			return false
		}
		return true
	}
	s.frames.Add(1)
	s.packets.Add(uint64(n))
	s.octets.Add(uint64(u.Payloads.Bytes()))
	return true
}
