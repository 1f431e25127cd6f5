package flowsend

import (
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/pion/rtcp"

	"flowcam/internal/testutil/flowfuzz"
	"flowcam/internal/testutil/packetconn"
	"flowcam/stream/format/multiflow"
)

// FuzzSenderDatagrams drives the server end of a two-flow session with
// arbitrary datagrams (and mutated genuine registrations and reports) from
// several addresses, and checks it against a model of the protocol: a
// flow's return address is only ever set by an authentic, fresh
// registration for that flow; bad MACs and undecodable RTCP are counted as
// forged, stale counters as replayed, reports from anyone but the
// registered address as spoofed.
func FuzzSenderDatagrams(f *testing.F) {
	senderSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		sources := []net.Addr{
			&net.UDPAddr{IP: net.IPv4(192, 0, 2, 10), Port: 5000},
			&net.UDPAddr{IP: net.IPv4(198, 51, 100, 7), Port: 5000},
			&net.IPAddr{IP: net.IPv4(192, 0, 2, 10)}, // not a UDP address
			&net.UDPAddr{IP: net.ParseIP("::ffff:192.0.2.10"), Port: 5000},
		}
		conns := []*packetconn.Conn{flowfuzz.Conn(6000), flowfuzz.Conn(6002)}
		s, err := New(Config{Session: flowfuzz.Session, Token: flowfuzz.Token, ExtID: 1, SSRC: flowfuzz.SSRC,
			Conns: []net.PacketConn{conns[0], conns[1]}, ReportEvery: time.Hour, Now: func() time.Time { return flowfuzz.Now }})
		if err != nil {
			t.Fatal(err)
		}
		// The model.
		var forged, replayed, spoofed uint64
		client := make([]netip.AddrPort, len(conns))
		counter := make([]uint64, len(conns))
		for _, r := range flowfuzz.Records(data, len(conns), len(sources)) {
			conns[r.Flow].Deliver(sources[r.Src], r.Data)
			ua, ok := sources[r.Src].(*net.UDPAddr)
			if !ok || !multiflow.IsRTCP(r.Data) {
				continue
			}
			pkts, err := rtcp.Unmarshal(r.Data)
			if err != nil {
				forged++
				continue
			}
			src := netip.AddrPortFrom(ua.AddrPort().Addr().Unmap(), ua.AddrPort().Port())
			for _, p := range pkts {
				app, ok := p.(*rtcp.ApplicationDefined)
				if !ok || app.Name != multiflow.NameRegister {
					continue
				}
				reg, ok := multiflow.VerifyRegistration(flowfuzz.Token, flowfuzz.Session, multiflow.NameRegister, app.SubType, app.Data)
				switch {
				case !ok || int(app.SubType) != r.Flow:
					forged++
				case reg.Counter <= counter[r.Flow]:
					replayed++
				default:
					counter[r.Flow], client[r.Flow] = reg.Counter, src
				}
			}
			if reports(pkts) && src != client[r.Flow] {
				spoofed++ // once per datagram that reports from the wrong address
			}
		}
		s.Close()
		st := s.Stats()
		if st.Forged != forged || st.Replayed != replayed || st.Spoofed != spoofed {
			t.Fatalf("forged %d replayed %d spoofed %d, want %d %d %d", st.Forged, st.Replayed, st.Spoofed, forged, replayed, spoofed)
		}
		for i, fs := range st.Flows {
			want := ""
			if client[i].IsValid() {
				want = client[i].String()
			}
			if fs.Client != want {
				t.Fatalf("flow %d registered to %q, want %q", i, fs.Client, want)
			}
			if fs.Loss < 0 || fs.Loss > 1 || fs.RecentLoss < 0 || fs.RecentLoss > 1 || fs.RTT < 0 || fs.Jitter < 0 {
				t.Fatalf("flow %d: %+v", i, fs)
			}
		}
	})
}

func reports(pkts []rtcp.Packet) bool {
	for _, p := range pkts {
		switch p.(type) {
		case *rtcp.ReceiverReport, *rtcp.CCFeedbackReport:
			return true
		}
	}
	return false
}

// senderSeeds are genuine client reports (receiver report, RFC 8888
// feedback, registration) and the attacks FuzzSenderDatagrams checks.
func senderSeeds(f *testing.F) {
	rr := &rtcp.ReceiverReport{SSRC: 99, Reports: []rtcp.ReceptionReport{{SSRC: flowfuzz.SSRC, FractionLost: 12, Jitter: 30, LastSenderReport: 1, Delay: 2}}}
	f.Add(flowfuzz.Encode(
		flowfuzz.Dgram(0, 0, flowfuzz.Marshal(f, rr, flowfuzz.Registration(0, 5, multiflow.NameRegister))),
		flowfuzz.Dgram(1, 0, flowfuzz.Marshal(f, flowfuzz.Registration(1, 6, multiflow.NameRegister), rr)),
		flowfuzz.Dgram(0, 1, flowfuzz.Marshal(f, rr)),                                                  // spoofed report
		flowfuzz.Dgram(0, 1, flowfuzz.Marshal(f, flowfuzz.Registration(0, 5, multiflow.NameRegister))), // replay from elsewhere
		flowfuzz.Dgram(1, 1, flowfuzz.Marshal(f, flowfuzz.Registration(0, 7, multiflow.NameRegister))), // flow 0's registration on flow 1
		flowfuzz.Dgram(0, 0, []byte{0x80, 0xc8, 0, 1}),                                                 // truncated SR
		flowfuzz.Dgram(0, 0, []byte{0x80, 96, 0, 1, 2, 3, 4, 5}),                                       // RTP, not RTCP
	))
	f.Add(flowfuzz.Encode(flowfuzz.Dgram(0, 1, flowfuzz.Marshal(f, flowfuzz.Registration(0, 1, multiflow.NameRegister))), flowfuzz.Dgram(0, 0, flowfuzz.Marshal(f, flowfuzz.Registration(0, 2, multiflow.NameRegister), rr))))
	fb := &rtcp.CCFeedbackReport{SenderSSRC: 99, ReportTimestamp: 1 << 20, ReportBlocks: []rtcp.CCFeedbackReportBlock{{
		MediaSSRC: flowfuzz.SSRC, BeginSequence: 65534, MetricBlocks: []rtcp.CCFeedbackMetricBlock{
			{Received: true, ArrivalTimeOffset: 10}, {}, {Received: true, ArrivalTimeOffset: 0x1FFF}}}}}
	f.Add(flowfuzz.Encode(flowfuzz.Dgram(0, 0, flowfuzz.Marshal(f, rr, fb, flowfuzz.Registration(0, 3, multiflow.NameRegister))), flowfuzz.Dgram(0, 0, flowfuzz.Marshal(f, fb)),
		flowfuzz.Dgram(0, 1, flowfuzz.Marshal(f, fb))))
	f.Add(flowfuzz.Encode(flowfuzz.Dgram(0, 2, flowfuzz.Marshal(f, flowfuzz.Registration(0, 1, multiflow.NameRegister))), flowfuzz.Dgram(1, 0, flowfuzz.Marshal(f, flowfuzz.Registration(1, 1, multiflow.NameAck)))))
}
