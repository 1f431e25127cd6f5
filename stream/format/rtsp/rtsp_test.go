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
			{Protocol: "RTP/AVP", Lower: LowerUDP, Multicast: true, TTL: 3},
			{Protocol: "RTP/AVP", Lower: LowerTCP, Interleaved: [2]int{2, 3}, HasInterl: true}},
			"RTP/AVP;multicast;ttl=3"},
		{"RTP/AVP;multicast;destination=239.255.42.7;port=31000-31001;ttl=16", []Transport{
			{Protocol: "RTP/AVP", Lower: LowerUDP, Multicast: true, Destination: "239.255.42.7", Ports: [2]int{31000, 31001}, TTL: 16}},
			"RTP/AVP;multicast;destination=239.255.42.7;port=31000-31001;ttl=16"},
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

// TestFoldedHeaderBlankContinuation is the regression test for a
// FuzzReadRequest finding: a blank continuation line left a value of " ",
// which did not survive being written and read again.
func TestFoldedHeaderBlankContinuation(t *testing.T) {
	for raw, want := range map[string]string{
		"OPTIONS * RTSP/1.0\nX:\n \n\n":             "",
		"OPTIONS * RTSP/1.0\r\nX: a\r\n \t\r\n\r\n": "a",
		"OPTIONS * RTSP/1.0\r\nX:\r\n b\r\n\r\n":    "b",
		"OPTIONS * RTSP/1.0\r\nX: a\r\n b\r\n\r\n":  "a b",
	} {
		req, _, err := NewReader(strings.NewReader(raw), Limits{}).ReadRequest()
		if err != nil || req.Header.Get("X") != want {
			t.Errorf("%q: %+v %v, want X %q", raw, req, err, want)
			continue
		}
		checkRequestRoundTrip(t, req)
	}
}

// Requests as real players send them: ffmpeg (Lavf), GStreamer's rtspsrc
// and VLC (live555), over UDP and TCP.
var playerRequests = []string{
	"OPTIONS rtsp://127.0.0.1:8554/cam RTSP/1.0\r\nCSeq: 1\r\nUser-Agent: Lavf60.16.100\r\n\r\n",
	"DESCRIBE rtsp://127.0.0.1:8554/cam RTSP/1.0\r\nAccept: application/sdp\r\nCSeq: 2\r\nUser-Agent: Lavf60.16.100\r\n\r\n",
	"SETUP rtsp://127.0.0.1:8554/cam/trackID=0 RTSP/1.0\r\nTransport: RTP/AVP/UDP;unicast;client_port=20000-20001\r\nCSeq: 3\r\nUser-Agent: Lavf60.16.100\r\n\r\n",
	"SETUP rtsp://127.0.0.1:8554/cam/trackID=0 RTSP/1.0\r\nTransport: RTP/AVP/TCP;unicast;interleaved=0-1\r\nCSeq: 3\r\nUser-Agent: Lavf60.16.100\r\n\r\n",
	"PLAY rtsp://127.0.0.1:8554/cam/ RTSP/1.0\r\nRange: npt=0.000-\r\nCSeq: 4\r\nUser-Agent: Lavf60.16.100\r\nSession: 4f2a9c0d11e3b5a7\r\n\r\n",
	"TEARDOWN rtsp://127.0.0.1:8554/cam/ RTSP/1.0\r\nCSeq: 5\r\nUser-Agent: Lavf60.16.100\r\nSession: 4f2a9c0d11e3b5a7\r\n\r\n",
	"OPTIONS rtsp://127.0.0.1:8554/cam RTSP/1.0\r\nCSeq: 1\r\nUser-Agent: GStreamer/1.22.0\r\n\r\n",
	"DESCRIBE rtsp://127.0.0.1:8554/cam RTSP/1.0\r\nCSeq: 2\r\nUser-Agent: GStreamer/1.22.0\r\nAccept: application/sdp\r\n\r\n",
	"SETUP rtsp://127.0.0.1:8554/cam/trackID=0 RTSP/1.0\r\nCSeq: 3\r\nUser-Agent: GStreamer/1.22.0\r\nTransport: RTP/AVP;unicast;client_port=38912-38913\r\n\r\n",
	"PLAY rtsp://127.0.0.1:8554/cam/ RTSP/1.0\r\nCSeq: 4\r\nUser-Agent: GStreamer/1.22.0\r\nRange: npt=0-\r\nSession: 4f2a9c0d11e3b5a7\r\n\r\n",
	"OPTIONS rtsp://192.168.1.20:8554/cam RTSP/1.0\r\nCSeq: 2\r\nUser-Agent: LibVLC/3.0.18 (LIVE555 Streaming Media v2022.02.07)\r\n\r\n",
	"SETUP rtsp://192.168.1.20:8554/cam/trackID=0 RTSP/1.0\r\nCSeq: 4\r\nUser-Agent: LibVLC/3.0.18 (LIVE555 Streaming Media v2022.02.07)\r\nTransport: RTP/AVP;unicast;client_port=54070-54071\r\n\r\n",
	"PLAY rtsp://192.168.1.20:8554/cam/ RTSP/1.0\r\nCSeq: 5\r\nUser-Agent: LibVLC/3.0.18 (LIVE555 Streaming Media v2022.02.07)\r\nSession: 4f2a9c0d11e3b5a7\r\nRange: npt=0.000-\r\n\r\n",
	"GET_PARAMETER rtsp://192.168.1.20:8554/cam/ RTSP/1.0\r\nCSeq: 6\r\nUser-Agent: LibVLC/3.0.18 (LIVE555 Streaming Media v2022.02.07)\r\nSession: 4f2a9c0d11e3b5a7\r\n\r\n",
	"DESCRIBE rtsp://h/cam RTSP/1.0\r\nCSeq: 3\r\nAuthorization: Digest username=\"admin\", realm=\"flowcam\", nonce=\"abc\", uri=\"rtsp://h/cam\", response=\"0123456789abcdef0123456789abcdef\"\r\n\r\n",
	"SETUP rtsp://h/cam/trackID=0 RTSP/1.0\r\nCSeq: 3\r\nRequire: com.flowcam.multiflow\r\nMultiflow: flows=2;mode=stripe\r\nTransport: RTP/AVP;unicast;client_port=5000-5001\r\n\r\n",
}

func FuzzReadRequest(f *testing.F) {
	f.Add([]byte("OPTIONS * RTSP/1.0\r\nCSeq: 1\r\n\r\n"))
	f.Add([]byte("SETUP rtsp://h/cam/trackID=0 RTSP/1.0\r\nCSeq: 3\r\nTransport: RTP/AVP;unicast;client_port=1-2\r\n\r\n"))
	f.Add([]byte("$\x00\x00\x04abcdPLAY x RTSP/1.0\r\nContent-Length: 2\r\n\r\nhi"))
	for _, r := range playerRequests {
		f.Add([]byte(r))
	}
	f.Add([]byte(strings.Join(playerRequests[:6], "")))
	limits := Limits{MaxLine: 256, MaxHeaderBytes: 1024, MaxHeaders: 8, MaxBody: 512}
	f.Fuzz(func(t *testing.T, data []byte) {
		r := NewReader(bytes.NewReader(data), limits)
		for i := 0; i < 8; i++ {
			req, frame, err := r.ReadRequest()
			var pe *ProtocolError
			if errors.As(err, &pe) && (pe.Status < 400 || pe.Status > 599) {
				t.Fatalf("error status %d", pe.Status)
			}
			if err == nil && req != nil {
				if len(req.Body) > limits.MaxBody || len(req.Header) > limits.MaxHeaders || len(req.URL) > limits.MaxLine {
					t.Fatalf("request over the limits: %d headers, body %d, URL %d", len(req.Header), len(req.Body), len(req.URL))
				}
				checkRequestRoundTrip(t, req)
			}
			if err != nil && (!errors.As(err, &pe) || pe.Fatal) || (frame == nil && req == nil) {
				return
			}
		}
	})
}

// checkRequestRoundTrip: a request we accepted, written out again, reads
// back the same (Content-Length aside, which AppendTo derives).
func checkRequestRoundTrip(t *testing.T, req *Request) {
	t.Helper()
	wire := req.AppendTo(nil)
	back, frame, err := NewReader(bytes.NewReader(wire), Limits{MaxLine: 1 << 16, MaxHeaderBytes: 1 << 20, MaxHeaders: 1000, MaxBody: 1 << 20}).ReadRequest()
	if err != nil || frame != nil || back == nil {
		t.Fatalf("%q written as %q does not read back: %v", req.Method, wire, err)
	}
	// A bare CR inside a value is accepted but written as a space
	// (sanitize), so no value can ever break a line on the way out.
	strip := func(h Header) Header {
		var out Header
		for _, f := range h {
			if !strings.EqualFold(f.Name, "Content-Length") {
				out = append(out, Field{Name: f.Name, Value: sanitize(f.Value)})
			}
		}
		return out
	}
	if back.Method != req.Method || back.URL != req.URL || !bytes.Equal(back.Body, req.Body) ||
		!reflect.DeepEqual(strip(back.Header), strip(req.Header)) {
		t.Fatalf("round trip changed the request:\n%+v\n%+v\nwire %q", req, back, wire)
	}
}

// TestTransportStringKeepsLower is the regression test for a FuzzParseTransports
// finding: an unknown lower transport ("RTP/AVP/SCTP") was written back
// without it, which reads as UDP.
func TestTransportStringKeepsLower(t *testing.T) {
	for _, in := range []string{"RTP/AVP/SCTP;unicast", "RTP/AVP;multicast;destination=239.255.42.1;port=31000-31001;ttl=16", "RTP/AVP/TCP;unicast;interleaved=0-1", "RTP/AVP;unicast;client_port=5000-5001"} {
		ts, err := ParseTransports(in)
		if err != nil {
			t.Fatal(err)
		}
		back, err := ParseTransports(ts[0].String())
		if err != nil || back[0] != ts[0] {
			t.Errorf("%q -> %q -> %+v %v", in, ts[0].String(), back, err)
		}
	}
	if got := (Transport{Protocol: "RTP/AVP"}).String(); got != "RTP/AVP;unicast" {
		t.Errorf("zero lower transport written as %q", got)
	}
}

func FuzzParseTransports(f *testing.F) {
	f.Add("RTP/AVP;unicast;client_port=5000-5001")
	f.Add("RTP/AVP/TCP;unicast;interleaved=0-1;ssrc=12345678;mode=play")
	for _, s := range []string{
		"RTP/AVP/UDP;unicast;client_port=20000-20001",                               // ffmpeg
		"RTP/AVP/TCP;unicast;interleaved=0-1",                                       // ffmpeg -rtsp_transport tcp
		"RTP/AVP;unicast;client_port=38912-38913",                                   // GStreamer, VLC
		"RTP/AVP;unicast;client_port=5000-5001,RTP/AVP/TCP;unicast;interleaved=0-1", // alternatives
		"RTP/AVP;multicast;destination=224.2.0.1;ttl=16;port=5000-5001",             // multicast
		"RTP/AVP;unicast;client_port=5000-5001;server_port=6970-6971;ssrc=DEADBEEF", // a server's reply
		`RTP/AVP;unicast;client_port=5000;mode="PLAY"`,
		"RTP/SAVP;unicast;client_port=5000-5001",
		"RTP/AVP/SCTP;unicast",
		"rtp/avp/tcp;UNICAST;INTERLEAVED=254-255",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ts, err := ParseTransports(s)
		if err != nil {
			return
		}
		for _, tr := range ts {
			// What we accept we must be able to write and read back, unchanged.
			back, err := ParseTransports(tr.String())
			if err != nil || len(back) != 1 || back[0] != tr {
				t.Fatalf("%q -> %q -> %+v: %v", s, tr.String(), back, err)
			}
			if tr.ClientPorts[0] != 0 && (tr.ClientPorts[0] < 1 || tr.ClientPorts[1] > 65535 || tr.ClientPorts[1] < tr.ClientPorts[0]) ||
				tr.HasInterl && (tr.Interleaved[0] < 0 || tr.Interleaved[1] > 255 || tr.Interleaved[1] < tr.Interleaved[0]) {
				t.Fatalf("%q: out of range %+v", s, tr)
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
