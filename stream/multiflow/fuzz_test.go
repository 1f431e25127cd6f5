package multiflow

import (
	"bytes"
	"encoding/binary"
	"net"
	"net/netip"
	"reflect"
	"testing"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"

	"flowcam/internal/testutil/packetconn"
)

// FuzzParseRequest: whatever the client's Multiflow header holds, an
// accepted request has at least one flow and a known mode, and writes back
// to a header that parses to the same request.
func FuzzParseRequest(f *testing.F) {
	for _, s := range []string{"flows=2;mode=stripe", "flows=3;mode=DUPLICATE", "mode=failover", "", "flows=0",
		"flows=-1;mode=x", " flows = 2 ; mode=stripe", "flows=9;foo=bar", "flows=2;mode=stripe;report=50;latency=150",
		"flows=2;mode=stripe;weights=1,2.5", "flows=2;weights=1", "flows=1;report=5", "flows=1;latency=99999999999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		r, err := ParseRequest(v)
		if err != nil {
			return
		}
		if r.Flows < 1 || r.Mode < Stripe || r.Mode > Failover {
			t.Fatalf("%q accepted as %+v", v, r)
		}
		if len(r.Weights) > 0 && len(r.Weights) != r.Flows || r.Report < 0 || r.Latency < 0 {
			t.Fatalf("%q accepted as %+v", v, r)
		}
		back, err := ParseRequest(r.String())
		if err != nil || !reflect.DeepEqual(back, r) {
			t.Fatalf("%q -> %q -> %+v %v", v, r.String(), back, err)
		}
	})
}

// FuzzParseResponse: an accepted server header has 1 to MaxFlows flows, a
// valid extension id, and round-trips through String.
func FuzzParseResponse(f *testing.F) {
	good := Response{Mode: Duplicate, ExtID: 1, Token: [16]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16},
		Flows: []netip.AddrPort{netip.MustParseAddrPort("192.0.2.1:6000"), netip.MustParseAddrPort("[2001:db8::1]:6002")}}
	f.Add(good.String())
	f.Add("mode=stripe;token=00000000000000000000000000000000;ext=14;flows=[fe80::1%eth0]:5,[::ffff:1.2.3.4]:9")
	f.Add("mode=failover;token=zz;ext=1;flows=1.2.3.4:5")
	f.Add("ext=15;flows=1.2.3.4:5")
	f.Add("ext=1;flows=1.1.1.1:1,1.1.1.1:2,1.1.1.1:3,1.1.1.1:4,1.1.1.1:5,1.1.1.1:6,1.1.1.1:7,1.1.1.1:8;flows=1.1.1.1:9")
	f.Fuzz(func(t *testing.T, v string) {
		r, err := ParseResponse(v)
		if err != nil {
			return
		}
		if len(r.Flows) < 1 || len(r.Flows) > MaxFlows || r.ExtID < 1 || r.ExtID > 14 || r.Mode < Stripe || r.Mode > Failover {
			t.Fatalf("%q accepted as %+v", v, r)
		}
		back, err := ParseResponse(r.String())
		if err != nil || back.Mode != r.Mode || back.Token != r.Token || back.ExtID != r.ExtID || len(back.Flows) != len(r.Flows) {
			t.Fatalf("%q -> %q -> %+v %v", v, r.String(), back, err)
		}
		for i := range r.Flows {
			if back.Flows[i] != r.Flows[i] {
				t.Fatalf("flow %d: %v -> %v", i, r.Flows[i], back.Flows[i])
			}
		}
	})
}

// FuzzVerifyRegistration: a registration's data verifies only with the
// token, session, direction and flow it was made for, and whatever bytes
// verify are exactly what appData makes for them.
func FuzzVerifyRegistration(f *testing.F) {
	tok := []byte("0123456789abcdef")
	f.Add(tok, "sess1", uint8(0), uint64(1), appData([16]byte(tok), "sess1", nameRegister, Registration{0, 1}), uint8(0))
	f.Add(tok, "sess1", uint8(1), uint64(1<<60), appData([16]byte(tok), "sess1", nameAck, Registration{1, 1 << 60}), uint8(3))
	f.Add(tok, "", uint8(255), uint64(0), make([]byte, 24), uint8(1))
	f.Fuzz(func(t *testing.T, token []byte, session string, flow uint8, counter uint64, data []byte, flip uint8) {
		var tk [16]byte
		copy(tk[:], token)
		for _, name := range []string{nameRegister, nameAck} {
			// Arbitrary bytes.
			if r, ok := verify(tk, session, name, flow, data); ok {
				if r.Flow != flow || !bytes.Equal(data, appData(tk, session, name, r)) {
					t.Fatalf("%x verified as %+v", data, r)
				}
			}
			// A genuine registration, and the same with one thing changed.
			reg := Registration{Flow: flow, Counter: counter}
			d := appData(tk, session, name, reg)
			if r, ok := verify(tk, session, name, flow, d); !ok || r != reg {
				t.Fatalf("genuine registration refused: %+v %v", r, ok)
			}
			other := map[string]bool{nameRegister: true, nameAck: true}
			delete(other, name)
			for o := range other {
				if _, ok := verify(tk, session, o, flow, d); ok {
					t.Fatal("a registration verified as its acknowledgement (reflection)")
				}
			}
			if _, ok := verify(tk, session, name, flow+1, d); ok {
				t.Fatal("registration verified for another flow")
			}
			if _, ok := verify(tk, session+"x", name, flow, d); ok {
				t.Fatal("registration verified for another session")
			}
			tk2 := tk
			tk2[flip%16] ^= 1
			if _, ok := verify(tk2, session, name, flow, d); ok {
				t.Fatal("registration verified with another token")
			}
			bad := bytes.Clone(d)
			bad[int(flip)%len(bad)] ^= 1 << (flip % 8)
			if _, ok := verify(tk, session, name, flow, bad); ok {
				t.Fatal("tampered registration verified")
			}
			if _, ok := verify(tk, session, name, flow, append(d, 0)); ok {
				t.Fatal("registration with trailing bytes verified")
			}
		}
	})
}

// flowConn is a flow socket fed by the test, bound to 10.0.0.1:port.
func flowConn(port int) *packetconn.Conn {
	return packetconn.New(&net.UDPAddr{IP: net.IPv4(10, 0, 0, 1), Port: port})
}

var (
	fuzzToken   = [16]byte{0xf1, 0x0c, 0xa3, 7, 6, 5, 4, 3, 2, 1, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff}
	fuzzSession = "0123456789abcdef"
	fuzzSSRC    = uint32(0x5eed5eed)
	fuzzNow     = time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
)

// record is one input datagram: the flow socket it arrives on, the source
// it comes from (an index into the test's source list) and its bytes.
type record struct {
	flow, src int
	data      []byte
}

// records splits fuzz input into [flow][source][length u16][bytes] records.
func records(data []byte, flows, sources int) []record {
	var out []record
	for len(data) >= 4 && len(out) < 64 {
		r := record{flow: int(data[0]) % flows, src: int(data[1]) % sources}
		n := min(int(binary.BigEndian.Uint16(data[2:])), len(data)-4, 1500)
		r.data = data[4 : 4+n]
		data = data[4+n:]
		out = append(out, r)
	}
	return out
}

func encodeRecords(rs ...record) []byte {
	var b []byte
	for _, r := range rs {
		b = append(b, byte(r.flow), byte(r.src))
		b = binary.BigEndian.AppendUint16(b, uint16(len(r.data)))
		b = append(b, r.data...)
	}
	return b
}

func marshal(tb testing.TB, pkts ...rtcp.Packet) []byte {
	b, err := rtcp.Marshal(pkts)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func registration(flow uint8, counter uint64, name string) *rtcp.ApplicationDefined {
	return &rtcp.ApplicationDefined{SubType: flow, SSRC: 99, Name: name,
		Data: appData(fuzzToken, fuzzSession, name, Registration{Flow: flow, Counter: counter})}
}

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
		conns := []*packetconn.Conn{flowConn(6000), flowConn(6002)}
		s, err := NewSender(SenderConfig{Session: fuzzSession, Token: fuzzToken, ExtID: 1, SSRC: fuzzSSRC,
			Conns: []net.PacketConn{conns[0], conns[1]}, ReportEvery: time.Hour, Now: func() time.Time { return fuzzNow }})
		if err != nil {
			t.Fatal(err)
		}
		// The model.
		var forged, replayed, spoofed uint64
		client := make([]netip.AddrPort, len(conns))
		counter := make([]uint64, len(conns))
		for _, r := range records(data, len(conns), len(sources)) {
			conns[r.flow].Deliver(sources[r.src], r.data)
			ua, ok := sources[r.src].(*net.UDPAddr)
			if !ok || !IsRTCP(r.data) {
				continue
			}
			pkts, err := rtcp.Unmarshal(r.data)
			if err != nil {
				forged++
				continue
			}
			src := netip.AddrPortFrom(ua.AddrPort().Addr().Unmap(), ua.AddrPort().Port())
			for _, p := range pkts {
				app, ok := p.(*rtcp.ApplicationDefined)
				if !ok || app.Name != nameRegister {
					continue
				}
				reg, ok := verify(fuzzToken, fuzzSession, nameRegister, app.SubType, app.Data)
				switch {
				case !ok || int(app.SubType) != r.flow:
					forged++
				case reg.Counter <= counter[r.flow]:
					replayed++
				default:
					counter[r.flow], client[r.flow] = reg.Counter, src
				}
			}
			if reports(pkts) && src != client[r.flow] {
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

// FuzzReceiverDatagrams drives the client end of a two-flow session with
// arbitrary datagrams from the server's flow addresses and from others:
// packets from elsewhere are counted as foreign and change nothing; a flow
// is registered only by an authentic acknowledgement for that flow; RTP
// without the flow's extension is counted as malformed; sender reports are
// taken only from the server.
func FuzzReceiverDatagrams(f *testing.F) {
	base := uint64(fuzzNow.UnixNano())
	rtpPkt := func(flow uint8, seq uint16) []byte {
		p := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 26, SequenceNumber: seq, Timestamp: 9000, SSRC: fuzzSSRC},
			Payload: []byte{0, 0, 0, 0, 1, 255, 40, 30, 0xde, 0xad}}
		p.Header.SetExtension(DefaultExtID, AppendExtension(nil, flow, seq))
		b, _ := p.Marshal()
		return b
	}
	sr := &rtcp.SenderReport{SSRC: fuzzSSRC, NTPTime: 0xe000000000000000, RTPTime: 1234}
	f.Add(encodeRecords(
		record{0, 0, marshal(f, registration(0, base+1, nameAck))},
		record{1, 0, marshal(f, sr, registration(1, base+2, nameAck))},
		record{0, 0, rtpPkt(0, 1)},
		record{0, 0, rtpPkt(0, 3)},
		record{1, 0, rtpPkt(0, 2)}, // flow 0's packet on flow 1
		record{0, 1, rtpPkt(0, 4)}, // from elsewhere
		record{0, 1, marshal(f, sr)},
	))
	f.Add(encodeRecords(record{1, 0, marshal(f, registration(0, base+1, nameAck))}, record{0, 0, marshal(f, registration(0, base+1, nameRegister))}))
	f.Add(encodeRecords(record{0, 0, []byte{0x80, 0xc8, 0, 6}}, record{0, 0, []byte{0x90, 26, 0, 1}}))
	f.Fuzz(func(t *testing.T, data []byte) {
		servers := []netip.AddrPort{netip.MustParseAddrPort("203.0.113.1:6000"), netip.MustParseAddrPort("203.0.113.2:6002")}
		// A source index picks: the flow's own server, some other host,
		// the other flow's server, a non-UDP address.
		sourceFor := func(flow, src int) net.Addr {
			switch src {
			case 0:
				return net.UDPAddrFromAddrPort(servers[flow])
			case 1:
				return &net.UDPAddr{IP: net.IPv4(198, 51, 100, 7), Port: 6000}
			case 2:
				return net.UDPAddrFromAddrPort(servers[1-flow])
			}
			return &net.IPAddr{IP: servers[flow].Addr().AsSlice()}
		}
		conns := []*packetconn.Conn{flowConn(5000), flowConn(5002)}
		r, err := NewReceiver(ReceiverConfig{Session: fuzzSession, Token: fuzzToken, ExtID: DefaultExtID, ServerSSRC: fuzzSSRC,
			Servers: servers, Conns: []net.PacketConn{conns[0], conns[1]}, ReportEvery: time.Hour,
			Now: func() time.Time { return fuzzNow }})
		if err != nil {
			t.Fatal(err)
		}
		go func() { // drain delivered packets
			for range r.Packets() {
			}
		}()
		foreign := make([]uint64, 2)
		malformed := make([]uint64, 2)
		packets := make([]uint64, 2)
		acked := make([]bool, 2)
		var lastSR *SenderReport
		for _, rec := range records(data, 2, 4) {
			conns[rec.flow].Deliver(sourceFor(rec.flow, rec.src), rec.data)
			if rec.src != 0 {
				foreign[rec.flow]++
				continue
			}
			if IsRTCP(rec.data) {
				pkts, err := rtcp.Unmarshal(rec.data)
				if err != nil {
					malformed[rec.flow]++
				}
				for _, p := range pkts {
					switch p := p.(type) {
					case *rtcp.SenderReport:
						if p.SSRC == fuzzSSRC {
							lastSR = &SenderReport{RTPTime: p.RTPTime}
						}
					case *rtcp.ApplicationDefined:
						if p.Name == nameAck && int(p.SubType) == rec.flow {
							if _, ok := verify(fuzzToken, fuzzSession, nameAck, p.SubType, p.Data); ok {
								acked[rec.flow] = true
							}
						}
					}
				}
				continue
			}
			var p rtp.Packet
			if p.Unmarshal(bytes.Clone(rec.data)) != nil {
				malformed[rec.flow]++
				continue
			}
			if fl, _, ok := ParseExtension(p.GetExtension(DefaultExtID)); !ok || int(fl) != rec.flow {
				malformed[rec.flow]++
				continue
			}
			packets[rec.flow]++
		}
		gotSR := r.LastSenderReport()
		r.Close()
		if (gotSR == nil) != (lastSR == nil) || gotSR != nil && gotSR.RTPTime != lastSR.RTPTime {
			t.Fatalf("sender report %+v, want %+v", gotSR, lastSR)
		}
		for i, fs := range r.Stats() {
			if fs.Foreign != foreign[i] || fs.Malformed != malformed[i] || fs.Packets != packets[i] || fs.Registered != acked[i] {
				t.Fatalf("flow %d: %+v, want foreign %d malformed %d packets %d registered %v", i, fs, foreign[i], malformed[i], packets[i], acked[i])
			}
			if fs.Lost < 0 || fs.Loss < 0 || fs.Loss > 1 || fs.RTT < 0 || fs.Jitter < 0 {
				t.Fatalf("flow %d: %+v", i, fs)
			}
		}
	})
}

// senderSeeds are genuine client reports (receiver report, RFC 8888
// feedback, registration) and the attacks FuzzSenderDatagrams checks.
func senderSeeds(f *testing.F) {
	rr := &rtcp.ReceiverReport{SSRC: 99, Reports: []rtcp.ReceptionReport{{SSRC: fuzzSSRC, FractionLost: 12, Jitter: 30, LastSenderReport: 1, Delay: 2}}}
	f.Add(encodeRecords(
		record{0, 0, marshal(f, rr, registration(0, 5, nameRegister))},
		record{1, 0, marshal(f, registration(1, 6, nameRegister), rr)},
		record{0, 1, marshal(f, rr)},                               // spoofed report
		record{0, 1, marshal(f, registration(0, 5, nameRegister))}, // replay from elsewhere
		record{1, 1, marshal(f, registration(0, 7, nameRegister))}, // flow 0's registration on flow 1
		record{0, 0, []byte{0x80, 0xc8, 0, 1}},                     // truncated SR
		record{0, 0, []byte{0x80, 96, 0, 1, 2, 3, 4, 5}},           // RTP, not RTCP
	))
	f.Add(encodeRecords(record{0, 1, marshal(f, registration(0, 1, nameRegister))}, record{0, 0, marshal(f, registration(0, 2, nameRegister), rr)}))
	fb := &rtcp.CCFeedbackReport{SenderSSRC: 99, ReportTimestamp: 1 << 20, ReportBlocks: []rtcp.CCFeedbackReportBlock{{
		MediaSSRC: fuzzSSRC, BeginSequence: 65534, MetricBlocks: []rtcp.CCFeedbackMetricBlock{
			{Received: true, ArrivalTimeOffset: 10}, {}, {Received: true, ArrivalTimeOffset: 0x1FFF}}}}}
	f.Add(encodeRecords(record{0, 0, marshal(f, rr, fb, registration(0, 3, nameRegister))}, record{0, 0, marshal(f, fb)},
		record{0, 1, marshal(f, fb)}))
	f.Add(encodeRecords(record{0, 2, marshal(f, registration(0, 1, nameRegister))}, record{1, 0, marshal(f, registration(1, 1, nameAck))}))
}
