package flowrecv

import (
	"bytes"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"

	"flowcam/internal/testutil/flowfuzz"
	"flowcam/internal/testutil/packetconn"
	"flowcam/stream/format/multiflow"
)

// FuzzReceiverDatagrams drives the client end of a two-flow session with
// arbitrary datagrams from the server's flow addresses and from others:
// packets from elsewhere are counted as foreign and change nothing; a flow
// is registered only by an authentic acknowledgement for that flow; RTP
// without the flow's extension is counted as malformed; sender reports are
// taken only from the server.
func FuzzReceiverDatagrams(f *testing.F) {
	base := uint64(flowfuzz.Now.UnixNano())
	rtpPkt := func(flow uint8, seq uint16) []byte {
		p := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 26, SequenceNumber: seq, Timestamp: 9000, SSRC: flowfuzz.SSRC},
			Payload: []byte{0, 0, 0, 0, 1, 255, 40, 30, 0xde, 0xad}}
		p.Header.SetExtension(multiflow.DefaultExtID, multiflow.AppendExtension(nil, flow, seq))
		b, _ := p.Marshal()
		return b
	}
	sr := &rtcp.SenderReport{SSRC: flowfuzz.SSRC, NTPTime: 0xe000000000000000, RTPTime: 1234}
	f.Add(flowfuzz.Encode(
		flowfuzz.Dgram(0, 0, flowfuzz.Marshal(f, flowfuzz.Registration(0, base+1, multiflow.NameAck))),
		flowfuzz.Dgram(1, 0, flowfuzz.Marshal(f, sr, flowfuzz.Registration(1, base+2, multiflow.NameAck))),
		flowfuzz.Dgram(0, 0, rtpPkt(0, 1)),
		flowfuzz.Dgram(0, 0, rtpPkt(0, 3)),
		flowfuzz.Dgram(1, 0, rtpPkt(0, 2)), // flow 0's packet on flow 1
		flowfuzz.Dgram(0, 1, rtpPkt(0, 4)), // from elsewhere
		flowfuzz.Dgram(0, 1, flowfuzz.Marshal(f, sr)),
	))
	f.Add(flowfuzz.Encode(flowfuzz.Dgram(1, 0, flowfuzz.Marshal(f, flowfuzz.Registration(0, base+1, multiflow.NameAck))), flowfuzz.Dgram(0, 0, flowfuzz.Marshal(f, flowfuzz.Registration(0, base+1, multiflow.NameRegister)))))
	f.Add(flowfuzz.Encode(flowfuzz.Dgram(0, 0, []byte{0x80, 0xc8, 0, 6}), flowfuzz.Dgram(0, 0, []byte{0x90, 26, 0, 1})))
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
		conns := []*packetconn.Conn{flowfuzz.Conn(5000), flowfuzz.Conn(5002)}
		r, err := New(Config{Session: flowfuzz.Session, Token: flowfuzz.Token, ExtID: multiflow.DefaultExtID, ServerSSRC: flowfuzz.SSRC,
			Servers: servers, Conns: []net.PacketConn{conns[0], conns[1]}, ReportEvery: time.Hour,
			Now: func() time.Time { return flowfuzz.Now }})
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
		for _, rec := range flowfuzz.Records(data, 2, 4) {
			conns[rec.Flow].Deliver(sourceFor(rec.Flow, rec.Src), rec.Data)
			if rec.Src != 0 {
				foreign[rec.Flow]++
				continue
			}
			if multiflow.IsRTCP(rec.Data) {
				pkts, err := rtcp.Unmarshal(rec.Data)
				if err != nil {
					malformed[rec.Flow]++
				}
				for _, p := range pkts {
					switch p := p.(type) {
					case *rtcp.SenderReport:
						if p.SSRC == flowfuzz.SSRC {
							lastSR = &SenderReport{RTPTime: p.RTPTime}
						}
					case *rtcp.ApplicationDefined:
						if p.Name == multiflow.NameAck && int(p.SubType) == rec.Flow {
							if _, ok := multiflow.VerifyRegistration(flowfuzz.Token, flowfuzz.Session, multiflow.NameAck, p.SubType, p.Data); ok {
								acked[rec.Flow] = true
							}
						}
					}
				}
				continue
			}
			var p rtp.Packet
			if p.Unmarshal(bytes.Clone(rec.Data)) != nil {
				malformed[rec.Flow]++
				continue
			}
			if fl, _, ok := multiflow.ParseExtension(p.GetExtension(multiflow.DefaultExtID)); !ok || int(fl) != rec.Flow {
				malformed[rec.Flow]++
				continue
			}
			packets[rec.Flow]++
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
