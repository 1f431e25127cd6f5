package ccfb

import (
	"bytes"
	"encoding/hex"
	"testing"
	"time"

	"github.com/pion/rtcp"
)

var t0 = time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)

func ms(n int) time.Duration { return time.Duration(n) * time.Millisecond }

// arrival is one scripted packet: its sequence number and arrival time.
type arrival struct {
	seq uint16
	at  time.Duration
}

// cases feed both directions: the arrivals a receiver logs, the report it
// builds at report time, its exact bytes, and what the sender reads back.
var cases = []struct {
	name    string
	in      []arrival
	report  time.Duration
	golden  string // the whole RTCP packet, hex
	decoded []Arrival
}{
	{
		name:   "in order",
		in:     []arrival{{100, ms(10)}, {101, ms(12)}, {102, ms(20)}},
		report: ms(30),
		// V=2 FMT=11 PT=205 len=6, sender, media, begin 100 n=3, 3 entries
		// (ATO 20, 18, 10 units of 1/1024 s, R bit set) and one padding
		// entry, report timestamp.
		golden: "8bcd0006" + "11111111" + "22222222" + "00640003" + "8014" + "8012" + "800a" + "0000" + "ecc07fea",
		decoded: []Arrival{
			{Seq: 100, Received: true, Timed: true, At: ms(10)},
			{Seq: 101, Received: true, Timed: true, At: ms(12)},
			{Seq: 102, Received: true, Timed: true, At: ms(20)},
		},
	},
	{
		name:   "a gap and a wrap",
		in:     []arrival{{65534, ms(0)}, {0, ms(5)}},
		report: ms(6),
		golden: "8bcd0006" + "11111111" + "22222222" + "fffe0003" + "8006" + "0000" + "8001" + "0000" + "ecc07fea",
		decoded: []Arrival{
			{Seq: 65534, Received: true, Timed: true, At: ms(0)},
			{Seq: 65535},
			{Seq: 0, Received: true, Timed: true, At: ms(5)},
		},
	},
	{
		name:   "over range",
		in:     []arrival{{7, ms(0)}},
		report: 9 * time.Second,
		golden: "8bcd0005" + "11111111" + "22222222" + "00070001" + "9ffe" + "0000" + "ecc0ff92",
		decoded: []Arrival{
			{Seq: 7, Received: true},
		},
	},
}

func TestLogReportRoundTrip(t *testing.T) {
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			clock := NewClock(t0)
			var l Log
			for _, a := range c.in {
				l.Add(a.seq, t0.Add(a.at))
			}
			now := t0.Add(c.report)
			b, ok := l.Block(0x22222222, now)
			if !ok {
				t.Fatal("no block")
			}
			raw, err := clock.Report(0x11111111, now, b).Marshal()
			if err != nil {
				t.Fatal(err)
			}
			// The timestamp depends on the wall clock: check it apart.
			want, _ := hex.DecodeString(c.golden)
			if !bytes.Equal(raw[:len(raw)-4], want[:len(want)-4]) {
				t.Fatalf("bytes\n got %x\nwant %x", raw, want)
			}
			pkts, err := rtcp.Unmarshal(raw)
			if err != nil {
				t.Fatal(err)
			}
			var r Reader
			got := r.Arrivals(pkts[0].(*rtcp.CCFeedbackReport), 0x22222222, nil)
			// The reader's timeline starts at the report: shift ours to it.
			for i := range got {
				if got[i].Timed {
					got[i].At += c.report
				}
			}
			if !equalArrivals(got, c.decoded) {
				t.Fatalf("arrivals\n got %+v\nwant %+v", got, c.decoded)
			}
		})
	}
}

func equalArrivals(a, b []Arrival) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		d := a[i].At - b[i].At
		if a[i].Seq != b[i].Seq || a[i].Received != b[i].Received || a[i].Timed != b[i].Timed ||
			d > time.Millisecond || d < -time.Millisecond {
			return false
		}
	}
	return true
}

func TestEveryPacketIsReportedTwice(t *testing.T) {
	var l Log
	seen := map[uint16]int{}
	seq := uint16(65000)
	for report := 0; report < 50; report++ {
		for k := 0; k < 7; k++ {
			l.Add(seq, t0)
			seq++
		}
		b, ok := l.Block(1, t0)
		if !ok {
			t.Fatal("no block")
		}
		for i := range b.MetricBlocks {
			seen[b.BeginSequence+uint16(i)]++
		}
	}
	for s := uint16(65000); s != seq-7; s++ {
		if seen[s] != 2 {
			t.Fatalf("packet %d reported %d times, want 2", s, seen[s])
		}
	}
}

func TestBlockIsBounded(t *testing.T) {
	var l Log
	for s := 0; s < 3000; s++ {
		l.Add(uint16(s), t0)
	}
	b, _ := l.Block(1, t0)
	if len(b.MetricBlocks) != MaxEntries || b.BeginSequence != 3000-MaxEntries {
		t.Fatalf("block of %d entries from %d", len(b.MetricBlocks), b.BeginSequence)
	}
	if _, ok := l.Block(1, t0); !ok {
		t.Fatal("the second block repeats the first's packets")
	}
	if _, ok := l.Block(1, t0); ok {
		t.Fatal("a third block with nothing new")
	}
}

func TestReaderUnrollsAcrossTheWrap(t *testing.T) {
	var r Reader
	at := func(ts uint32) time.Duration {
		rep := &rtcp.CCFeedbackReport{ReportTimestamp: ts, ReportBlocks: []rtcp.CCFeedbackReportBlock{{
			MediaSSRC: 1, MetricBlocks: []rtcp.CCFeedbackMetricBlock{{Received: true}}}}}
		return r.Arrivals(rep, 1, nil)[0].At
	}
	a := at(0xFFFF0000)
	b := at(0x00010000) // two seconds later, past the wrap
	if b-a != 2*time.Second {
		t.Fatalf("unrolled step %v, want 2s", b-a)
	}
	if c := at(0xFFFF8000); c-a != time.Second/2 {
		t.Fatalf("a late report from another flow: %v, want 500ms", c-a)
	}
}
