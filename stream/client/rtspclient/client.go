// Package rtspclient is the RTSP 1.0 client of the companion client: it
// describes a stream, sets it up over UDP, TCP interleaved or multi-flow,
// plays it and keeps the session alive. It works with any RTSP server that
// sends MJPEG.
package rtspclient

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"flowcam/stream/auth"
	"flowcam/stream/format/rtsp"
)

// StatusError is a response other than 200 OK.
type StatusError struct {
	Method string
	Status int
	Reason string
	Header rtsp.Header
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("%s: %d %s", e.Method, e.Status, e.Reason)
}

// Options tune a client; zero values take defaults.
type Options struct {
	Timeout   time.Duration // per request; 10 s
	UserAgent string        // "flowcam"
	Dial      func(ctx context.Context, network, address string) (net.Conn, error)
	Logger    *slog.Logger
}

// Client is one RTSP control connection with at most one session.
type Client struct {
	opts    Options
	url     *url.URL
	conn    net.Conn
	log     *slog.Logger
	frames  chan rtsp.Interleaved
	replies chan reply
	done    chan struct{}
	wg      sync.WaitGroup

	wmu     sync.Mutex // one write on the connection at a time
	mu      sync.Mutex // one request at a time
	cseq    int
	creds   *url.Userinfo   // from the URL; never sent in it
	digest  *auth.Challenge // the server's challenge once it asked
	nc      uint32          // uses of digest's nonce
	session string
	timeout time.Duration // the server's session timeout
	public  string
}

type reply struct {
	res *rtsp.Response
	err error
}

// Dial connects to the server of an rtsp:// URL.
func Dial(ctx context.Context, rawURL string, opts Options) (*Client, error) {
	u, err := url.Parse(rawURL)
	if err != nil || u.Scheme != "rtsp" || u.Host == "" {
		return nil, fmt.Errorf("rtspclient: %q is not an rtsp://host[:port]/path URL", rawURL)
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 10 * time.Second
	}
	if opts.UserAgent == "" {
		opts.UserAgent = "flowcam"
	}
	if opts.Dial == nil {
		opts.Dial = (&net.Dialer{}).DialContext
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	host := u.Host
	if u.Port() == "" {
		host = net.JoinHostPort(u.Hostname(), "554")
	}
	conn, err := opts.Dial(ctx, "tcp", host)
	if err != nil {
		return nil, fmt.Errorf("rtspclient: connect %s: %w", host, err)
	}
	creds := u.User
	u.User = nil
	c := &Client{opts: opts, url: u, conn: conn, log: opts.Logger, timeout: 60 * time.Second, creds: creds,
		frames: make(chan rtsp.Interleaved, 256), replies: make(chan reply, 1), done: make(chan struct{})}
	c.wg.Add(1)
	go c.read()
	return c, nil
}

// URL is the stream URL the client was dialled with.
func (c *Client) URL() string { return c.url.String() }

// LocalAddr and RemoteAddr are the control connection's addresses.
func (c *Client) LocalAddr() net.Addr  { return c.conn.LocalAddr() }
func (c *Client) RemoteAddr() net.Addr { return c.conn.RemoteAddr() }

// Interleaved delivers RTP and RTCP the server sends over the connection
// (TCP transport). It is closed when the connection ends.
func (c *Client) Interleaved() <-chan rtsp.Interleaved { return c.frames }

// Done is closed when the control connection ends.
func (c *Client) Done() <-chan struct{} { return c.done }

// read demultiplexes the connection: responses to the waiting request,
// interleaved frames to Interleaved.
func (c *Client) read() {
	defer c.wg.Done()
	defer close(c.frames)
	defer close(c.done)
	r := rtsp.NewReader(c.conn, rtsp.Limits{MaxBody: 1 << 20})
	for {
		res, f, err := r.ReadResponse()
		if err != nil {
			select {
			case c.replies <- reply{err: err}:
			default:
			}
			return
		}
		if f != nil {
			select {
			case c.frames <- rtsp.Interleaved{Channel: f.Channel, Data: append([]byte(nil), f.Data...)}:
			default: // a stalled consumer loses media, never the control channel
			}
			continue
		}
		c.replies <- reply{res: res}
	}
}

// Do sends a request (adding CSeq, Session and User-Agent) and returns
// its response; a status other than 200 is a *StatusError.
func (c *Client) Do(ctx context.Context, method, target string, h ...rtsp.Field) (*rtsp.Response, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	res, err := c.do(ctx, method, target, h)
	if c.mayRetry(res) {
		res, err = c.do(ctx, method, target, h)
	}
	return res, err
}

// mayRetry takes a 401's challenge and reports whether the request should
// be sent again with credentials: once for a first challenge, and when the
// server only found our nonce stale.
func (c *Client) mayRetry(res *rtsp.Response) bool {
	if res == nil || res.Status != rtsp.StatusUnauthorized || c.creds == nil {
		return false
	}
	ch, err := auth.ChooseChallenge(res.Header.Values("WWW-Authenticate"))
	if err != nil {
		c.log.Warn("cannot answer the server's authentication challenge", "err", err)
		return false
	}
	first := c.digest == nil
	c.digest, c.nc = &ch, 0
	return first || ch.Stale
}

func (c *Client) do(ctx context.Context, method, target string, h []rtsp.Field) (*rtsp.Response, error) {
	c.cseq++
	req := &rtsp.Request{Method: method, URL: target, Header: rtsp.Header{
		{Name: "CSeq", Value: strconv.Itoa(c.cseq)}, {Name: "User-Agent", Value: c.opts.UserAgent}}}
	if c.session != "" {
		req.Header.Add("Session", c.session)
	}
	if c.digest != nil {
		c.nc++
		pass, _ := c.creds.Password()
		req.Header.Add("Authorization", c.digest.Authorization(c.creds.Username(), pass, method, target, c.nc, cnonce()))
	}
	req.Header = append(req.Header, h...)
	if err := c.write(req.AppendTo(nil)); err != nil {
		return nil, fmt.Errorf("rtspclient: %s: %w", method, err)
	}
	res, err := c.wait(ctx, method, strconv.Itoa(c.cseq))
	if err != nil {
		return nil, err
	}
	if res.Status != rtsp.StatusOK {
		return res, &StatusError{Method: method, Status: res.Status, Reason: res.Reason, Header: res.Header}
	}
	if v := res.Header.Get("Session"); v != "" {
		if sh, err := rtsp.ParseSession(v); err == nil {
			c.session = sh.ID
			if sh.Timeout > 0 {
				c.timeout = time.Duration(sh.Timeout) * time.Second
			}
		}
	}
	return res, nil
}

// write sends b whole, never in the middle of another write.
func (c *Client) write(b []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.conn.SetWriteDeadline(time.Now().Add(c.opts.Timeout))
	_, err := c.conn.Write(b)
	return err
}

// WriteInterleaved sends data on an interleaved channel of the control
// connection (RTCP of a TCP session), between requests, never inside one.
func (c *Client) WriteInterleaved(channel uint8, data []byte) error {
	return c.write(append(rtsp.AppendInterleavedHeader(nil, channel, len(data)), data...))
}

// wait returns the response whose CSeq matches, discarding late answers
// to requests that already timed out.
func (c *Client) wait(ctx context.Context, method, cseq string) (*rtsp.Response, error) {
	timer := time.NewTimer(c.opts.Timeout)
	defer timer.Stop()
	for {
		select {
		case r := <-c.replies:
			if r.err != nil {
				return nil, fmt.Errorf("rtspclient: %s: connection: %w", method, r.err)
			}
			if got := r.res.Header.Get("CSeq"); got != "" && got != cseq {
				continue
			}
			return r.res, nil
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-timer.C:
			return nil, fmt.Errorf("rtspclient: %s: no response within %v", method, c.opts.Timeout)
		}
	}
}

// Session is the current session id, or "".
func (c *Client) Session() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.session
}

// KeepAlive sends GET_PARAMETER (or OPTIONS, when the server does not
// list it) at half the session timeout until ctx ends.
func (c *Client) KeepAlive(ctx context.Context) {
	c.mu.Lock()
	every, method := c.timeout/2, rtsp.GetParameter
	if c.public != "" && !strings.Contains(c.public, rtsp.GetParameter) {
		method = rtsp.Options
	}
	c.mu.Unlock()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-c.done:
			return
		case <-t.C:
			if _, err := c.Do(ctx, method, c.url.String()); err != nil && ctx.Err() == nil {
				c.log.Warn("keep-alive failed", "err", err)
			}
		}
	}
}

// Teardown ends the session (best effort) and Close the connection.
func (c *Client) Teardown(ctx context.Context) error {
	if c.Session() == "" {
		return nil
	}
	_, err := c.Do(ctx, rtsp.Teardown, c.url.String())
	return err
}

// Close closes the connection and waits for the reader.
func (c *Client) Close() error {
	err := c.conn.Close()
	c.wg.Wait()
	if errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}

func cnonce() string {
	b := make([]byte, 12)
	rand.Read(b)
	return hex.EncodeToString(b)
}
