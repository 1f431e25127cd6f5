package rtspserver

import (
	"bytes"
	"encoding/binary"
	"math"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v4/pkg/description"
	"github.com/bluenviron/gortsplib/v4/pkg/format"
	gsdp "github.com/bluenviron/gortsplib/v4/pkg/sdp"
	"github.com/pion/rtcp"

	"flowcam/internal/testutil/packetconn"
	"flowcam/stream/client/rtspclient"
	"flowcam/stream/format/ntp"
)

// FuzzSessionDescription feeds the SDP writer every Stream field that
// reaches it (path, size, frame rate) and the local address of the
// connection. Whatever they hold, the description must keep its fixed
// line structure (no injected lines), and both our client's parser and
// gortsplib's must read back the track, size and frame rate.
func FuzzSessionDescription(f *testing.F) {
	f.Add("/cam", 1280, 720, 25.0, []byte{192, 0, 2, 7}, "rtsp://192.0.2.7:8554/cam/")
	f.Add("/front/door", 640, 480, 29.97, []byte(net.ParseIP("2001:db8::7").To16()), "rtsp://[2001:db8::7]:8554/front/door/")
	f.Add("/cam\r\na=control:rtsp://evil/x\r\nm=audio 0 RTP/AVP 0", 1, 1, 1.0, []byte{}, "rtsp://h/cam/")
	f.Add("/cam\na=x-dimensions:1,1", 320, 240, 0.0, []byte{0, 0, 0, 0}, "rtsp://h/")
	f.Add("/\x00\x7f\t\v\f", -1, 5, math.Inf(1), []byte{1, 2, 3}, "rtsp://h/")
	f.Add("/caméra vidéo", 0, 0, 1e300, []byte{}, "rtsp://h:1/x/")
	f.Fuzz(func(t *testing.T, path string, width, height int, fps float64, ip []byte, base string) {
		var local net.IP
		if len(ip) == net.IPv4len || len(ip) == net.IPv6len {
			local = net.IP(ip)
		}
		for _, p := range []string{path, "/" + strings.Trim(path, "/")} { // raw, and as SetStreams stores it
			st := Stream{Path: p, Width: width, Height: height, FPS: fps}
			checkDescription(t, &st, local, base, sessionDescription(&st, local))
		}
	})
}

func checkDescription(t *testing.T, st *Stream, local net.IP, base string, sdp []byte) {
	t.Helper()
	text := string(sdp)
	if !strings.HasSuffix(text, "\r\n") {
		t.Fatalf("description does not end with CRLF: %q", text)
	}
	lines := strings.Split(strings.TrimSuffix(text, "\r\n"), "\r\n")
	// The writer's fixed skeleton: exactly these line types, in order, with
	// the two optional attributes at the end.
	want := []string{"v=", "o=", "s=", "c=", "t=", "a=tool:", "a=type:", "a=control:", "a=range:", "m=", "a=rtpmap:", "a=control:"}
	wantFPS := st.FPS > 0 && !math.IsInf(st.FPS, 0)
	wantDims := st.Width > 0 && st.Height > 0
	if wantFPS {
		want = append(want, "a=framerate:")
	}
	if wantDims {
		want = append(want, "a=x-dimensions:")
	}
	if len(lines) != len(want) {
		t.Fatalf("path %q: %d lines, want %d (line injection?):\n%s", st.Path, len(lines), len(want), text)
	}
	for i, l := range lines {
		if !strings.HasPrefix(l, want[i]) {
			t.Fatalf("path %q: line %d is %q, want %s...", st.Path, i, l, want[i])
		}
		for j := 0; j < len(l); j++ {
			if c := l[j]; c < 0x20 || c == 0x7f {
				t.Fatalf("path %q: control byte %#x in line %q", st.Path, c, l)
			}
		}
	}
	if !strings.Contains(st.Path, "%") && !hasControl(st.Path) && lines[2] != "s=flowcam "+st.Path {
		t.Fatalf("session name %q does not carry path %q", lines[2], st.Path)
	}

	// Our own client.
	if !strings.HasPrefix(base, "rtsp://") {
		base = "rtsp://h/cam/"
	}
	d, err := rtspclient.ParseDescription(sdp, base)
	if err == nil || !strings.Contains(err.Error(), "not absolute") {
		if err != nil {
			t.Fatalf("our client refuses the description: %v\n%s", err, text)
		}
		if d.Aggregate != "*" || !strings.HasSuffix(d.TrackURL, trackControl) {
			t.Fatalf("client read aggregate %q track %q", d.Aggregate, d.TrackURL)
		}
		checkFPS(t, "client", wantFPS, st.FPS, d.FPS)
		if wantDims && (d.Width != st.Width || d.Height != st.Height) || !wantDims && (d.Width != 0 || d.Height != 0) {
			t.Fatalf("client read %dx%d, stream is %dx%d", d.Width, d.Height, st.Width, st.Height)
		}
	}

	// gortsplib.
	var ss gsdp.SessionDescription
	if err := ss.Unmarshal(sdp); err != nil {
		t.Fatalf("gortsplib SDP parser refuses the description: %v\n%s", err, text)
	}
	var desc description.Session
	if err := desc.Unmarshal(&ss); err != nil {
		t.Fatalf("gortsplib refuses the description: %v\n%s", err, text)
	}
	if len(desc.Medias) != 1 || desc.Medias[0].Type != description.MediaTypeVideo ||
		len(desc.Medias[0].Formats) != 1 || desc.Medias[0].Control != trackControl {
		t.Fatalf("gortsplib read medias %+v", desc.Medias)
	}
	if _, ok := desc.Medias[0].Formats[0].(*format.MJPEG); !ok {
		t.Fatalf("gortsplib format %T, want MJPEG", desc.Medias[0].Formats[0])
	}
	if want := strings.TrimSpace("flowcam " + sdpText(st.Path)); strings.TrimSpace(desc.Title) != want {
		t.Fatalf("gortsplib title %q, want %q", desc.Title, want)
	}
	if wantFPS {
		fr, ok := ss.MediaDescriptions[0].Attribute("framerate")
		if !ok {
			t.Fatal("gortsplib sees no framerate")
		}
		got, err := strconv.ParseFloat(fr, 64)
		checkFPS(t, "gortsplib", true, st.FPS, got)
		if err != nil {
			t.Fatal(err)
		}
	}
	if o := ss.Origin; local != nil && !local.IsUnspecified() && !net.ParseIP(o.UnicastAddress).Equal(local) {
		t.Fatalf("origin address %q, local %v", o.UnicastAddress, local)
	}
}

func checkFPS(t *testing.T, who string, want bool, fps, got float64) {
	t.Helper()
	if want && got != fps || !want && got != 0 {
		t.Fatalf("%s read frame rate %v, stream has %v", who, got, fps)
	}
}

func hasControl(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] == 0x7f {
			return true
		}
	}
	return false
}

// TestSessionDescriptionNoInjection is the regression test for a stream
// path with CR/LF: it used to end the s= line and add lines of its own.
func TestSessionDescriptionNoInjection(t *testing.T) {
	st := Stream{Path: "/cam\r\na=control:rtsp://evil/\r\nm=audio 0 RTP/AVP 0", Width: 2, Height: 2, FPS: 5}
	sdp := sessionDescription(&st, nil)
	if bytes.Contains(sdp, []byte("\r\na=control:rtsp://evil")) || bytes.Count(sdp, []byte("\r\nm=")) != 1 {
		t.Fatalf("injected:\n%s", sdp)
	}
	if !bytes.Contains(sdp, []byte("s=flowcam /cam%0D%0Aa=control:rtsp://evil/%0D%0Am=audio 0 RTP/AVP 0\r\n")) {
		t.Fatalf("path not escaped:\n%s", sdp)
	}
	checkDescription(t, &st, nil, "rtsp://h/cam/", sdp)
	inf := Stream{Path: "/cam", FPS: math.Inf(1)}
	if sdp := sessionDescription(&inf, nil); bytes.Contains(sdp, []byte("framerate")) {
		t.Fatalf("infinite frame rate written:\n%s", sdp)
	}
}

// rtcpSession is a session as handleRTCP sees it: our SSRC, the middle of
// the NTP time of our last sender report, a fixed clock.
func rtcpSession(now time.Time) *session {
	srv := &Server{cfg: Config{Now: func() time.Time { return now }}}
	ss := &session{srv: srv, ssrc: 0x11223344, stream: &Stream{Path: "/cam"}}
	ss.rtcp.lastSR, ss.rtcp.lastSRAt = ntp.Middle(now.Add(-50*time.Millisecond)), now.Add(-50*time.Millisecond)
	return ss
}

// FuzzHandleRTCP feeds the server's RTCP receive path (what a viewer's
// RTCP socket or interleaved channel delivers) arbitrary bytes and mutated
// compound packets. It must not panic; a packet that does not parse is
// counted as invalid; only reception reports about our own SSRC change the
// statistics (reports about other sources, and everything else, are
// ignored), and the round-trip time is only taken from a report echoing
// our last sender report.
func FuzzHandleRTCP(f *testing.F) {
	now := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	ref := rtcpSession(now)
	good := rtcp.ReceptionReport{SSRC: ref.ssrc, FractionLost: 25, TotalLost: 7, LastSequenceNumber: 1000,
		Jitter: 90, LastSenderReport: ref.rtcp.lastSR, Delay: 1 << 14}
	other := good
	other.SSRC = 0xdeadbeef
	seeds := [][]rtcp.Packet{
		{&rtcp.ReceiverReport{SSRC: 1, Reports: []rtcp.ReceptionReport{good}}, rtcp.NewCNAMESourceDescription(1, "viewer")},
		{&rtcp.ReceiverReport{SSRC: 1, Reports: []rtcp.ReceptionReport{other, good}}},
		{&rtcp.SenderReport{SSRC: 2, NTPTime: 1, Reports: []rtcp.ReceptionReport{good}}},
		{&rtcp.ReceiverReport{SSRC: 1}, &rtcp.Goodbye{Sources: []uint32{1}, Reason: "bye"}},
		{&rtcp.ReceiverReport{SSRC: 1}, &rtcp.PictureLossIndication{SenderSSRC: 1, MediaSSRC: ref.ssrc},
			&rtcp.ApplicationDefined{Name: "FCRG", Data: make([]byte, 24)}},
		{&rtcp.ReceiverReport{SSRC: 1, Reports: []rtcp.ReceptionReport{other}}, &rtcp.TransportLayerNack{MediaSSRC: ref.ssrc,
			Nacks: []rtcp.NackPair{{PacketID: 5, LostPackets: 3}}}},
	}
	for _, s := range seeds {
		b, err := rtcp.Marshal(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte{})
	f.Add([]byte{0x80, 201, 0, 0})
	f.Add([]byte{0x81, 201, 0xff, 0xff, 0, 0, 0, 1})
	f.Fuzz(func(t *testing.T, data []byte) {
		ss := rtcpSession(now)
		before := ss.rtcp.lastSR
		// What the packet says, read independently.
		pkts, perr := rtcp.Unmarshal(data)
		var ours []rtcp.ReceptionReport
		for _, p := range pkts {
			switch r := p.(type) {
			case *rtcp.ReceiverReport:
				ours = appendOurs(ours, r.Reports, ss.ssrc)
			case *rtcp.SenderReport:
				ours = appendOurs(ours, r.Reports, ss.ssrc)
			}
		}
		ss.handleRTCP(data)
		ss.handleRTCP(data) // twice: a replay must not break anything either
		in := ss.info()
		if perr != nil {
			if in.InvalidRTCP != 2 || in.Reports != 0 || in.FractionLost != 0 || in.Jitter != 0 || in.TotalLost != 0 || in.RTT != 0 {
				t.Fatalf("unparsable packet: %+v", in)
			}
			return
		}
		if in.InvalidRTCP != 0 {
			t.Fatalf("valid packet counted invalid: %+v", in)
		}
		if in.Reports != uint64(2*len(ours)) {
			t.Fatalf("%d reports counted, %d are about our SSRC", in.Reports, 2*len(ours))
		}
		if len(ours) == 0 {
			if in.FractionLost != 0 || in.Jitter != 0 || in.TotalLost != 0 || in.RTT != 0 {
				t.Fatalf("statistics taken from reports about other sources: %+v", in)
			}
			return
		}
		last := ours[len(ours)-1]
		if in.FractionLost != float64(last.FractionLost)/256 || in.TotalLost != last.TotalLost || in.Jitter != last.Jitter {
			t.Fatalf("statistics %+v, last report %+v", in, last)
		}
		if in.FractionLost < 0 || in.FractionLost >= 1 {
			t.Fatalf("fraction lost %v", in.FractionLost)
		}
		echoed := false
		for _, r := range ours {
			echoed = echoed || r.LastSenderReport == before
		}
		if in.RTT != 0 && (!echoed || in.RTT < 0 || in.RTT > 10*time.Second) {
			t.Fatalf("RTT %v from reports %+v (our last SR %#x)", in.RTT, ours, before)
		}
	})
}

func appendOurs(dst, reports []rtcp.ReceptionReport, ssrc uint32) []rtcp.ReceptionReport {
	for _, r := range reports {
		if r.SSRC == ssrc {
			dst = append(dst, r)
		}
	}
	return dst
}

// FuzzUDPMediaRead drives a UDP session's two receive sockets with
// datagrams from the client and from other addresses (records of
// [source][socket][length][bytes]). Datagrams from anyone but the client
// are counted as spoofed and never reach the RTCP handler; the client's
// RTCP is handled; the client's packets on the RTP port only refresh the
// session.
func FuzzUDPMediaRead(f *testing.F) {
	now := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	ref := rtcpSession(now)
	rr, _ := rtcp.Marshal([]rtcp.Packet{&rtcp.ReceiverReport{SSRC: 1, Reports: []rtcp.ReceptionReport{{SSRC: ref.ssrc, FractionLost: 3, Jitter: 4}}}})
	f.Add(udpRecords(0, 1, rr, 1, 1, rr, 0, 0, []byte{0xce, 0xfa, 0xed, 0xfe}, 0, 1, []byte("junk")))
	f.Add(udpRecords(2, 1, rr))
	f.Fuzz(func(t *testing.T, data []byte) {
		client := net.IPv4(192, 0, 2, 10)
		sources := []net.Addr{
			&net.UDPAddr{IP: client, Port: 5000},
			&net.UDPAddr{IP: net.IPv4(192, 0, 2, 66), Port: 5001}, // another host
			&net.UDPAddr{IP: client.To16(), Port: 9},              // the client, other port: accepted
			&net.IPAddr{IP: client},                               // not UDP at all
		}
		ss := rtcpSession(now)
		conns := [2]*packetconn.Conn{packetconn.New(&net.UDPAddr{Port: 6000}), packetconn.New(&net.UDPAddr{Port: 6001})}
		m := &udpMedia{rtpConn: conns[0], rtcpConn: conns[1], client: client}
		m.start(ss)
		var spoofed, invalid, reports uint64
		for len(data) >= 4 {
			src, sock, n := int(data[0])%len(sources), int(data[1])%2, int(binary.BigEndian.Uint16(data[2:]))
			data = data[4:]
			n = min(n, len(data), 1500)
			pkt := data[:n]
			data = data[n:]
			fromClient := src == 0 || src == 2
			switch {
			case !fromClient:
				spoofed++
			case sock == 1:
				pkts, err := rtcp.Unmarshal(pkt)
				if err != nil {
					invalid++
				}
				for _, p := range pkts {
					switch r := p.(type) {
					case *rtcp.ReceiverReport:
						reports += uint64(len(appendOurs(nil, r.Reports, ss.ssrc)))
					case *rtcp.SenderReport:
						reports += uint64(len(appendOurs(nil, r.Reports, ss.ssrc)))
					}
				}
			}
			conns[sock].Deliver(sources[src], pkt)
		}
		m.close()
		ss.srv.wg.Wait()
		in := ss.info()
		if in.Spoofed != spoofed || in.InvalidRTCP != invalid || in.Reports != reports {
			t.Fatalf("spoofed %d invalid %d reports %d, want %d %d %d", in.Spoofed, in.InvalidRTCP, in.Reports, spoofed, invalid, reports)
		}
	})
}

// udpRecords builds FuzzUDPMediaRead input from (source, socket, bytes)
// triples.
func udpRecords(args ...any) []byte {
	var b []byte
	for i := 0; i+2 < len(args); i += 3 {
		p := args[i+2].([]byte)
		b = append(b, byte(args[i].(int)), byte(args[i+1].(int)))
		b = binary.BigEndian.AppendUint16(b, uint16(len(p)))
		b = append(b, p...)
	}
	return b
}
