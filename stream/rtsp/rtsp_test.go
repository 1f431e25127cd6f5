package rtsp

import (
	"bytes"
	"errors"
	"io"
	"os"
	"reflect"
	"strings"
	"testing"
)

func TestReadRequest(t *testing.T) {
	cases := []struct {
		name   string
		raw    string
		method string
		url    string
		header Header
		body   string
		status int  // expected ProtocolError status, 0 for success
		fatal  bool // connection cannot continue
	}{
		{name: "options", raw: "OPTIONS * RTSP/1.0\r\nCSeq: 1\r\n\r\n",
			method: "OPTIONS", url: "*", header: Header{{"CSeq", "1"}}},
		{name: "leading blank lines and LF only", raw: "\r\n\nDESCRIBE rtsp://h/cam RTSP/1.0\nCSeq: 2\nAccept: application/sdp\n\n",
			method: "DESCRIBE", url: "rtsp://h/cam", header: Header{{"CSeq", "2"}, {"Accept", "application/sdp"}}},
		{name: "body", raw: "SET_PARAMETER rtsp://h/cam RTSP/1.0\r\nCSeq: 3\r\nContent-Length: 5\r\n\r\nhello",
			method: "SET_PARAMETER", url: "rtsp://h/cam", header: Header{{"CSeq", "3"}, {"Content-Length", "5"}}, body: "hello"},
		{name: "folded header", raw: "PLAY rtsp://h/cam RTSP/1.0\r\nCSeq: 4\r\nX-Long: a\r\n b\r\n\r\n",
			method: "PLAY", url: "rtsp://h/cam", header: Header{{"CSeq", "4"}, {"X-Long", "a b"}}},
		{name: "garbage line", raw: "hello\r\n\r\n", status: 400},
		{name: "http", raw: "GET / HTTP/1.1\r\nHost: x\r\n\r\n", status: 400},
		{name: "rtsp 2.0", raw: "OPTIONS * RTSP/2.0\r\nCSeq: 1\r\n\r\n", status: 505,
			method: "OPTIONS", url: "*", header: Header{{"CSeq", "1"}}},
		{name: "header without colon", raw: "OPTIONS * RTSP/1.0\r\nCSeq 1\r\n\r\n", status: 400},
		{name: "bad content length", raw: "OPTIONS * RTSP/1.0\r\nContent-Length: x\r\n\r\n", status: 400, fatal: true},
		{name: "huge body", raw: "OPTIONS * RTSP/1.0\r\nContent-Length: 9999999\r\n\r\n", status: 413, fatal: true},
		{name: "huge line", raw: "OPTIONS rtsp://" + strings.Repeat("a", 5000) + " RTSP/1.0\r\n\r\n", status: 414, fatal: true},
		{name: "huge header line", raw: "OPTIONS * RTSP/1.0\r\nX: " + strings.Repeat("a", 5000) + "\r\n\r\n", status: 400, fatal: true},
		{name: "too many headers", raw: "OPTIONS * RTSP/1.0\r\n" + strings.Repeat("X: y\r\n", 100) + "\r\n", status: 400, fatal: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := NewReader(strings.NewReader(c.raw), DefaultLimits)
			req, frame, err := r.ReadRequest()
			if frame != nil {
				t.Fatal("request read as an interleaved frame")
			}
			var pe *ProtocolError
			if c.status != 0 {
				if !errors.As(err, &pe) || pe.Status != c.status || pe.Fatal != c.fatal {
					t.Fatalf("err %v, want status %d fatal %v", err, c.status, c.fatal)
				}
				if c.method == "" {
					return
				}
			} else if err != nil {
				t.Fatal(err)
			}
			if req.Method != c.method || req.URL != c.url || !reflect.DeepEqual(req.Header, c.header) || string(req.Body) != c.body {
				t.Fatalf("got %+v", req)
			}
			if c.status == 0 {
				// The encoder must reproduce what the decoder read.
				back, _, err := NewReader(bytes.NewReader(req.AppendTo(nil)), DefaultLimits).ReadRequest()
				if err != nil || back.Method != req.Method || back.URL != req.URL || string(back.Body) != c.body {
					t.Fatalf("round trip: %+v %v", back, err)
				}
			}
		})
	}
}

func TestReadInterleavedBetweenRequests(t *testing.T) {
	raw := "OPTIONS * RTSP/1.0\r\nCSeq: 1\r\n\r\n" + "$\x01\x00\x03abc" + "OPTIONS * RTSP/1.0\r\nCSeq: 2\r\n\r\n"
	r := NewReader(strings.NewReader(raw), DefaultLimits)
	if req, _, err := r.ReadRequest(); err != nil || req.CSeq() != "1" {
		t.Fatal(req, err)
	}
	if _, f, err := r.ReadRequest(); err != nil || f == nil || f.Channel != 1 || string(f.Data) != "abc" {
		t.Fatalf("frame %+v err %v", f, err)
	}
	if req, _, err := r.ReadRequest(); err != nil || req.CSeq() != "2" {
		t.Fatal(req, err)
	}
	if _, _, err := r.ReadRequest(); err != io.EOF {
		t.Fatalf("at end: %v", err)
	}
}

func TestNonFatalErrorKeepsFraming(t *testing.T) {
	raw := "BROKEN LINE\r\nCSeq: 9\r\n\r\nOPTIONS * RTSP/1.0\r\nCSeq: 10\r\n\r\n"
	r := NewReader(strings.NewReader(raw), DefaultLimits)
	req, _, err := r.ReadRequest()
	var pe *ProtocolError
	if !errors.As(err, &pe) || pe.Fatal || req.CSeq() != "9" {
		t.Fatalf("first: %v %+v", err, req)
	}
	if req, _, err := r.ReadRequest(); err != nil || req.CSeq() != "10" {
		t.Fatalf("next request after an error: %v", err)
	}
}

func TestResponseGolden(t *testing.T) {
	res := &Response{Status: StatusOK, Header: Header{
		{"CSeq", "3"},
		{"Session", SessionHeader{ID: "0123abcd", Timeout: 60}.String()},
		{"Transport", Transport{Protocol: "RTP/AVP", Lower: LowerUDP, ClientPorts: [2]int{5000, 5001},
			ServerPorts: [2]int{6970, 6971}, SSRC: 0xDEADBEEF, HasSSRC: true, Mode: "play"}.String()},
		{"RTP-Info", RTPInfo{URL: "rtsp://h:8554/cam/trackID=0", Seq: 4711, RTPTime: 123456}.String()},
		{"X-Evil", "a\r\nInjected: yes"},
	}, Body: []byte("v=0\r\n")}
	got := res.AppendTo(nil)
	want, err := os.ReadFile("testdata/response.golden")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("got\n%q\nwant\n%q", got, want)
	}
	back, _, err := NewReader(bytes.NewReader(got), DefaultLimits).ReadResponse()
	if err != nil || back.Status != 200 || back.Header.Get("Injected") != "" || string(back.Body) != "v=0\r\n" {
		t.Fatalf("read back %+v %v", back, err)
	}
}

func TestTransports(t *testing.T) {
	cases := []struct {
		in   string
		want []Transport
		out  string // canonical String() of the first alternative
	}{
		{"RTP/AVP;unicast;client_port=5000-5001",
			[]Transport{{Protocol: "RTP/AVP", Lower: LowerUDP, ClientPorts: [2]int{5000, 5001}}},
			"RTP/AVP;unicast;client_port=5000-5001"},
		{"RTP/AVP/UDP;unicast;client_port=5000;mode=\"PLAY\"",
			[]Transport{{Protocol: "RTP/AVP", Lower: LowerUDP, ClientPorts: [2]int{5000, 5001}, Mode: "play"}},
			"RTP/AVP;unicast;client_port=5000-5001;mode=play"},
		{"RTP/AVP/TCP;unicast;interleaved=0-1",
			[]Transport{{Protocol: "RTP/AVP", Lower: LowerTCP, Interleaved: [2]int{0, 1}, HasInterl: true}},
			"RTP/AVP/TCP;unicast;interleaved=0-1"},
		{"RTP/AVP;multicast;ttl=3, RTP/AVP/TCP;interleaved=2-3", []Transport{
			{Protocol: "RTP/AVP", Lower: LowerUDP, Multicast: true},
			{Protocol: "RTP/AVP", Lower: LowerTCP, Interleaved: [2]int{2, 3}, HasInterl: true}},
			"RTP/AVP;multicast"},
		{"RTP/SAVP;unicast;client_port=1-2;ssrc=0000ABCD",
			[]Transport{{Protocol: "RTP/SAVP", Lower: LowerUDP, ClientPorts: [2]int{1, 2}, SSRC: 0xABCD, HasSSRC: true}},
			"RTP/SAVP;unicast;client_port=1-2;ssrc=0000ABCD"},
	}
	for _, c := range cases {
		got, err := ParseTransports(c.in)
		if err != nil || !reflect.DeepEqual(got, c.want) {
			t.Errorf("%q: got %+v err %v", c.in, got, err)
			continue
		}
		if s := got[0].String(); s != c.out {
			t.Errorf("%q: String %q, want %q", c.in, s, c.out)
		}
		if again, err := ParseTransports(got[0].String()); err != nil || !reflect.DeepEqual(again[0], got[0]) {
			t.Errorf("%q: does not survive a round trip: %+v", c.in, again)
		}
	}
	for _, bad := range []string{"", "RTP", ";;", "RTP/AVP;client_port=0-1", "RTP/AVP;client_port=7-3",
		"RTP/AVP;client_port=70000", "RTP/AVP/TCP;interleaved=255-256", "RTP/AVP;ssrc=xyz"} {
		if _, err := ParseTransports(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestSessionHeader(t *testing.T) {
	s, err := ParseSession("ABC123;timeout=30")
	if err != nil || s.ID != "ABC123" || s.Timeout != 30 || s.String() != "ABC123;timeout=30" {
		t.Fatalf("%+v %v", s, err)
	}
	for _, bad := range []string{"", ";timeout=3", "a b", "x;timeout=-1", "x;timeout=y"} {
		if _, err := ParseSession(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestRTPInfo(t *testing.T) {
	in := RTPInfo{URL: "rtsp://h/cam/trackID=0", Seq: 65535, RTPTime: 4294967295}
	got, err := ParseRTPInfo(in.String())
	if err != nil || len(got) != 1 || got[0] != in {
		t.Fatalf("%+v %v", got, err)
	}
}

func FuzzReadRequest(f *testing.F) {
	f.Add([]byte("OPTIONS * RTSP/1.0\r\nCSeq: 1\r\n\r\n"))
	f.Add([]byte("SETUP rtsp://h/cam/trackID=0 RTSP/1.0\r\nCSeq: 3\r\nTransport: RTP/AVP;unicast;client_port=1-2\r\n\r\n"))
	f.Add([]byte("$\x00\x00\x04abcdPLAY x RTSP/1.0\r\nContent-Length: 2\r\n\r\nhi"))
	f.Fuzz(func(t *testing.T, data []byte) {
		r := NewReader(bytes.NewReader(data), Limits{MaxLine: 256, MaxHeaderBytes: 1024, MaxHeaders: 8, MaxBody: 512})
		for i := 0; i < 8; i++ {
			req, frame, err := r.ReadRequest()
			var pe *ProtocolError
			if errors.As(err, &pe) && (pe.Status < 400 || pe.Status > 599) {
				t.Fatalf("error status %d", pe.Status)
			}
			if err == nil && req != nil && len(req.Body) > 512 {
				t.Fatal("body over the limit")
			}
			if err != nil && (!errors.As(err, &pe) || pe.Fatal) || (frame == nil && req == nil) {
				return
			}
		}
	})
}

func FuzzParseTransports(f *testing.F) {
	f.Add("RTP/AVP;unicast;client_port=5000-5001")
	f.Add("RTP/AVP/TCP;unicast;interleaved=0-1;ssrc=12345678;mode=play")
	f.Fuzz(func(t *testing.T, s string) {
		ts, err := ParseTransports(s)
		if err != nil {
			return
		}
		for _, tr := range ts {
			// What we accept we must be able to write and read back.
			if _, err := ParseTransports(tr.String()); err != nil {
				t.Fatalf("%q -> %q: %v", s, tr.String(), err)
			}
		}
	})
}

func FuzzParseSession(f *testing.F) {
	f.Add("abc;timeout=60")
	f.Fuzz(func(t *testing.T, s string) {
		h, err := ParseSession(s)
		if err == nil && h.ID == "" {
			t.Fatal("empty id accepted")
		}
	})
}
