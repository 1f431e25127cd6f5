package rtspserver

import (
	"io"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"flowcam/stream/format/rtsp"
)

func TestSessionLimits(t *testing.T) {
	cases := []struct {
		name  string
		guard Guard
		ok    int // SETUPs that succeed before the 453
	}{
		{"per address", Guard{MaxSessionsPerIP: 2}, 2},
		{"overall", Guard{MaxSessions: 3}, 3},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := start(t, Config{Guard: tc.guard})
			c := f.dial(t)
			for i := 0; ; i++ {
				_, _, res, err := c.Setup(f.url+"/trackID=0", "RTP/AVP/TCP;unicast;interleaved="+itoa(2*i)+"-"+itoa(2*i+1))
				if i < tc.ok {
					if err != nil {
						t.Fatalf("SETUP %d: %v", i, err)
					}
					continue
				}
				if res == nil || res.Status != rtsp.StatusNotEnoughBandwidth {
					t.Fatalf("SETUP %d past the limit: %v %v, want 453", i, res, err)
				}
				break
			}
		})
	}
}

func TestConnectionLimitPerAddress(t *testing.T) {
	f := start(t, Config{Guard: Guard{MaxConnsPerIP: 3}})
	for i := 0; i < 3; i++ {
		if res, err := f.dial(t).Do(rtsp.Options, "*"); err != nil || res.Status != 200 {
			t.Fatalf("connection %d: %v %v", i, res, err)
		}
	}
	nc, err := net.Dial("tcp", f.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := nc.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("a fourth connection from the same address: %v, want it closed", err)
	}
}

func TestRequestRate(t *testing.T) {
	f := start(t, Config{Guard: Guard{RequestsPerSecond: 5}})
	c := f.dial(t)
	statuses := map[int]int{}
	var closed bool
	for i := 0; i < 40 && !closed; i++ {
		res, err := c.Do(rtsp.Options, "*")
		switch {
		case err != nil:
			closed = true
		case res.Status == rtsp.StatusServiceUnavailable && res.Header.Get("Retry-After") == "":
			t.Fatal("503 without Retry-After")
		default:
			statuses[res.Status]++
		}
	}
	if statuses[200] < 10 || statuses[503] == 0 || !closed {
		t.Fatalf("statuses %v, closed %v: want the burst served, then 503s, then the connection cut", statuses, closed)
	}
	if res, err := f.dial(t).Do(rtsp.Options, "*"); err != nil || res.Status != 200 {
		t.Fatalf("another connection is not limited: %v %v", res, err)
	}
}

// TestSlowRequestsAndIdleConnectionsAreClosed: a request dribbled a byte at
// a time (slowloris) and a connection that says nothing are both cut.
func TestSlowRequestsAndIdleConnectionsAreClosed(t *testing.T) {
	f := start(t, Config{Guard: Guard{RequestTimeout: 300 * time.Millisecond, IdleTimeout: 600 * time.Millisecond}})
	slow, err := net.Dial("tcp", f.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	req := "OPTIONS * RTSP/1.0\r\nCSeq: 1\r\nX-Pad: " + strings.Repeat("a", 200) + "\r\n\r\n"
	cut := false
	for i := 0; i < len(req) && !cut; i++ {
		if _, err := slow.Write([]byte{req[i]}); err != nil {
			cut = true
		}
		// Pacing, not synchronisation: dribbling is the attack. The whole
		// request would take 4.6 s, far past the 300 ms request timeout.
		time.Sleep(20 * time.Millisecond)
	}
	if !cut {
		t.Fatal("a request dribbled over 4.6 s was accepted whole")
	}
	idle, err := net.Dial("tcp", f.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	idle.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := idle.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("an idle connection: %v, want it closed", err)
	}
}

func TestUDPPortRange(t *testing.T) {
	f := start(t, Config{Guard: Guard{UDPPorts: [2]int{41000, 41005}}})
	c := f.dial(t)
	for i := 0; ; i++ {
		u := newUDPClient(t)
		_, tr, res, err := c.Setup(f.url+"/trackID=0", u.Transport())
		if err != nil {
			if res == nil || res.Status != rtsp.StatusServiceUnavailable || i != 3 {
				t.Fatalf("SETUP %d: %v %v; want three pairs in 41000-41005, then 503", i, res, err)
			}
			return
		}
		if p := tr.ServerPorts; p[0] < 41000 || p[1] > 41005 || p[0]%2 != 0 {
			t.Fatalf("server ports %v outside 41000-41005", p)
		}
	}
}

func itoa(n int) string { return strconv.Itoa(n) }
