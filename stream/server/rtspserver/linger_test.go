package rtspserver

import (
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"flowcam/stream/format/rtsp"
)

// TestRefusalSurvivesUnreadInput: when the server closes a connection
// after a refusal while the client's input is still unread (a body over
// the limit, a pipelined flood), the client must still read the refusal.
// Closing with unread input makes Linux send a reset, and a reset makes
// the client's kernel drop the response queued for it.
func TestRefusalSurvivesUnreadInput(t *testing.T) {
	flood := strings.Repeat("OPTIONS * RTSP/1.0\r\nCSeq: 1\r\n\r\n", 400)
	cases := []struct {
		name   string
		guard  Guard
		data   string
		status int
	}{
		{"body over the limit", Guard{}, "SET_PARAMETER * RTSP/1.0\r\nCSeq: 1\r\nContent-Length: 1000000\r\n\r\n" + strings.Repeat("b", 1000000), 413},
		{"request line over the limit", Guard{}, "OPTIONS rtsp://h/" + strings.Repeat("x", 100000) + " RTSP/1.0\r\nCSeq: 1\r\n\r\n", 414},
		{"request flood", Guard{RequestsPerSecond: 50}, flood, 503},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := start(t, Config{Guard: tc.guard})
			ln, closed := closeNotifying(t)
			go f.srv.Serve(ln)
			nc, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer nc.Close()
			go nc.Write([]byte(tc.data))
			// Read only once the server has answered and closed its end, so
			// a reset it caused has reached us before the response is read.
			select {
			case <-closed:
			case <-time.After(time.Minute): // against a hang only
				t.Fatal("the server never closed the connection")
			}
			nc.SetReadDeadline(time.Now().Add(time.Minute))
			r := rtsp.NewReader(nc, rtsp.Limits{})
			var last *rtsp.Response
			for {
				res, _, err := r.ReadResponse()
				if err != nil {
					break
				}
				last = res
			}
			if last == nil || last.Status != tc.status || !strings.EqualFold(last.Header.Get("Connection"), "close") {
				t.Fatalf("last response %v, want %d with Connection: close", fmt.Sprint(last), tc.status)
			}
		})
	}
}

// closeNotifying returns a loopback listener whose connections report on
// closed when the server closes them.
func closeNotifying(t *testing.T) (net.Listener, <-chan struct{}) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := make(chan struct{}, 1)
	return &notifyListener{Listener: ln, closed: closed}, closed
}

type notifyListener struct {
	net.Listener
	closed chan struct{}
}

func (l *notifyListener) Accept() (net.Conn, error) {
	nc, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &notifyConn{TCPConn: nc.(*net.TCPConn), closed: l.closed}, nil
}

// notifyConn is a server-side connection that says when it is closed.
// Embedding *net.TCPConn keeps CloseWrite, which the server's gentle close
// needs.
type notifyConn struct {
	*net.TCPConn
	once   sync.Once
	closed chan struct{}
}

func (c *notifyConn) Close() error {
	err := c.TCPConn.Close()
	c.once.Do(func() {
		select {
		case c.closed <- struct{}{}:
		default:
		}
	})
	return err
}
