package rtspserver

import (
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"strconv"
	"time"

	"flowcam/stream/format/rtsp"
)

// Guard bounds what one client, and all of them together, may take, so no
// client (or crowd) can starve the others; zero fields take the defaults.
type Guard struct {
	MaxSessions      int // open sessions overall; 64
	MaxSessionsPerIP int // from one address; 16
	MaxConns         int // open control connections overall; 256
	MaxConnsPerIP    int // from one address; 32
	// RequestsPerSecond per connection, with bursts of twice as many; 20.
	RequestsPerSecond int
	// RequestTimeout is how long a request may take to arrive once its
	// first byte has (no slowloris); 10 s.
	RequestTimeout time.Duration
	// IdleTimeout closes a connection that sends nothing for this long;
	// one carrying TCP media waits at least the session timeout, which
	// reaps a silent viewer anyway; 60 s.
	IdleTimeout time.Duration
	// UDPPorts is the inclusive range session and flow sockets bind in;
	// zero means any port the kernel picks.
	UDPPorts [2]int
}

// DefaultGuard holds the limits a Guard field left zero gets.
var DefaultGuard = Guard{MaxSessions: 64, MaxSessionsPerIP: 16, MaxConns: 256, MaxConnsPerIP: 32,
	RequestsPerSecond: 20, RequestTimeout: 10 * time.Second, IdleTimeout: 60 * time.Second}

func (g *Guard) setDefaults() {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	d := DefaultGuard
	def(&g.MaxSessions, d.MaxSessions)
	def(&g.MaxSessionsPerIP, d.MaxSessionsPerIP)
	def(&g.MaxConns, d.MaxConns)
	def(&g.MaxConnsPerIP, d.MaxConnsPerIP)
	def(&g.RequestsPerSecond, d.RequestsPerSecond)
	if g.RequestTimeout <= 0 {
		g.RequestTimeout = d.RequestTimeout
	}
	if g.IdleTimeout <= 0 {
		g.IdleTimeout = d.IdleTimeout
	}
}

// admitConn reports whether another connection from addr fits. Called with
// s.mu held.
func (s *Server) admitConnLocked(addr netip.Addr) (bool, string) {
	if len(s.conns) >= s.cfg.Guard.MaxConns {
		return false, "too many connections"
	}
	n := 0
	for c := range s.conns {
		if c.remote == addr {
			n++
		}
	}
	if n >= s.cfg.Guard.MaxConnsPerIP {
		return false, "too many connections from this address"
	}
	return true, ""
}

// admitSession reports why another session from addr does not fit, or "".
func (s *Server) admitSession(addr netip.Addr) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.sessions) >= s.cfg.Guard.MaxSessions {
		return "Too many sessions"
	}
	n := 0
	for _, ss := range s.sessions {
		if ap, err := netip.ParseAddrPort(ss.client); err == nil && ap.Addr().Unmap() == addr {
			n++
		}
	}
	if n >= s.cfg.Guard.MaxSessionsPerIP {
		return "Too many sessions from this address"
	}
	return ""
}

// bucket is a per-connection token bucket for the request rate.
type bucket struct {
	rate, burst, tokens float64
	last                time.Time
	warned              bool
}

func newBucket(perSecond int, now time.Time) *bucket {
	r := float64(perSecond)
	return &bucket{rate: r, burst: 2 * r, tokens: 2 * r, last: now}
}

// take spends a token; it reports false when the connection is over its
// rate. debt says how far over: a client far beyond it is disconnected.
func (b *bucket) take(now time.Time) (ok bool, debt float64) {
	b.tokens = min(b.burst, b.tokens+now.Sub(b.last).Seconds()*b.rate)
	b.last = now
	b.tokens--
	return b.tokens >= 0, -b.tokens
}

// deadlineReader gives a connection two read deadlines: a long one while
// it is idle between requests and a short one once a request has begun, so
// a client dribbling a request byte by byte cannot hold the connection.
type deadlineReader struct {
	nc      net.Conn
	now     func() time.Time
	request time.Duration
	started bool
}

func (d *deadlineReader) Read(p []byte) (int, error) {
	n, err := d.nc.Read(p)
	if n > 0 && !d.started {
		d.started = true
		d.nc.SetReadDeadline(d.now().Add(d.request))
	}
	return n, err
}

// expectRequest arms the deadline for the wait before the next request.
func (d *deadlineReader) expectRequest(wait time.Duration) {
	d.started = false
	d.nc.SetReadDeadline(d.now().Add(wait))
}

// idleWait is how long the connection may stay silent.
func (c *conn) idleWait() time.Duration {
	c.mu.Lock()
	carries := len(c.channels) > 0
	c.mu.Unlock()
	if carries {
		return max(c.srv.cfg.Guard.IdleTimeout, c.srv.cfg.SessionTimeout)
	}
	return c.srv.cfg.Guard.IdleTimeout
}

// portRange binds UDP sockets inside a configured range.
type portRange struct{ lo, hi int }

// listen binds one socket on host at a port in the range, or anywhere
// when there is no range.
func (r *portRange) listen(listen func(string, string) (net.PacketConn, error), host string) (net.PacketConn, error) {
	if r == nil || r.lo == 0 {
		return listen("udp", net.JoinHostPort(host, "0"))
	}
	span := r.hi - r.lo + 1
	start := rand.IntN(span)
	var last error
	for i := 0; i < min(span, 256); i++ {
		port := r.lo + (start+i)%span
		pc, err := listen("udp", net.JoinHostPort(host, strconv.Itoa(port)))
		if err == nil {
			return pc, nil
		}
		last = err
	}
	return nil, fmt.Errorf("no free UDP port in %d-%d: %w", r.lo, r.hi, last)
}

// pair binds an even RTP port and the odd RTCP port after it, as RFC 3550
// and most players expect.
func (r *portRange) pair(listen func(string, string) (net.PacketConn, error), host string) (net.PacketConn, net.PacketConn, error) {
	if r == nil || r.lo == 0 {
		return anyPair(listen, host)
	}
	first := r.lo + r.lo%2
	pairs := (r.hi - first + 1) / 2
	if pairs <= 0 {
		return nil, nil, fmt.Errorf("UDP port range %d-%d holds no even/odd pair", r.lo, r.hi)
	}
	start := rand.IntN(pairs)
	var last error
	for i := 0; i < min(pairs, 256); i++ {
		port := first + 2*((start+i)%pairs)
		a, b, err := bindPair(listen, host, port)
		if err == nil {
			return a, b, nil
		}
		last = err
	}
	return nil, nil, fmt.Errorf("no free UDP port pair in %d-%d: %w", r.lo, r.hi, last)
}

// anyPair lets the kernel pick, retrying until it picks an even port.
func anyPair(listen func(string, string) (net.PacketConn, error), host string) (net.PacketConn, net.PacketConn, error) {
	var last error
	for try := 0; try < 64; try++ {
		a, err := listen("udp", net.JoinHostPort(host, "0"))
		if err != nil {
			return nil, nil, fmt.Errorf("listen udp: %w", err)
		}
		port := a.LocalAddr().(*net.UDPAddr).Port
		if port%2 != 0 || port == 65535 {
			a.Close()
			continue
		}
		b, err := listen("udp", net.JoinHostPort(host, strconv.Itoa(port+1)))
		if err != nil {
			a.Close()
			last = err
			continue
		}
		return a, b, nil
	}
	return nil, nil, fmt.Errorf("no free UDP port pair after 64 attempts: %v", last)
}

func bindPair(listen func(string, string) (net.PacketConn, error), host string, port int) (net.PacketConn, net.PacketConn, error) {
	a, err := listen("udp", net.JoinHostPort(host, strconv.Itoa(port)))
	if err != nil {
		return nil, nil, err
	}
	b, err := listen("udp", net.JoinHostPort(host, strconv.Itoa(port+1)))
	if err != nil {
		a.Close()
		return nil, nil, err
	}
	return a, b, nil
}

// admit applies the request rate limit. It returns a refusal to send
// instead of handling the request (nil to handle it), and whether the
// connection may stay open: a client far over its rate is cut off.
func (c *conn) admit(req *rtsp.Request) (*rtsp.Response, bool) {
	ok, debt := c.rate.take(c.srv.cfg.Now())
	if ok {
		return nil, true
	}
	res := &rtsp.Response{Status: rtsp.StatusServiceUnavailable, Reason: "Too many requests"}
	if cseq := req.CSeq(); cseq != "" {
		res.Header.Add("CSeq", cseq)
	}
	res.Header.Add("Server", c.srv.cfg.ServerName)
	res.Header.Add("Retry-After", "1")
	keep := debt < c.rate.burst
	if !keep {
		res.Header.Add("Connection", "close")
		c.log.Warn("connection closed: request rate far over the limit", "per_second", c.srv.cfg.Guard.RequestsPerSecond)
	} else if !c.rate.warned {
		c.rate.warned = true
		c.log.Warn("requests refused: over the rate limit", "per_second", c.srv.cfg.Guard.RequestsPerSecond)
	}
	return res, keep
}
