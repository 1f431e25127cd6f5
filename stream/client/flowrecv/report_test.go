package flowrecv

import (
	"net"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/rtp"

	"flowcam/internal/testutil/eventually"
	"flowcam/internal/testutil/flowfuzz"
	"flowcam/stream/format/multiflow"
)

// TestEarlyReports: besides the interval's reports, a flow's first packet
// is reported at once (the server learns from it that this receiver sends
// per-packet feedback) and so is each frame's last packet, at most one per
// markerReportGap, whenever the interval's own report last went out.
func TestEarlyReports(t *testing.T) {
	var now atomic.Int64
	now.Store(flowfuzz.Now.UnixNano())
	conn := flowfuzz.Conn(5000)
	server := netip.MustParseAddrPort("203.0.113.1:6000")
	r, err := New(Config{Session: flowfuzz.Session, Token: flowfuzz.Token, ExtID: multiflow.DefaultExtID,
		ServerSSRC: flowfuzz.SSRC, Servers: []netip.AddrPort{server}, Conns: []net.PacketConn{conn},
		ReportEvery: time.Hour, Now: func() time.Time { return time.Unix(0, now.Load()) }})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	go func() {
		for range r.Packets() {
		}
	}()
	eventually.Require(t, 10*time.Second, func() bool { return conn.Writes() == 1 }, "the first interval report")
	seq := uint16(100)
	deliver := func(after time.Duration, marker bool) int64 {
		now.Add(int64(after))
		p := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 26, SequenceNumber: seq, Timestamp: 9000,
			SSRC: flowfuzz.SSRC, Marker: marker}, Payload: []byte{0, 0, 0, 0, 1, 255, 40, 30}}
		p.Header.SetExtension(multiflow.DefaultExtID, multiflow.AppendExtension(nil, 0, seq))
		seq++
		b, err := p.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		conn.Deliver(net.UDPAddrFromAddrPort(server), b)
		return conn.Writes()
	}
	for i, step := range []struct {
		after  time.Duration
		marker bool
		want   int64
	}{
		{time.Millisecond, false, 2},    // the flow's first packet
		{time.Millisecond, false, 2},    // the middle of a frame
		{time.Millisecond, true, 3},     // its last packet, 3 ms after the interval's report
		{5 * time.Millisecond, true, 3}, // a small frame right after: within the gap
		{markerReportGap, true, 4},
	} {
		if got := deliver(step.after, step.marker); got != step.want {
			t.Fatalf("packet %d: %d reports sent, want %d", i, got, step.want)
		}
	}
}
