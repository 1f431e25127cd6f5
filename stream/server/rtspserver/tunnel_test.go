package rtspserver

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"flowcam/internal/testutil/rawrtsp"
	"flowcam/stream/format/rtsp"
)

func TestBase64Reader(t *testing.T) {
	enc := base64.StdEncoding.EncodeToString
	for _, c := range []struct {
		name, in, want string
		bad            bool
	}{
		{"one request", enc([]byte("OPTIONS * RTSP/1.0\r\n\r\n")), "OPTIONS * RTSP/1.0\r\n\r\n", false},
		{"padding mid-stream", enc([]byte("ab")) + enc([]byte("cde")) + enc([]byte("f")), "abcdef", false},
		{"line breaks", "YW\r\nJj\nZA==\r\n", "abcd", false},
		{"not base64", "!!!!", "", true},
		{"empty", "", "", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := io.ReadAll(&base64Reader{r: iotest.OneByteReader(strings.NewReader(c.in))})
			if c.bad != (err != nil) || (!c.bad && string(got) != c.want) {
				t.Fatalf("got %q, %v; want %q (error: %v)", got, err, c.want, c.bad)
			}
		})
	}
}

// FuzzBase64Reader: whatever a POST body holds, decoding ends without a
// panic, and requests encoded one by one come back whole.
func FuzzBase64Reader(f *testing.F) {
	f.Add([]byte("DESCRIBE rtsp://h/cam RTSP/1.0\r\nCSeq: 2\r\n\r\n"), []byte("T1BU\r\n=="))
	f.Add([]byte{0, 1, 2}, []byte("===="))
	f.Fuzz(func(t *testing.T, req, junk []byte) {
		io.ReadAll(&base64Reader{r: bytes.NewReader(junk)})
		in := base64.StdEncoding.EncodeToString(req) + base64.StdEncoding.EncodeToString(junk)
		got, err := io.ReadAll(&base64Reader{r: strings.NewReader(in)})
		if err != nil || !bytes.Equal(got, append(append([]byte(nil), req...), junk...)) {
			t.Fatalf("got %q, %v", got, err)
		}
	})
}

// TestTunnelPlays: a tunnelled client describes, sets up interleaved
// and gets frames on its GET, with requests on its POST; a second POST
// after the first closes carries on.
func TestTunnelPlays(t *testing.T) {
	f := start(t, Config{})
	c, err := rawrtsp.DialTunnel(f.addr, "/cam", "Xk3uPq2aRrTt7yzAbCdEfG")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if res, err := c.Do(rtsp.Options, f.url); err != nil || res.Status != 200 {
		t.Fatalf("OPTIONS: %v %v", res, err)
	}
	if res, err := c.Do(rtsp.Describe, f.url, hdr("Accept", "application/sdp")); err != nil || res.Status != 200 {
		t.Fatalf("DESCRIBE: %v %v", res, err)
	}
	session, _, res, err := c.Setup(f.url+"/trackID=0", "RTP/AVP/TCP;unicast;interleaved=0-1")
	if err != nil || res.Status != 200 {
		t.Fatalf("SETUP: %v %v", res, err)
	}
	if res, err := c.Do(rtsp.Play, f.url, hdr("Session", session)); err != nil || res.Status != 200 {
		t.Fatalf("PLAY: %v %v", res, err)
	}
	for i := 0; i < 20; i++ {
		if _, err := c.ReadFrame(5 * time.Second); err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
	}
	// QuickTime's way: the POST closes after a request and a new one
	// with the same cookie follows.
	c.Post().Close()
	post, err := rawrtsp.Post(f.addr, "/cam", "Xk3uPq2aRrTt7yzAbCdEfG")
	if err != nil {
		t.Fatal(err)
	}
	defer post.Close()
	req := &rtsp.Request{Method: rtsp.GetParameter, URL: f.url, Header: rtsp.Header{hdr("CSeq", "9"), hdr("Session", session)}}
	post.Write([]byte(base64.StdEncoding.EncodeToString(req.AppendTo(nil))))
	if res, err := c.Read(); err != nil || res.Status != 200 {
		t.Fatalf("GET_PARAMETER on a second POST: %v %v", res, err)
	}
}

// httpStatus sends raw on a new connection and reads the HTTP answer.
func httpStatus(t *testing.T, nc net.Conn, raw string) int {
	t.Helper()
	nc.Write([]byte(raw))
	nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	res, err := http.ReadResponse(bufio.NewReader(nc), nil)
	if err != nil {
		t.Fatalf("%q: %v", raw, err)
	}
	return res.StatusCode
}

// TestTunnelRefusals: a POST without its GET, one from another address,
// a bad or reused cookie and a plain HTTP request are refused, and the
// server goes on serving.
func TestTunnelRefusals(t *testing.T) {
	f := start(t, Config{})
	get, err := rawrtsp.DialTunnel(f.addr, "/cam", "taken")
	if err != nil {
		t.Fatal(err)
	}
	defer get.Close()
	dialFrom := func(local string) net.Conn {
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}}
		nc, err := d.Dial("tcp", f.addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { nc.Close() })
		return nc
	}
	post := "POST /cam HTTP/1.0\r\nx-sessioncookie: %s\r\nContent-Type: application/x-rtsp-tunnelled\r\n\r\n"
	for _, c := range []struct {
		name, from, raw string
		want            int
	}{
		{"POST without its GET", "127.0.0.1", strings.Replace(post, "%s", "nobody", 1), 403},
		{"POST from another address", "127.0.0.2", strings.Replace(post, "%s", "taken", 1), 403},
		{"GET with no cookie", "127.0.0.1", "GET /cam HTTP/1.0\r\nAccept: application/x-rtsp-tunnelled\r\n\r\n", 400},
		{"GET with a cookie in use", "127.0.0.1", "GET /cam HTTP/1.0\r\nx-sessioncookie: taken\r\n\r\n", 400},
		{"cookie with spaces", "127.0.0.1", "GET /cam HTTP/1.0\r\nx-sessioncookie: a b\r\n\r\n", 400},
		{"plain HTTP", "127.0.0.1", "GET / HTTP/1.1\r\nHost: x\r\n\r\n", 400},
		{"huge head", "127.0.0.1", "GET / HTTP/1.1\r\nX-Pad: " + strings.Repeat("x", 100000) + "\r\n\r\n", 400},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := httpStatus(t, dialFrom(c.from), c.raw); got != c.want {
				t.Errorf("status %d, want %d", got, c.want)
			}
		})
	}
	if res, err := get.Do(rtsp.Options, f.url); err != nil || res.Status != 200 {
		t.Fatalf("the open tunnel after the refusals: %v %v", res, err)
	}
}

// TestTunnelOnHTTPPort: the same tunnel through an HTTP server that hands
// it over (the daemon's HTTP side), and the connections count against
// the RTSP server's limits.
func TestTunnelOnHTTPPort(t *testing.T) {
	f := start(t, Config{Guard: Guard{MaxConnsPerIP: 2}})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: f.srv.TunnelHandler()}
	go hs.Serve(ln)
	t.Cleanup(func() { hs.Close() })
	c, err := rawrtsp.DialTunnel(ln.Addr().String(), "/cam", "cookie-http-1")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if res, err := c.Do(rtsp.Describe, f.url); err != nil || res.Status != 200 {
		t.Fatalf("DESCRIBE through the HTTP port: %v %v", res, err)
	}
	session, _, res, err := c.Setup(f.url+"/trackID=0", "RTP/AVP/TCP;unicast;interleaved=0-1")
	if err != nil || res.Status != 200 {
		t.Fatalf("SETUP: %v %v", res, err)
	}
	if res, err := c.Do(rtsp.Play, f.url, hdr("Session", session)); err != nil || res.Status != 200 {
		t.Fatalf("PLAY: %v %v", res, err)
	}
	if _, err := c.ReadFrame(5 * time.Second); err != nil {
		t.Fatal(err)
	}
	// GET and POST are this address's two connections: a third tunnel's
	// GET is refused by the same limit plain RTSP has.
	if _, err := rawrtsp.DialTunnel(ln.Addr().String(), "/cam", "cookie-http-2"); err == nil {
		t.Error("a tunnel past max_connections_per_ip was let in")
	}
}
