package rtspserver

import (
	"fmt"
	"net"
	"strings"
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
			nc, err := net.Dial("tcp", f.addr)
			if err != nil {
				t.Fatal(err)
			}
			defer nc.Close()
			go nc.Write([]byte(tc.data))
			time.Sleep(200 * time.Millisecond) // the server has answered and closed by now
			nc.SetReadDeadline(time.Now().Add(5 * time.Second))
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
