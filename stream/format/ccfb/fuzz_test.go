package ccfb

import (
	"encoding/hex"
	"testing"

	"github.com/pion/rtcp"
)

// FuzzReader feeds arbitrary RTCP to a sender's Reader, as a hostile or
// broken receiver could. Whatever arrives, it never panics, reports at most
// the entries the packet holds, and marks no unreceived packet timed.
func FuzzReader(f *testing.F) {
	for _, c := range cases {
		b, _ := hex.DecodeString(c.golden)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		pkts, err := rtcp.Unmarshal(data)
		if err != nil {
			return
		}
		var r Reader
		for _, p := range pkts {
			rep, ok := p.(*rtcp.CCFeedbackReport)
			if !ok {
				continue
			}
			for _, b := range rep.ReportBlocks {
				got := r.Arrivals(rep, b.MediaSSRC, nil)
				if len(got) > len(data) {
					t.Fatalf("%d arrivals from %d bytes", len(got), len(data))
				}
				for _, a := range got {
					if a.Timed && !a.Received {
						t.Fatalf("unreceived packet with a time: %+v", a)
					}
				}
			}
		}
	})
}
