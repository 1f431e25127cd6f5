// Package rtspserver serves live RTP/JPEG streams to standard RTSP 1.0
// players (RFC 2326): DESCRIBE, SETUP over UDP unicast or TCP interleaved,
// PLAY, PAUSE, TEARDOWN and keep-alives, with session timeouts and RTCP
// sender reports. It owns connections and sessions; frames come from one
// broadcast.Broadcaster per stream path.
package rtspserver

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"

	"flowcam/stream/format/rtsp"
	"flowcam/stream/server/broadcast"
)

// Stream is one path the server offers.
type Stream struct {
	Path          string // "/cam"
	Width, Height int
	FPS           float64
	Frames        *broadcast.Broadcaster
}

// Config tunes the server; zero values take the defaults noted.
type Config struct {
	SessionTimeout time.Duration // idle time before a session is closed; 60 s
	RTCPInterval   time.Duration // between sender reports; 5 s
	WriteTimeout   time.Duration // for a blocked TCP viewer; 5 s
	QueueDepth     int           // frames a late viewer may lag; 4
	// KeyFrameInterval is the shortest time between two key frames one
	// viewer's PLI or FIR may bring; 1 s.
	KeyFrameInterval time.Duration
	Limits           rtsp.Limits // request size limits; rtsp.DefaultLimits
	ServerName       string      // Server header; "flowcam"
	// ListenPacket opens the UDP sockets of a session; net.ListenPacket by
	// default. Injected so tests and per-interface binding can replace it.
	ListenPacket func(network, address string) (net.PacketConn, error)
	Now          func() time.Time // time.Now by default
	Logger       *slog.Logger
	// Multiflow enables multi-flow sessions; nil refuses them with 551.
	Multiflow *MultiflowConfig
	// Multicast, when set, serves RFC 2326 multicast to viewers that ask.
	Multicast *MulticastConfig
	// Auth checks every request but OPTIONS; nil lets everyone watch.
	Auth Authorizer
	// Guard bounds sessions, connections, request rates and ports.
	Guard Guard
}

// Defaults for Config fields left zero; flowcamd's configuration starts
// from these too.
const (
	DefaultSessionTimeout   = 60 * time.Second
	DefaultRTCPInterval     = 5 * time.Second
	DefaultWriteTimeout     = 5 * time.Second
	DefaultQueueDepth       = 4
	DefaultKeyFrameInterval = time.Second
)

func (c *Config) setDefaults() {
	if c.SessionTimeout <= 0 {
		c.SessionTimeout = DefaultSessionTimeout
	}
	if c.RTCPInterval <= 0 {
		c.RTCPInterval = DefaultRTCPInterval
	}
	if c.WriteTimeout <= 0 {
		c.WriteTimeout = DefaultWriteTimeout
	}
	if c.KeyFrameInterval <= 0 {
		c.KeyFrameInterval = DefaultKeyFrameInterval
	}
	if c.QueueDepth <= 0 {
		c.QueueDepth = DefaultQueueDepth
	}
	if c.ServerName == "" {
		c.ServerName = "flowcam"
	}
	if c.ListenPacket == nil {
		c.ListenPacket = net.ListenPacket
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	c.Guard.setDefaults()
	if c.Multiflow != nil {
		mf := *c.Multiflow
		mf.setDefaults()
		c.Multiflow = &mf
	}
}

// ErrClosed is returned by Serve after Close.
var ErrClosed = errors.New("rtspserver: closed")

// Server is an RTSP server for a set of streams that a reload may change.
type Server struct {
	cfg Config
	log *slog.Logger

	mu       sync.Mutex
	streams  map[string]*Stream
	sessions map[string]*session
	conns    map[*conn]struct{}
	tunnels  map[string]*tunnel // RTSP over HTTP GETs by x-sessioncookie
	mc       *multicaster       // nil: no multicast
	lns      []net.Listener
	closed   bool
	refusals int // connections refused by the guard, for rate-limited logging
	ports    *portRange
	done     chan struct{}
	wg       sync.WaitGroup
}

// New returns a server offering streams.
func New(cfg Config, streams ...Stream) (*Server, error) {
	cfg.setDefaults()
	s := &Server{
		cfg:      cfg,
		log:      cfg.Logger,
		streams:  make(map[string]*Stream),
		sessions: make(map[string]*session),
		conns:    make(map[*conn]struct{}),
		tunnels:  make(map[string]*tunnel),
		done:     make(chan struct{}),
		ports:    &portRange{lo: cfg.Guard.UDPPorts[0], hi: cfg.Guard.UDPPorts[1]},
	}
	if err := s.SetStreams(streams...); err != nil {
		return nil, err
	}
	if cfg.Multicast != nil {
		s.mc = newMulticaster(s, *cfg.Multicast)
	}
	s.wg.Add(1)
	go s.reap()
	return s, nil
}

// Serve accepts RTSP connections on ln until Close.
func (s *Server) Serve(ln net.Listener) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		ln.Close()
		return ErrClosed
	}
	s.lns = append(s.lns, ln)
	s.mu.Unlock()
	for {
		nc, err := ln.Accept()
		if err != nil {
			select {
			case <-s.done:
				return ErrClosed
			default:
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return fmt.Errorf("rtspserver: accept: %w", err)
		}
		s.startConn(nc)
	}
}

func (s *Server) startConn(nc net.Conn) {
	c, ok := s.adopt(nc)
	if !ok {
		return
	}
	go func() {
		defer s.release(c)
		c.serve()
	}()
}

// adopt admits a new connection, or closes it when it does not fit the
// limits. An admitted one is counted until release.
func (s *Server) adopt(nc net.Conn) (*conn, bool) {
	limitSendQueue(nc)
	c := newConn(s, nc)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		nc.Close()
		return nil, false
	}
	if ok, why := s.admitConnLocked(c.remote); !ok {
		// Log the first refusals and then every 100th, so a flood cannot
		// flood the journal too.
		if s.refusals++; s.refusals <= 10 || s.refusals%100 == 0 {
			s.log.Warn("connection refused", "remote", nc.RemoteAddr().String(), "reason", why, "refused_total", s.refusals)
		}
		nc.Close()
		return nil, false
	}
	s.conns[c] = struct{}{}
	s.wg.Add(1)
	return c, true
}

func (s *Server) release(c *conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
	s.wg.Done()
}

// Close stops listening, ends every session and connection, and waits for
// all of the server's goroutines.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	close(s.done)
	for _, ln := range s.lns {
		ln.Close()
	}
	conns := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	sessions := s.sessionList()
	s.mu.Unlock()
	for _, c := range conns {
		c.nc.Close()
	}
	for _, ss := range sessions {
		ss.close("server shutdown")
	}
	s.wg.Wait()
	return nil
}

func (s *Server) sessionList() []*session {
	out := make([]*session, 0, len(s.sessions))
	for _, ss := range s.sessions {
		out = append(out, ss)
	}
	return out
}

// reap closes sessions whose clients went quiet for SessionTimeout.
func (s *Server) reap() {
	defer s.wg.Done()
	tick := time.NewTicker(min(time.Second, s.cfg.SessionTimeout/4))
	defer tick.Stop()
	for {
		select {
		case <-s.done:
			return
		case <-tick.C:
		}
		now := s.cfg.Now()
		s.mu.Lock()
		all := s.sessionList()
		s.mu.Unlock()
		for _, ss := range all {
			if now.Sub(ss.lastSeen()) > s.cfg.SessionTimeout {
				ss.close("timeout")
			}
		}
	}
}

func (s *Server) addSession(ss *session) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	s.sessions[ss.id] = ss
	return nil
}

func (s *Server) session(id string) *session {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sessions[id]
}

func (s *Server) removeSession(ss *session) {
	s.mu.Lock()
	delete(s.sessions, ss.id)
	s.mu.Unlock()
}

// Sessions returns a snapshot of every open session.
func (s *Server) Sessions() []SessionInfo {
	s.mu.Lock()
	all := s.sessionList()
	s.mu.Unlock()
	out := make([]SessionInfo, 0, len(all))
	for _, ss := range all {
		out = append(out, ss.info())
	}
	return out
}
