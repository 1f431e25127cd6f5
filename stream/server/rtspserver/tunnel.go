package rtspserver

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"flowcam/stream/format/rtsp"
)

// RTSP over HTTP (Apple's tunnelling, which QuickTime, VLC, live555,
// ffmpeg -rtsp_transport http and NVRs behind proxies use): the client
// opens a GET, whose response carries everything the server sends, and a
// POST, whose body carries the client's requests in base64; the two are
// paired by their x-sessioncookie header. The pair is then one RTSP
// connection, with the same auth, limits and timeouts as any other.

// tunnelMIME is the content type both halves carry.
const tunnelMIME = "application/x-rtsp-tunnelled"

// maxCookie bounds a session cookie; real clients send 22-32 characters.
const maxCookie = 128

// ErrTunnel marks an RTSP-over-HTTP request that was refused.
var ErrTunnel = errors.New("rtsp over http")

// tunnel is a GET waiting for, or paired with, its POST.
type tunnel struct {
	cookie string
	remote string // the GET's client address: a POST must come from it
	posts  chan *post
	done   chan struct{} // the GET's connection ended
	once   sync.Once
}

// post is one POST's request stream, decoded.
type post struct {
	nc   net.Conn
	r    io.Reader
	gone chan struct{} // closed when the tunnel is done with it
	once sync.Once
}

func (p *post) finish() { p.once.Do(func() { close(p.gone) }) }

// isHTTP reports whether a connection starts with an HTTP request line
// (GET or POST, ending HTTP/1.x) rather than RTSP, without consuming it.
// Only a line that starts so is waited for to its end; an RTSP request
// line that names GET is RTSP's to refuse.
func isHTTP(br *bufio.Reader) bool {
	head, err := br.Peek(4)
	if err != nil || (string(head) != "GET " && string(head) != "POST") {
		return false
	}
	for {
		b, err := br.Peek(br.Buffered())
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			line := strings.TrimRight(string(b[:i]), "\r")
			return strings.HasSuffix(line, " HTTP/1.0") || strings.HasSuffix(line, " HTTP/1.1")
		}
		if err != nil || br.Buffered() == br.Size() {
			return false // no line end in a whole buffer: RTSP's reader refuses it
		}
		if _, err := br.Peek(br.Buffered() + 1); err != nil {
			return false
		}
	}
}

// limitedHead lets a request head be at most n bytes, then lifts the limit
// for what follows it (a POST's body).
type limitedHead struct {
	r io.Reader
	n int64
}

func (l *limitedHead) Read(p []byte) (int, error) {
	if l.n <= 0 {
		return 0, fmt.Errorf("%w: request head too long", ErrTunnel)
	}
	if int64(len(p)) > l.n {
		p = p[:l.n]
	}
	n, err := l.r.Read(p)
	l.n -= int64(n)
	return n, err
}

// tunnelRequest reads an HTTP request head off a connection.
func tunnelRequest(br *bufio.Reader) (*http.Request, error) {
	req, err := http.ReadRequest(br)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrTunnel, err)
	}
	return req, nil
}

// cookieOf checks a tunnel request's x-sessioncookie.
func cookieOf(req *http.Request) (string, error) {
	c := req.Header.Get("X-Sessioncookie")
	if c == "" || len(c) > maxCookie || strings.IndexFunc(c, func(r rune) bool { return r <= ' ' || r > '~' }) >= 0 {
		return "", fmt.Errorf("%w: %s without a valid x-sessioncookie", ErrTunnel, req.Method)
	}
	return c, nil
}

// httpRefuse answers a tunnel request that cannot go on, and closes.
func httpRefuse(nc net.Conn, code int, why string) {
	nc.SetWriteDeadline(time.Now().Add(time.Second))
	fmt.Fprintf(nc, "HTTP/1.0 %d %s\r\nContent-Type: text/plain\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s",
		code, http.StatusText(code), len(why)+1, why+"\n")
	nc.Close()
}

// tunnelled serves a connection that began with an HTTP request: a GET
// becomes the RTSP connection once its POST arrives; a POST feeds its GET
// and returns when that is done with it. It reports whether c should go
// on serving RTSP.
func (c *conn) tunnelled() bool {
	lim := c.srv.cfg.Limits
	if lim.MaxHeaderBytes <= 0 || lim.MaxLine <= 0 {
		lim = rtsp.DefaultLimits
	}
	head := &limitedHead{r: c.nc.br, n: int64(lim.MaxLine + lim.MaxHeaderBytes)}
	br := bufio.NewReader(head)
	req, err := tunnelRequest(br)
	if err != nil {
		httpRefuse(c.nc, http.StatusBadRequest, err.Error())
		return false
	}
	head.n = math.MaxInt64
	cookie, err := cookieOf(req)
	if err != nil {
		httpRefuse(c.nc, http.StatusBadRequest, err.Error()+" (this is an RTSP port; plain HTTP is on the HTTP port)")
		return false
	}
	if req.Method == http.MethodPost {
		c.feed(cookie, br)
		return false
	}
	return c.openTunnel(cookie)
}

// openTunnel answers a GET, waits for its POST, and makes the pair c's
// stream: requests from the POST, everything else to the GET.
func (c *conn) openTunnel(cookie string) bool {
	t := &tunnel{cookie: cookie, remote: c.remote.String(), posts: make(chan *post, 1), done: make(chan struct{})}
	s := c.srv
	s.mu.Lock()
	_, taken := s.tunnels[cookie]
	if !taken {
		s.tunnels[cookie] = t
	}
	s.mu.Unlock()
	if taken {
		httpRefuse(c.nc, http.StatusBadRequest, "x-sessioncookie already in use")
		return false
	}
	c.tunnel = t
	c.nc.SetWriteDeadline(time.Now().Add(s.cfg.WriteTimeout))
	_, err := fmt.Fprintf(c.nc, "HTTP/1.0 200 OK\r\nServer: %s\r\nConnection: close\r\nCache-Control: no-store\r\n"+
		"Pragma: no-cache\r\nContent-Type: %s\r\n\r\n", s.cfg.ServerName, tunnelMIME)
	if err != nil {
		return false
	}
	in := newTunnelReader(t, s.cfg.Now)
	c.nc.tunnel(in)
	// A client never sends on its GET after the request: anything read
	// there, or its end, means the client is gone.
	c.nc.Conn.SetReadDeadline(time.Time{})
	go func() {
		var one [1]byte
		c.nc.br.Read(one[:])
		in.close()
	}()
	c.log.Debug("rtsp over http: GET open, waiting for its POST")
	return true
}

// feed hands a POST's body to its GET's tunnel and waits until the
// tunnel is done with it: the connection stays counted as one of the
// client's until then.
func (c *conn) feed(cookie string, br *bufio.Reader) {
	s := c.srv
	s.mu.Lock()
	t := s.tunnels[cookie]
	s.mu.Unlock()
	switch {
	case t == nil:
		httpRefuse(c.nc, http.StatusForbidden, "no GET with this x-sessioncookie: open the GET first")
		return
	case t.remote != c.remote.String():
		httpRefuse(c.nc, http.StatusForbidden, "the GET with this x-sessioncookie came from another address")
		return
	}
	c.nc.SetReadDeadline(time.Time{})
	p := &post{nc: c.nc.Conn, r: &base64Reader{r: br}, gone: make(chan struct{})}
	select {
	case t.posts <- p:
	case <-t.done:
		c.nc.Close()
		return
	default:
		httpRefuse(c.nc, http.StatusForbidden, "this tunnel already has a POST")
		return
	}
	select {
	case <-p.gone:
	case <-t.done:
	}
	c.nc.Close()
}

// IsTunnel reports whether an HTTP request is half of an RTSP over HTTP
// tunnel, for an HTTP server that hands such requests to TunnelHandler.
func IsTunnel(r *http.Request) bool {
	return r.Header.Get("X-Sessioncookie") != "" || r.Header.Get("Accept") == tunnelMIME || r.Header.Get("Content-Type") == tunnelMIME
}

// TunnelHandler serves RTSP over HTTP on another server's port (the HTTP
// side's): it takes the connection over, and from then on it is one of
// this server's, under the same limits, auth and timeouts.
func (s *Server) TunnelHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cookie, err := cookieOf(r)
		if err != nil || (r.Method != http.MethodGet && r.Method != http.MethodPost) {
			http.Error(w, "RTSP over HTTP needs a GET and a POST with an x-sessioncookie", http.StatusBadRequest)
			return
		}
		hj, ok := w.(http.Hijacker)
		if !ok {
			http.Error(w, "this connection cannot carry RTSP", http.StatusInternalServerError)
			return
		}
		nc, brw, err := hj.Hijack()
		if err != nil {
			return
		}
		nc.SetDeadline(time.Time{})
		c, ok := s.adopt(nc)
		if !ok {
			return
		}
		defer s.release(c)
		c.nc.br = brw.Reader // it holds what arrived after the request head
		defer c.teardown()
		if r.Method == http.MethodPost {
			c.feed(cookie, c.nc.br)
			return
		}
		if c.openTunnel(cookie) {
			c.requests()
		}
	})
}

// closeTunnel forgets c's tunnel, if it has one.
func (c *conn) closeTunnel() {
	t := c.tunnel
	if t == nil {
		return
	}
	t.once.Do(func() { close(t.done) })
	c.srv.mu.Lock()
	if c.srv.tunnels[t.cookie] == t {
		delete(c.srv.tunnels, t.cookie)
	}
	c.srv.mu.Unlock()
	c.nc.Close()
}

// tunnelReader reads the requests of a tunnel's POSTs, one after another:
// a client may close its POST after each request and open another with
// the same cookie (QuickTime did).
type tunnelReader struct {
	t   *tunnel
	now func() time.Time

	quit     chan struct{} // closed by close
	quitOnce sync.Once
	mu       sync.Mutex
	cur      *post
	deadline time.Time
	closed   bool
}

func newTunnelReader(t *tunnel, now func() time.Time) *tunnelReader {
	return &tunnelReader{t: t, now: now, quit: make(chan struct{})}
}

func (r *tunnelReader) setDeadline(d time.Time) {
	r.mu.Lock()
	r.deadline = d
	cur := r.cur
	r.mu.Unlock()
	if cur != nil {
		cur.nc.SetReadDeadline(d)
	}
}

func (r *tunnelReader) close() {
	r.quitOnce.Do(func() { close(r.quit) })
	r.mu.Lock()
	r.closed = true
	cur := r.cur
	r.mu.Unlock()
	if cur != nil {
		cur.finish()
		cur.nc.Close()
	}
}

func (r *tunnelReader) Read(p []byte) (int, error) {
	for {
		cur, err := r.current()
		if err != nil {
			return 0, err
		}
		n, err := cur.r.Read(p)
		if err == nil || n > 0 {
			return n, nil
		}
		if !errors.Is(err, io.EOF) {
			return 0, err
		}
		cur.finish() // this POST ended: the next one carries on
		r.mu.Lock()
		r.cur = nil
		r.mu.Unlock()
	}
}

// current is the POST being read, waiting for the next one (until the
// read deadline) when there is none.
func (r *tunnelReader) current() (*post, error) {
	r.mu.Lock()
	cur, deadline, closed := r.cur, r.deadline, r.closed
	r.mu.Unlock()
	if closed {
		return nil, net.ErrClosed
	}
	if cur != nil {
		return cur, nil
	}
	var timeout <-chan time.Time
	if !deadline.IsZero() {
		tm := time.NewTimer(max(deadline.Sub(r.now()), 0))
		defer tm.Stop()
		timeout = tm.C
	}
	select {
	case p := <-r.t.posts:
		p.nc.SetReadDeadline(deadline)
		r.mu.Lock()
		r.cur = p
		closed = r.closed
		r.mu.Unlock()
		if closed {
			p.finish()
			return nil, net.ErrClosed
		}
		return p, nil
	case <-r.t.done:
		return nil, net.ErrClosed
	case <-r.quit:
		return nil, net.ErrClosed
	case <-timeout:
		return nil, os.ErrDeadlineExceeded
	}
}

// base64Reader decodes a POST body: base64 in groups of four characters,
// each request encoded on its own (so padding may come mid-stream), line
// breaks ignored.
type base64Reader struct {
	r     io.Reader
	group [4]byte
	n     int
	out   []byte // decoded, not yet read: out[pos:]
	pos   int
	buf   [1024]byte
}

func (b *base64Reader) Read(p []byte) (int, error) {
	for b.pos == len(b.out) {
		b.out, b.pos = b.out[:0], 0
		n, err := b.r.Read(b.buf[:])
		if derr := b.decode(b.buf[:n]); derr != nil {
			return 0, derr
		}
		if len(b.out) == 0 && err != nil {
			return 0, err
		}
	}
	n := copy(p, b.out[b.pos:])
	b.pos += n
	return n, nil
}

func (b *base64Reader) decode(in []byte) error {
	var dec [3]byte
	for _, ch := range in {
		if ch == '\r' || ch == '\n' || ch == ' ' || ch == '\t' {
			continue
		}
		b.group[b.n] = ch
		if b.n++; b.n < 4 {
			continue
		}
		b.n = 0
		k, err := base64.StdEncoding.Decode(dec[:], b.group[:])
		if err != nil {
			return fmt.Errorf("%w: the POST body is not base64", ErrTunnel)
		}
		b.out = append(b.out, dec[:k]...)
	}
	return nil
}
