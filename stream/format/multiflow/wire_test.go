package multiflow

import (
	"reflect"
	"testing"
	"time"

	"flowcam/internal/testutil/golden"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
)

// These tests pin the bytes docs/multiflow.md shows, so that a change made
// on both ends at once cannot silently break a deployed peer. -update
// prints the bytes a changed encoder makes, to review and paste.

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
	got := AppendPacket(nil, &h, 1, 1, 0xABCD, []byte{0xEE})
	golden.Hex(t, "flow packet", got,
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

// TestRateNoticeBytes pins the server's rate notice.
func TestRateNoticeBytes(t *testing.T) {
	n := RateNotice{CapacityKbps: 4062, StreamKbps: 5800, Permille: 640, Reason: RateCapacity, Limit: LimitQueue}
	got, err := n.Packet(0x5F2A90C1).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	golden.Hex(t, "rate notice", got,
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
