package multiflow

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"

	"flowcam/internal/testutil/golden"
	"flowcam/stream/format/rtsp"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
)

// These tests pin the bytes and header texts docs/multiflow.md shows, so
// that a change made on both ends at once cannot silently break a deployed
// peer. Each table feeds the encoder (value -> exactly the recorded
// bytes/text) and the decoder (the recorded bytes/text, not the encoder's
// output -> the value). -update prints the bytes a changed encoder makes,
// to review and paste; the doc must then change with them.

// The session of the doc's examples: the flow report of "RTCP per flow"
// (also pinned by TestClientReportBytes in stream/client/flowrecv) is
// signed with this token and the session id of the SETUP answer.
var (
	docToken   = [16]byte{0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f}
	docSession = "8a41c2e09b7d3f10"
)

const (
	docStreamSSRC = 0x5F2A90C1 // the server's stream
	docClientSSRC = 0x11223344 // the client's reports
)

// requests are Multiflow headers of a client's SETUP. The first is the
// doc's ("RTSP exchange").
var requests = []struct {
	header string
	req    Request
}{
	{"flows=2;mode=stripe;report=50;latency=150",
		Request{Flows: 2, Mode: Stripe, Report: 50 * time.Millisecond, Latency: 150 * time.Millisecond}},
	{"flows=2;mode=stripe", Request{Flows: 2, Mode: Stripe}},
	{"flows=3;mode=duplicate;report=100", Request{Flows: 3, Mode: Duplicate, Report: 100 * time.Millisecond}},
	{"flows=2;mode=failover;report=10;latency=1", Request{Flows: 2, Mode: Failover, Report: 10 * time.Millisecond,
		Latency: time.Millisecond}},
	{"flows=8;mode=stripe;report=2000;latency=10000", Request{Flows: 8, Mode: Stripe, Report: 2 * time.Second,
		Latency: 10 * time.Second}},
	{"flows=2;mode=stripe;report=50;latency=150;weights=1,2.5", Request{Flows: 2, Mode: Stripe,
		Report: 50 * time.Millisecond, Latency: 150 * time.Millisecond, Weights: []float64{1, 2.5}}},
}

func TestRequestHeader(t *testing.T) {
	for _, c := range requests {
		if got := c.req.String(); got != c.header {
			t.Errorf("%+v encodes as %q, want %q", c.req, got, c.header)
		}
		got, err := ParseRequest(c.header)
		if err != nil || !reflect.DeepEqual(got, c.req) {
			t.Errorf("%q decodes as %+v %v, want %+v", c.header, got, err, c.req)
		}
	}
	// The bounds the doc's parameter table names.
	for _, bad := range []string{"flows=0", "flows=2;weights=1", "flows=1;report=9", "flows=1;report=2001",
		"flows=1;latency=0", "flows=1;latency=10001", "flows=2;weights=1,-1", "flows=2;weights=0,1",
		"flows=1;latency=x", "flows=2;mode=bond"} {
		if r, err := ParseRequest(bad); err == nil {
			t.Errorf("%q accepted as %+v", bad, r)
		}
	}
}

// docResponseToken stands for the doc's "5b0c…(32 hex digits)".
var docResponseToken = [16]byte{0x5b, 0x0c, 0x7a, 0x1f, 0x3e, 0x9d, 0x4b, 0x28, 0xa6, 0xc1, 0xf0, 0xe3, 0xd2, 0xb5, 0x9a, 0x47}

// responses are Multiflow headers of the server's SETUP answer. The first
// is the doc's, its token written out.
var responses = []struct {
	header string
	res    Response
}{
	{"mode=stripe;token=5b0c7a1f3e9d4b28a6c1f0e3d2b59a47;ext=1;flows=10.0.1.5:41002,10.0.2.5:51874",
		Response{Mode: Stripe, Token: docResponseToken, ExtID: 1,
			Flows: []netip.AddrPort{netip.MustParseAddrPort("10.0.1.5:41002"), netip.MustParseAddrPort("10.0.2.5:51874")}}},
	{"mode=duplicate;token=000102030405060708090a0b0c0d0e0f;ext=14;flows=192.0.2.1:6000,[2001:db8::1]:6002,192.0.2.1:6004",
		Response{Mode: Duplicate, Token: docToken, ExtID: 14, Flows: []netip.AddrPort{
			netip.MustParseAddrPort("192.0.2.1:6000"), netip.MustParseAddrPort("[2001:db8::1]:6002"),
			netip.MustParseAddrPort("192.0.2.1:6004")}}},
	{"mode=failover;token=ffffffffffffffffffffffffffffffff;ext=3;flows=10.0.1.5:41002",
		Response{Mode: Failover, Token: [16]byte{255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255},
			ExtID: 3, Flows: []netip.AddrPort{netip.MustParseAddrPort("10.0.1.5:41002")}}},
}

func TestResponseHeader(t *testing.T) {
	for _, c := range responses {
		if got := c.res.String(); got != c.header {
			t.Errorf("%+v encodes as\n%q, want\n%q", c.res, got, c.header)
		}
		got, err := ParseResponse(c.header)
		if err != nil || !reflect.DeepEqual(got, c.res) {
			t.Errorf("%q decodes as %+v %v, want %+v", c.header, got, err, c.res)
		}
	}
	for _, bad := range []string{
		"mode=stripe;token=5b0c;ext=1;flows=10.0.1.5:41002",                              // short token
		"mode=stripe;token=5b0c7a1f3e9d4b28a6c1f0e3d2b59a47;ext=0;flows=10.0.1.5:41002",  // no extension id
		"mode=stripe;token=5b0c7a1f3e9d4b28a6c1f0e3d2b59a47;ext=15;flows=10.0.1.5:41002", // 15 is reserved (RFC 8285)
		"mode=stripe;token=5b0c7a1f3e9d4b28a6c1f0e3d2b59a47;ext=1",                       // no flows
		"mode=stripe;token=5b0c7a1f3e9d4b28a6c1f0e3d2b59a47;ext=1;flows=10.0.1.5",        // no port
	} {
		if r, err := ParseResponse(bad); err == nil {
			t.Errorf("%q accepted as %+v", bad, r)
		}
	}
}

// The SETUP exchange as the doc's "RTSP exchange" shows it, token written
// out, CRLF line ends as on the wire.
const (
	docSetup = "SETUP rtsp://cam.local:8554/cam/trackID=0 RTSP/1.0\r\n" +
		"CSeq: 3\r\n" +
		"Require: com.flowcam.multiflow\r\n" +
		"Transport: RTP/AVP/UDP;unicast;mode=play\r\n" +
		"Multiflow: flows=2;mode=stripe;report=50;latency=150\r\n" +
		"\r\n"
	docSetupAnswer = "RTSP/1.0 200 OK\r\n" +
		"CSeq: 3\r\n" +
		"Transport: RTP/AVP;unicast;ssrc=5F2A90C1;mode=play\r\n" +
		"Multiflow: mode=stripe;token=5b0c7a1f3e9d4b28a6c1f0e3d2b59a47;ext=1;flows=10.0.1.5:41002,10.0.2.5:51874\r\n" +
		"Session: 8a41c2e09b7d3f10;timeout=60\r\n" +
		"\r\n"
)

// TestSetupExchangeText pins the whole SETUP request and answer of the doc:
// the option tag, and the headers that carry the flows, the token, the
// extension id and the stream's SSRC.
func TestSetupExchangeText(t *testing.T) {
	req := &rtsp.Request{Method: rtsp.Setup, URL: "rtsp://cam.local:8554/cam/trackID=0", Header: rtsp.Header{
		{Name: "CSeq", Value: "3"},
		{Name: "Require", Value: OptionTag},
		{Name: "Transport", Value: "RTP/AVP/UDP;unicast;mode=play"},
		{Name: HeaderName, Value: requests[0].req.String()},
	}}
	if got := string(req.AppendTo(nil)); got != docSetup {
		t.Errorf("SETUP encodes as\n%s\nwant\n%s", got, docSetup)
	}
	gotReq, _, err := rtsp.NewReader(strings.NewReader(docSetup), rtsp.DefaultLimits).ReadRequest()
	if err != nil {
		t.Fatal(err)
	}
	if tags := rtsp.OptionTags(gotReq.Header.Get("Require")); !reflect.DeepEqual(tags, []string{OptionTag}) {
		t.Errorf("Require %v", tags)
	}
	if mf, err := ParseRequest(gotReq.Header.Get(HeaderName)); err != nil || !reflect.DeepEqual(mf, requests[0].req) {
		t.Errorf("SETUP's Multiflow decodes as %+v %v", mf, err)
	}
	// No client ports: a server that ignores Require cannot set up a plain
	// session from it.
	if trs, err := rtsp.ParseTransports(gotReq.Header.Get("Transport")); err != nil || trs[0].ClientPorts != [2]int{} {
		t.Errorf("SETUP's Transport %+v %v", trs, err)
	}

	tr := rtsp.Transport{Protocol: "RTP/AVP", Lower: rtsp.LowerUDP, Mode: "play", SSRC: docStreamSSRC, HasSSRC: true}
	sess := rtsp.SessionHeader{ID: docSession, Timeout: 60}
	res := &rtsp.Response{Status: rtsp.StatusOK, Header: rtsp.Header{
		{Name: "CSeq", Value: "3"},
		{Name: "Transport", Value: tr.String()},
		{Name: HeaderName, Value: responses[0].res.String()},
		{Name: "Session", Value: sess.String()},
	}}
	if got := string(res.AppendTo(nil)); got != docSetupAnswer {
		t.Errorf("answer encodes as\n%s\nwant\n%s", got, docSetupAnswer)
	}
	gotRes, _, err := rtsp.NewReader(strings.NewReader(docSetupAnswer), rtsp.DefaultLimits).ReadResponse()
	if err != nil || gotRes.Status != rtsp.StatusOK {
		t.Fatalf("answer %+v %v", gotRes, err)
	}
	if mf, err := ParseResponse(gotRes.Header.Get(HeaderName)); err != nil || !reflect.DeepEqual(mf, responses[0].res) {
		t.Errorf("answer's Multiflow decodes as %+v %v", mf, err)
	}
	if trs, err := rtsp.ParseTransports(gotRes.Header.Get("Transport")); err != nil || trs[0] != tr {
		t.Errorf("answer's Transport decodes as %+v %v, want %+v", trs, err, tr)
	}
	if s, err := rtsp.ParseSession(gotRes.Header.Get("Session")); err != nil || s != sess {
		t.Errorf("answer's Session decodes as %+v %v", s, err)
	}
}

// registrations are flow registrations (FCRG, client to server) and their
// acknowledgements (FCOK, server to client) as RTCP APP packets: subtype =
// flow index, data = 8-byte counter ‖ 16-byte MAC. The first is the one at
// the end of the doc's flow report.
var registrations = []struct {
	name string
	app  string // NameRegister or NameAck
	ssrc uint32 // the sender's: the client's for FCRG, the stream's for FCOK
	reg  Registration
	hex  string
}{
	{"doc's FCRG on flow 1", NameRegister, docClientSSRC, Registration{Flow: 1, Counter: 1001},
		"81cc0008" + "11223344" + "46435247" + // APP, subtype 1, length 8; client SSRC; "FCRG"
			"00000000000003e9" + "e8293515211982c62a6b5c15e6f4e811"}, // counter 1001, MAC
	{"its FCOK", NameAck, docStreamSSRC, Registration{Flow: 1, Counter: 1001},
		"81cc0008" + "5f2a90c1" + "46434f4b" + // APP, subtype 1, length 8; stream SSRC; "FCOK"
			"00000000000003e9" + "90b6908e913631276d31ccd94cd2aeac"}, // the same counter, MAC over "FCOK" ‖ ...
	{"FCRG on flow 0, wall-clock counter", NameRegister, docClientSSRC, Registration{Flow: 0, Counter: 0x18A1B2C3D4E5F607},
		"80cc0008" + "11223344" + "46435247" +
			"18a1b2c3d4e5f607" + "54ec4c3232c2c6d74b9e113f06ab5288"},
}

// TestRegistrationBytes: what a client's registration and the server's
// acknowledgement look like on the wire, and that the documented bytes
// verify with the session's token only for their flow and direction.
func TestRegistrationBytes(t *testing.T) {
	for _, c := range registrations {
		t.Run(c.name, func(t *testing.T) {
			app := &rtcp.ApplicationDefined{SubType: c.reg.Flow, SSRC: c.ssrc, Name: c.app,
				Data: RegistrationData(docToken, docSession, c.app, c.reg)}
			got, err := app.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			golden.Hex(t, c.name, got, c.hex)

			// Decode the recorded bytes, not the encoder's.
			wire, err := hex.DecodeString(c.hex)
			if err != nil {
				t.Fatal(err)
			}
			pkts, err := rtcp.Unmarshal(wire)
			if err != nil || len(pkts) != 1 {
				t.Fatalf("%d packets, %v", len(pkts), err)
			}
			back, ok := pkts[0].(*rtcp.ApplicationDefined)
			if !ok || back.Name != c.app || back.SSRC != c.ssrc || back.SubType != c.reg.Flow {
				t.Fatalf("decodes as %+v", pkts[0])
			}
			reg, ok := VerifyRegistration(docToken, docSession, c.app, back.SubType, back.Data)
			if !ok || reg != c.reg {
				t.Fatalf("registration %+v %v, want %+v", reg, ok, c.reg)
			}
			// The MAC is what the doc says: HMAC-SHA256(token, name ‖
			// session id ‖ flow index (1 byte) ‖ counter (8 bytes, big
			// endian)), first 16 bytes.
			h := hmac.New(sha256.New, docToken[:])
			h.Write([]byte(c.app + docSession))
			h.Write([]byte{c.reg.Flow})
			h.Write(wire[12:20])
			if mac := h.Sum(nil)[:16]; !bytes.Equal(back.Data[8:], mac) {
				t.Fatalf("MAC %x, the doc's formula gives %x", back.Data[8:], mac)
			}
			other := NameAck
			if c.app == NameAck {
				other = NameRegister
			}
			if _, ok := VerifyRegistration(docToken, docSession, other, back.SubType, back.Data); ok {
				t.Fatal("verifies in the other direction")
			}
			if _, ok := VerifyRegistration(docToken, docSession, c.app, back.SubType+1, back.Data); ok {
				t.Fatal("verifies on another flow")
			}
			if _, ok := VerifyRegistration(docToken, "8a41c2e09b7d3f11", c.app, back.SubType, back.Data); ok {
				t.Fatal("verifies in another session")
			}
		})
	}
}

// extensions are the RFC 8285 one-byte header extension of an RTP packet
// on a flow (the doc's "RTP on a flow"): 0xBEDE, length 1 word, one element
// ID | L=2 (3 bytes): flow index, flow sequence number.
var extensions = []struct {
	id, flow uint8
	seq      uint16
	hex      string
}{
	{1, 1, 0xABCD, "bede0001" + "12" + "01abcd"},
	{1, 0, 0, "bede0001" + "12" + "000000"},
	{14, 7, 0xFFFF, "bede0001" + "e2" + "07ffff"},
}

// TestExtensionBytes pins the 8 bytes the flow extension adds to every
// packet, through AppendPacket and ParseExtension, and checks them
// against pion's own RFC 8285 encoder and decoder.
func TestExtensionBytes(t *testing.T) {
	for _, c := range extensions {
		h := rtp.Header{Version: 2, PayloadType: 26, SequenceNumber: 1, Timestamp: 2, SSRC: docStreamSSRC}
		pkt := AppendPacket(nil, &h, c.id, c.flow, c.seq, nil)
		golden.Hex(t, "extension", pkt[rtpHeaderLen:], c.hex)
		if len(pkt) != rtpHeaderLen+ExtensionOverhead {
			t.Errorf("%d bytes of extension, ExtensionOverhead says %d", len(pkt)-rtpHeaderLen, ExtensionOverhead)
		}
		if data := AppendExtension(nil, c.flow, c.seq); !strings.HasSuffix(c.hex, hex.EncodeToString(data)) || len(data) != 3 {
			t.Errorf("element data %x", data)
		}

		// The recorded bytes decode, behind a plain RTP header with X set.
		ext, _ := hex.DecodeString(c.hex)
		wire := append([]byte{0x90, 0x1a, 0, 1, 0, 0, 0, 2, 0x5f, 0x2a, 0x90, 0xc1}, ext...)
		var p rtp.Packet
		if err := p.Unmarshal(wire); err != nil {
			t.Fatal(err)
		}
		if p.ExtensionProfile != rtp.ExtensionProfileOneByte || len(p.Payload) != 0 {
			t.Fatalf("profile %#x, payload %x", p.ExtensionProfile, p.Payload)
		}
		if flow, seq, ok := ParseExtension(p.GetExtension(c.id)); !ok || flow != c.flow || seq != c.seq {
			t.Errorf("%s decodes as flow %d seq %#x %v", c.hex, flow, seq, ok)
		}

		// pion writes the same bytes for the same element.
		ph := rtp.Header{Version: 2, PayloadType: 26, SequenceNumber: 1, Timestamp: 2, SSRC: docStreamSSRC}
		if err := ph.SetExtension(c.id, AppendExtension(nil, c.flow, c.seq)); err != nil {
			t.Fatal(err)
		}
		if pb, err := ph.Marshal(); err != nil || !bytes.Equal(pb, wire) {
			t.Errorf("pion writes %x, we write %x (%v)", pb, wire, err)
		}
	}
	for _, bad := range [][]byte{nil, {1}, {1, 2}, {1, 2, 3, 4}} {
		if _, _, ok := ParseExtension(bad); ok {
			t.Errorf("element data %x accepted", bad)
		}
	}
}

// TestFlowPacketBytes pins a whole RTP packet on a flow: the fixed header
// with X set, the flow extension, the payload.
func TestFlowPacketBytes(t *testing.T) {
	const want = "909a1234" + "01020304" + "5f2a90c1" + // V=2 X=1, M=1 PT=26, sequence number; timestamp; SSRC
		"bede0001" + "12" + "01abcd" + // 0xBEDE, 1 word; ID=1 L=2: flow 1, flow seq 0xabcd
		"ee" // payload
	h := rtp.Header{Version: 2, PayloadType: 26, SequenceNumber: 0x1234, Timestamp: 0x01020304, SSRC: docStreamSSRC, Marker: true}
	golden.Hex(t, "flow packet", AppendPacket(nil, &h, 1, 1, 0xABCD, []byte{0xEE}), want)
	// Appending keeps what the buffer held.
	golden.Hex(t, "flow packet after a prefix", AppendPacket([]byte{0xAA}, &h, 1, 1, 0xABCD, []byte{0xEE}), "aa"+want)

	wire, _ := hex.DecodeString(want)
	var p rtp.Packet
	if err := p.Unmarshal(wire); err != nil {
		t.Fatal(err)
	}
	if p.Version != 2 || !p.Marker || p.PayloadType != 26 || p.SequenceNumber != 0x1234 || p.Timestamp != 0x01020304 ||
		p.SSRC != docStreamSSRC || !bytes.Equal(p.Payload, []byte{0xEE}) {
		t.Fatalf("decodes as %+v", p)
	}
	if flow, seq, ok := ParseExtension(p.GetExtension(1)); !ok || flow != 1 || seq != 0xABCD {
		t.Fatalf("extension %d %x %v", flow, seq, ok)
	}
	if IsRTCP(wire) {
		t.Fatal("a flow packet reads as RTCP")
	}
}

// TestIsRTCP: RFC 5761 demultiplexing on the second byte, 192-223 RTCP.
func TestIsRTCP(t *testing.T) {
	for _, c := range []struct {
		hex  string
		rtcp bool
	}{
		{"81c9", true},  // RR (the flow report)
		{"8bcd", true},  // RTPFB (RFC 8888)
		{"81cc", true},  // APP (registration, rate notice)
		{"80c8", true},  // SR
		{"80c0", true},  // 192
		{"80df", true},  // 223
		{"80bf", false}, // 191
		{"80e0", false}, // 224
		{"909a", false}, // RTP/JPEG with the marker bit
		{"901a", false}, // RTP/JPEG
		{"81", false},   // too short
	} {
		b, _ := hex.DecodeString(c.hex)
		if IsRTCP(b) != c.rtcp {
			t.Errorf("%s: IsRTCP %v", c.hex, !c.rtcp)
		}
	}
}

// notices are the server's rate notice, APP FCRA, subtype 0, from the
// stream's SSRC. The first is the doc's.
var notices = []struct {
	n   RateNotice
	hex string
}{
	{RateNotice{CapacityKbps: 4062, StreamKbps: 5800, Permille: 640, Reason: RateCapacity, Limit: LimitQueue},
		"80cc0005" + "5f2a90c1" + "46435241" + // APP, subtype 0, length 5, stream SSRC, "FCRA"
			"00000fde" + "000016a8" + "0280" + "01" + "01"}, // 4062 and 5800 kbit/s, 640 of 1000 frames, capacity, queueing delay
	{RateNotice{CapacityKbps: 0, StreamKbps: 5800, Permille: 1000, Reason: RateFull, Limit: LimitNone},
		"80cc0005" + "5f2a90c1" + "46435241" + "00000000" + "000016a8" + "03e8" + "00" + "00"},
	{RateNotice{CapacityKbps: 900, StreamKbps: 5800, Permille: 0, Reason: RateNoPath, Limit: LimitDelivery},
		"80cc0005" + "5f2a90c1" + "46435241" + "00000384" + "000016a8" + "0000" + "03" + "03"},
	{RateNotice{CapacityKbps: 3000, StreamKbps: 5800, Permille: 333, Reason: RateDelay, Limit: LimitLoss},
		"80cc0005" + "5f2a90c1" + "46435241" + "00000bb8" + "000016a8" + "014d" + "02" + "02"},
}

// TestRateNoticeBytes pins the server's rate notice.
func TestRateNoticeBytes(t *testing.T) {
	for _, c := range notices {
		got, err := c.n.Packet(docStreamSSRC).Marshal()
		if err != nil {
			t.Fatal(err)
		}
		golden.Hex(t, "rate notice", got, c.hex)

		wire, _ := hex.DecodeString(c.hex)
		pkts, err := rtcp.Unmarshal(wire)
		if err != nil || len(pkts) != 1 {
			t.Fatalf("%d packets, %v", len(pkts), err)
		}
		app, ok := pkts[0].(*rtcp.ApplicationDefined)
		if !ok || app.SubType != 0 || app.SSRC != docStreamSSRC {
			t.Fatalf("decodes as %+v", pkts[0])
		}
		if back, ok := ParseRateNotice(app); !ok || back != c.n {
			t.Fatalf("notice %+v %v, want %+v", back, ok, c.n)
		}
	}
	// Other APP packets, and notices that cannot be, are not notices.
	good := notices[0].n.Packet(docStreamSSRC)
	for _, bad := range []*rtcp.ApplicationDefined{
		{SSRC: docStreamSSRC, Name: NameRegister, Data: good.Data},
		{SSRC: docStreamSSRC, Name: nameRate, Data: good.Data[:8]},
		{SSRC: docStreamSSRC, Name: nameRate, Data: append(bytes.Clone(good.Data), 0, 0, 0, 0)},
		RateNotice{Permille: 1001}.Packet(docStreamSSRC),
	} {
		if n, ok := ParseRateNotice(bad); ok {
			t.Errorf("%+v read as notice %+v", bad, n)
		}
	}
}
