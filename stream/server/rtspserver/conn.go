package rtspserver

import (
	"errors"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"

	"flowcam/stream/format/rtsp"
)

// conn is one RTSP control connection. Its goroutine reads requests and
// interleaved RTCP; writes (responses and TCP media) share a mutex so a
// response never lands inside a media frame.
type conn struct {
	srv    *Server
	nc     *wire
	log    *slog.Logger
	r      *rtsp.Reader
	id     string // binds digest nonces to this connection
	secure bool   // RTSPS: media must stay inside the TLS connection
	user   string // last authenticated user, for the log
	remote netip.Addr
	dr     *deadlineReader
	rate   *bucket

	wmu  sync.Mutex
	rbuf []byte // response scratch, used only by the conn goroutine

	tunnel *tunnel // the RTSP over HTTP tunnel this connection's GET opened

	mu       sync.Mutex
	channels map[uint8]*session // interleaved channel -> TCP session on this connection
}

func newConn(s *Server, nc net.Conn) *conn {
	g := s.cfg.Guard
	w := newWire(nc)
	dr := &deadlineReader{nc: w, now: s.cfg.Now, request: g.RequestTimeout}
	return &conn{
		srv:      s,
		nc:       w,
		log:      s.log.With("remote", nc.RemoteAddr().String()),
		r:        rtsp.NewReader(dr, s.cfg.Limits),
		remote:   remoteAddr(nc),
		dr:       dr,
		rate:     newBucket(g.RequestsPerSecond, s.cfg.Now()),
		id:       newConnID(),
		secure:   secure(nc),
		channels: make(map[uint8]*session),
	}
}

func (c *conn) serve() {
	c.log.Debug("connection opened")
	defer c.teardown()
	if c.sniff() {
		c.requests()
	}
}

// requests answers requests until the connection ends.
func (c *conn) requests() {
	for {
		c.dr.expectRequest(c.idleWait())
		req, frame, err := c.r.ReadRequest()
		if frame != nil {
			c.interleaved(frame)
			continue
		}
		if err != nil {
			if !c.refuse(req, err) {
				return
			}
			continue
		}
		res, keep := c.admit(req)
		if res == nil {
			res = c.handle(req)
		}
		if err := c.respond(res); err != nil || !keep {
			c.log.Debug("write response", "err", err)
			if err == nil {
				c.closeGently()
			}
			return
		}
	}
}

// refuse answers a request that could not be read. It reports whether the
// connection can go on.
func (c *conn) refuse(req *rtsp.Request, err error) bool {
	var pe *rtsp.ProtocolError
	if !errors.As(err, &pe) {
		if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
			c.log.Debug("read request", "err", err)
		}
		return false
	}
	c.log.Info("bad request", "status", pe.Status, "err", pe.Msg)
	res := &rtsp.Response{Status: pe.Status}
	if req != nil && req.CSeq() != "" {
		res.Header.Add("CSeq", req.CSeq())
	}
	res.Header.Add("Server", c.srv.cfg.ServerName)
	if pe.Fatal {
		res.Header.Add("Connection", "close")
	}
	werr := c.respond(res)
	if pe.Fatal && werr == nil {
		c.closeGently()
	}
	return !pe.Fatal && werr == nil
}

// After a refusal that ends the connection, the server goes on reading
// (and discarding) for up to lingerTime or lingerBytes.
const (
	lingerTime  = 500 * time.Millisecond
	lingerBytes = 256 << 10
)

// closeGently ends a connection after its final response (Connection:
// close): it sends FIN after the response, then discards what the client
// still sends for a moment. Closed with input unread, the connection would
// be reset, and the kernel would drop the responses not yet delivered with
// it: a flood's last 503s, the refusal of an oversized request.
func (c *conn) closeGently() {
	if c.nc.CloseWrite() != nil {
		return
	}
	c.nc.SetReadDeadline(time.Now().Add(lingerTime))
	io.CopyN(io.Discard, c.nc, lingerBytes)
}

func (c *conn) respond(res *rtsp.Response) error {
	c.rbuf = res.AppendTo(c.rbuf[:0])
	return c.write(c.rbuf)
}

// write sends b whole, bounded by the write timeout so a client that stops
// reading cannot pin a goroutine.
func (c *conn) write(b []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.nc.SetWriteDeadline(time.Now().Add(c.srv.cfg.WriteTimeout))
	_, err := c.nc.Write(b)
	return err
}

// interleaved routes RTCP a TCP client sends on its session's channel.
func (c *conn) interleaved(f *rtsp.Interleaved) {
	c.mu.Lock()
	ss := c.channels[f.Channel&^1]
	c.mu.Unlock()
	if ss == nil {
		return
	}
	ss.touch()
	if f.Channel&1 == 1 {
		ss.handleRTCP(f.Data)
	}
}

// bindChannels reserves an interleaved channel pair for a session; want
// is the client's choice, or negative to pick the first free pair.
func (c *conn) bindChannels(ss *session, want int) (int, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if want < 0 {
		for ch := 0; ch < 254; ch += 2 {
			if c.channels[uint8(ch)] == nil {
				want = ch
				break
			}
		}
	}
	if want < 0 || want%2 != 0 || want > 253 || c.channels[uint8(want)] != nil {
		return 0, false
	}
	c.channels[uint8(want)] = ss
	return want, true
}

func (c *conn) unbind(ss *session) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for ch, s := range c.channels {
		if s == ss {
			delete(c.channels, ch)
		}
	}
}

// teardown closes the sessions whose media rides on this connection: with
// the connection gone they have nowhere to send.
// sniff looks at the first bytes: RTSP is served as it comes; an HTTP
// request is half of an RTSP over HTTP tunnel (or refused). It reports
// whether to go on serving RTSP.
func (c *conn) sniff() bool {
	c.dr.expectRequest(c.idleWait())
	if !isHTTP(c.nc.br) {
		return true // RTSP, or an error the RTSP reader will meet and report
	}
	return c.tunnelled()
}

func (c *conn) teardown() {
	c.closeTunnel()
	c.nc.Close()
	c.mu.Lock()
	var bound []*session
	for _, ss := range c.channels {
		bound = append(bound, ss)
	}
	c.mu.Unlock()
	for _, ss := range bound {
		ss.close("connection closed")
	}
	c.log.Debug("connection closed")
}
