package pull

import (
	"encoding/binary"
	"testing"

	"github.com/pion/rtcp"
)

// FuzzTCPSourceRTCP feeds the client's RTCP receive path (the interleaved
// RTCP channel of a TCP session) arbitrary bytes and mutated compound
// packets: it must not panic, and the clock mapping it keeps is taken from
// the last sender report in the packet, and only from one.
func FuzzTCPSourceRTCP(f *testing.F) {
	for _, pkts := range [][]rtcp.Packet{
		{&rtcp.SenderReport{SSRC: 1, NTPTime: 0xe000000100000000, RTPTime: 90000, PacketCount: 10, OctetCount: 12000},
			rtcp.NewCNAMESourceDescription(1, "flowcam@cam")},
		{&rtcp.ReceiverReport{SSRC: 2}, &rtcp.SenderReport{SSRC: 1, RTPTime: 5}, &rtcp.SenderReport{SSRC: 3, RTPTime: 6}},
		{&rtcp.Goodbye{Sources: []uint32{1}}},
		{&rtcp.ApplicationDefined{Name: "FCOK", SubType: 0, SSRC: 1, Data: make([]byte, 24)}},
	} {
		b, err := rtcp.Marshal(pkts)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte{0x80, 200, 0, 6})
	f.Fuzz(func(t *testing.T, data []byte) {
		var s tcpSource
		s.readRTCP(data)
		pkts, err := rtcp.Unmarshal(data)
		var last *rtcp.SenderReport
		if err == nil {
			for _, p := range pkts {
				if sr, ok := p.(*rtcp.SenderReport); ok {
					last = sr
				}
			}
		}
		got := s.senderReport()
		if (got == nil) != (last == nil) || got != nil && got.RTPTime != last.RTPTime {
			t.Fatalf("sender report %+v, packet has %+v", got, last)
		}
	})
}

// FuzzSeqStats: whatever sequence numbers arrive (reordered, duplicated,
// wrapped, from another stream), the loss the client reports stays
// between 0 and everything and every packet is counted.
func FuzzSeqStats(f *testing.F) {
	seqs := func(s ...uint16) []byte {
		var b []byte
		for _, v := range s {
			b = binary.BigEndian.AppendUint16(b, v)
		}
		return b
	}
	f.Add(seqs(1, 2, 3, 5, 4, 4, 6))
	f.Add(seqs(65534, 65535, 0, 1, 3))
	f.Add(seqs(100, 40000, 100, 7000))
	f.Add(seqs(0, 32768, 0, 32767, 65535))
	f.Fuzz(func(t *testing.T, data []byte) {
		var q seqStats
		n := uint64(0)
		for ; len(data) >= 2; data = data[2:] {
			q.add(binary.BigEndian.Uint16(data), len(data))
			n++
			s := q.snapshot()
			if s.Packets != n || s.Lost < 0 || s.Loss < 0 || s.Loss > 1 {
				t.Fatalf("after %d packets: %+v", n, s)
			}
		}
	})
}
