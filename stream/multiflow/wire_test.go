package multiflow

import (
	"bytes"
	"encoding/hex"
	"flag"
	"reflect"
	"testing"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"

	"flowcam/stream/ccfb"
)

// These tests pin the bytes docs/multiflow.md shows, so that a change made
// on both ends at once cannot silently break a deployed peer. -update
// prints the bytes a changed encoder makes, to review and paste.
var update = flag.Bool("update", false, "print the wire bytes instead of comparing them")

var wireT0 = time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)

func golden(t *testing.T, name string, got []byte, want string) {
	t.Helper()
	if *update {
		t.Logf("%s: %x", name, got)
		return
	}
	w, err := hex.DecodeString(want)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, w) {
		t.Fatalf("%s bytes changed:\n got %x\nwant %x", name, got, w)
	}
}

var requests = []struct {
	header string
	req    Request
}{
	{"flows=2;mode=stripe", Request{Flows: 2, Mode: Stripe}},
	{"flows=2;mode=stripe;report=50;latency=150",
		Request{Flows: 2, Mode: Stripe, Report: 50 * time.Millisecond, Latency: 150 * time.Millisecond}},
	{"flows=3;mode=duplicate;report=100", Request{Flows: 3, Mode: Duplicate, Report: 100 * time.Millisecond}},
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
	for _, bad := range []string{"flows=2;weights=1", "flows=1;report=1", "flows=2;weights=1,-1", "flows=1;latency=x"} {
		if r, err := ParseRequest(bad); err == nil {
			t.Errorf("%q accepted as %+v", bad, r)
		}
	}
}

// TestFlowPacketBytes pins an RTP packet on a flow: the RFC 8285 one-byte
// extension with the flow index and the flow's own sequence number.
func TestFlowPacketBytes(t *testing.T) {
	h := rtp.Header{Version: 2, PayloadType: 26, SequenceNumber: 0x1234, Timestamp: 0x01020304, SSRC: 0x5F2A90C1, Marker: true}
	got := appendPacket(nil, &h, 1, 1, 0xABCD, []byte{0xEE})
	golden(t, "flow packet", got,
		"909a1234"+"01020304"+"5f2a90c1"+ // V=2 X=1, M=1 PT=26, sequence number; timestamp; SSRC
			"bede0001"+"12"+"01abcd"+ // 0xBEDE, 1 word; ID=1 L=2: flow 1, flow seq 0xabcd
			"ee") // payload
	var p rtp.Packet
	if err := p.Unmarshal(got); err != nil {
		t.Fatal(err)
	}
	if flow, seq, ok := ParseExtension(p.GetExtension(1)); !ok || flow != 1 || seq != 0xABCD {
		t.Fatalf("extension %d %x %v", flow, seq, ok)
	}
}

// TestClientReportBytes pins the compound packet a client sends on each
// flow every report interval: receiver report, congestion control feedback
// (RFC 8888, over the flow's sequence numbers) and registration. The
// server's decoding of it is checked against what was put in.
func TestClientReportBytes(t *testing.T) {
	var token [16]byte
	for i := range token {
		token[i] = byte(i)
	}
	r := &Receiver{cfg: ReceiverConfig{Session: "8a41c2e09b7d3f10", Token: token, ServerSSRC: 0x5F2A90C1},
		ssrc: 0x11223344, clock: ccfb.NewClock(wireT0)}
	r.counter.Store(1000)
	f := &recvFlow{index: 1}
	// Flow sequence numbers 7, 8 and 10 arrived (9 did not), 2 ms apart.
	for i, seq := range []uint16{7, 8, 10} {
		f.count(seq, 90000+uint32(i)*180, 1200, wireT0.Add(time.Duration(i)*2*time.Millisecond))
	}
	now := wireT0.Add(10 * time.Millisecond)
	got, err := r.report(f, now)
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "client report", got,
		"81c90007"+"11223344"+ // RR, one block, from the client's SSRC
			"5f2a90c1"+"40000001"+"0000000a"+"00000000"+"00000000"+"00000000"+ // on the stream: 64/256 lost (9), highest 10
			"8bcd0006"+"11223344"+"5f2a90c1"+"00070004"+ // CCFB from the client, on the stream: from 7, 4 entries
			"800a"+"8008"+"0000"+"8006"+ // 7 and 8 arrived 10 and 8 units (1/1024 s) before the report, 9 not, 10 6 units
			"bc20028f"+ // report timestamp (NTP middle 32 bits)
			"81cc0008"+"11223344"+"46435247"+ // APP, subtype = flow 1, name FCRG
			"00000000000003e9"+"e8293515211982c62a6b5c15e6f4e811") // counter 1001, MAC
	pkts, err := rtcp.Unmarshal(got)
	if err != nil || len(pkts) != 3 {
		t.Fatalf("%d packets, %v", len(pkts), err)
	}
	var rd ccfb.Reader
	arr := rd.Arrivals(pkts[1].(*rtcp.CCFeedbackReport), 0x5F2A90C1, nil)
	if len(arr) != 4 || !arr[0].Received || !arr[1].Received || arr[2].Received || !arr[3].Received ||
		arr[3].At-arr[0].At != 4*time.Second/1024 {
		t.Fatalf("arrivals %+v", arr)
	}
	app := pkts[2].(*rtcp.ApplicationDefined)
	reg, ok := verify(token, "8a41c2e09b7d3f10", nameRegister, app.SubType, app.Data)
	if !ok || reg.Counter != 1001 || reg.Flow != 1 {
		t.Fatalf("registration %+v %v", reg, ok)
	}
}

// TestRateNoticeBytes pins the server's rate notice.
func TestRateNoticeBytes(t *testing.T) {
	n := RateNotice{CapacityKbps: 4062, StreamKbps: 5800, Permille: 640, Reason: RateCapacity, Limit: LimitQueue}
	got, err := n.Packet(0x5F2A90C1).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "rate notice", got,
		"80cc0005"+"5f2a90c1"+"46435241"+ // APP, subtype 0, name FCRA
			"00000fde"+"000016a8"+"0280"+"01"+"01") // 4062 and 5800 kbit/s, 640 of 1000 frames, capacity, queueing delay
	pkts, err := rtcp.Unmarshal(got)
	if err != nil {
		t.Fatal(err)
	}
	back, ok := ParseRateNotice(pkts[0].(*rtcp.ApplicationDefined))
	if !ok || back != n {
		t.Fatalf("notice %+v %v, want %+v", back, ok, n)
	}
}
