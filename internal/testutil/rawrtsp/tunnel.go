package rawrtsp

import (
	"bufio"
	"encoding/base64"
	"fmt"
	"net"
	"net/http"
	"time"

	"flowcam/stream/format/rtsp"
)

// DialTunnel connects to addr as RTSP over HTTP does: a GET whose
// response carries the server's side, and a POST (sent once the GET is
// answered) carrying base64 requests, paired by cookie. It fails with the
// HTTP status when the GET is refused.
func DialTunnel(addr, path, cookie string) (*Client, error) {
	get, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(get, "GET %s HTTP/1.0\r\nx-sessioncookie: %s\r\nAccept: application/x-rtsp-tunnelled\r\n"+
		"Pragma: no-cache\r\nCache-Control: no-cache\r\n\r\n", path, cookie)
	br := bufio.NewReader(get)
	get.SetReadDeadline(time.Now().Add(5 * time.Second))
	res, err := http.ReadResponse(br, nil)
	get.SetReadDeadline(time.Time{})
	if err != nil {
		get.Close()
		return nil, err
	}
	if res.StatusCode != http.StatusOK {
		get.Close()
		return nil, fmt.Errorf("GET: %s", res.Status)
	}
	post, err := Post(addr, path, cookie)
	if err != nil {
		get.Close()
		return nil, err
	}
	tc := &tunnelConn{Conn: get, br: br, post: post}
	return &Client{Conn: tc, r: rtsp.NewReader(tc, rtsp.Limits{MaxBody: 1 << 20})}, nil
}

// Post opens a tunnel's POST half and sends its head.
func Post(addr, path, cookie string) (net.Conn, error) {
	post, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(post, "POST %s HTTP/1.0\r\nx-sessioncookie: %s\r\nContent-Type: application/x-rtsp-tunnelled\r\n"+
		"Pragma: no-cache\r\nCache-Control: no-cache\r\nContent-Length: 32767\r\nExpires: Sun, 9 Jan 1972 00:00:00 GMT\r\n\r\n", path, cookie)
	return post, nil
}

// tunnelConn reads the GET's stream and writes each request to the POST
// in base64, as clients do.
type tunnelConn struct {
	net.Conn
	br   *bufio.Reader
	post net.Conn
}

func (t *tunnelConn) Read(p []byte) (int, error) { return t.br.Read(p) }

func (t *tunnelConn) Write(p []byte) (int, error) {
	if _, err := t.post.Write([]byte(base64.StdEncoding.EncodeToString(p))); err != nil {
		return 0, err
	}
	return len(p), nil
}

// Post is the POST half, to close or write to directly.
func (c *Client) Post() net.Conn {
	if t, ok := c.Conn.(*tunnelConn); ok {
		return t.post
	}
	return nil
}

func (t *tunnelConn) Close() error {
	t.post.Close()
	return t.Conn.Close()
}
