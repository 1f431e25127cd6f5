// Package rawrtsp is a deliberately literal RTSP client for tests: it sends
// exactly the request it is given and returns exactly the response, so tests
// can probe status codes, malformed input and port handling that a
// well-behaved client library would never produce.
package rawrtsp

import (
	"fmt"
	"net"
	"strconv"
	"time"

	"flowcam/stream/format/rtsp"
)

// Client is one RTSP control connection.
type Client struct {
	Conn   net.Conn
	r      *rtsp.Reader
	cseq   int
	Frames []rtsp.Interleaved // interleaved frames seen while waiting for responses
	Keep   bool               // keep interleaved frames in Frames
}

// Dial connects to addr.
func Dial(addr string) (*Client, error) {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return nil, err
	}
	return &Client{Conn: c, r: rtsp.NewReader(c, rtsp.Limits{MaxBody: 1 << 20})}, nil
}

// DialFrom connects to addr from the local IP local (such as 127.0.0.7),
// so one test can act as several hosts on loopback, each with its own
// per-address limits.
func DialFrom(addr, local string) (*Client, error) {
	d := net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	return &Client{Conn: c, r: rtsp.NewReader(c, rtsp.Limits{MaxBody: 1 << 20})}, nil
}

// Close closes the connection.
func (c *Client) Close() error { return c.Conn.Close() }

// Do sends a request with the next CSeq and waits for its response.
func (c *Client) Do(method, url string, h ...rtsp.Field) (*rtsp.Response, error) {
	c.cseq++
	req := &rtsp.Request{Method: method, URL: url, Header: append(rtsp.Header{{Name: "CSeq", Value: strconv.Itoa(c.cseq)}}, h...)}
	if _, err := c.Conn.Write(req.AppendTo(nil)); err != nil {
		return nil, err
	}
	return c.Read()
}

// Send writes raw bytes, for malformed requests.
func (c *Client) Send(raw string) error {
	_, err := c.Conn.Write([]byte(raw))
	return err
}

// Read waits up to 5 s for the next response, skipping interleaved frames.
func (c *Client) Read() (*rtsp.Response, error) {
	c.Conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	defer c.Conn.SetReadDeadline(time.Time{})
	for {
		res, f, err := c.r.ReadResponse()
		if err != nil {
			return nil, err
		}
		if f != nil {
			if c.Keep {
				c.Frames = append(c.Frames, rtsp.Interleaved{Channel: f.Channel, Data: append([]byte(nil), f.Data...)})
			}
			continue
		}
		return res, nil
	}
}

// ReadFrame waits for the next interleaved frame.
func (c *Client) ReadFrame(timeout time.Duration) (*rtsp.Interleaved, error) {
	c.Conn.SetReadDeadline(time.Now().Add(timeout))
	defer c.Conn.SetReadDeadline(time.Time{})
	for {
		_, f, err := c.r.ReadResponse()
		if err != nil {
			return nil, err
		}
		if f != nil {
			return &rtsp.Interleaved{Channel: f.Channel, Data: append([]byte(nil), f.Data...)}, nil
		}
	}
}

// Setup sends SETUP with the given Transport and returns the session id
// and the server's Transport reply.
func (c *Client) Setup(url, transport string) (string, rtsp.Transport, *rtsp.Response, error) {
	res, err := c.Do(rtsp.Setup, url, rtsp.Field{Name: "Transport", Value: transport})
	if err != nil {
		return "", rtsp.Transport{}, nil, err
	}
	if res.Status != rtsp.StatusOK {
		return "", rtsp.Transport{}, res, fmt.Errorf("SETUP: %d %s", res.Status, res.Reason)
	}
	sh, err := rtsp.ParseSession(res.Header.Get("Session"))
	if err != nil {
		return "", rtsp.Transport{}, res, err
	}
	trs, err := rtsp.ParseTransports(res.Header.Get("Transport"))
	if err != nil {
		return "", rtsp.Transport{}, res, err
	}
	return sh.ID, trs[0], res, nil
}
