package flowrecv

import (
	"testing"
	"time"

	"github.com/pion/rtcp"

	"flowcam/internal/testutil/golden"
	"flowcam/stream/format/ccfb"
	"flowcam/stream/format/multiflow"
)

var wireT0 = time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)

// TestClientReportBytes pins the compound packet a client sends on each
// flow every report interval: receiver report, congestion control feedback
// (RFC 8888, over the flow's sequence numbers) and registration. The
// server's decoding of it is checked against what was put in.
func TestClientReportBytes(t *testing.T) {
	var token [16]byte
	for i := range token {
		token[i] = byte(i)
	}
	r := &Receiver{cfg: Config{Session: "8a41c2e09b7d3f10", Token: token, ServerSSRC: 0x5F2A90C1},
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
	golden.Hex(t, "client report", got,
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
	reg, ok := multiflow.VerifyRegistration(token, "8a41c2e09b7d3f10", multiflow.NameRegister, app.SubType, app.Data)
	if !ok || reg.Counter != 1001 || reg.Flow != 1 {
		t.Fatalf("registration %+v %v", reg, ok)
	}
}
