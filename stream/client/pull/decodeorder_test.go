package pull

import (
	"fmt"
	"strings"
	"testing"

	"flowcam/stream/client/playout"
)

// TestDecodeOrder feeds frames as the play-out buffer releases them (by
// timestamp) and checks they come out as they were sent. A frame is
// "name:first-last" (its sequence numbers), "K" marking a key frame.
func TestDecodeOrder(t *testing.T) {
	for _, tc := range []struct {
		name    string
		in      string // in presentation order
		out     string // what goes out, in order, flush included
		refused string
	}{
		{"no B-frames", "I:1-3K P1:4-4 P2:5-6", "I P1 P2", ""},
		{"B-frames", "I:1-2K B1:5-5 B2:6-6 P3:3-4 B4:9-9 B5:10-10 P6:7-8", "I P3 B1 B2 P6 B4 B5", ""},
		{"pyramid", "I:1-1K b1:4-4 B2:3-3 b3:5-5 P4:2-2", "I P4 B2 b1 b3", ""},
		{"skipped frame uses no numbers", "I:1-1K P1:2-2 P3:3-3", "I P1 P3", ""},
		{"key frame ends the wait", "I:1-1K B1:4-4 I2:6-6K P3:7-7", "I B1 I2 P3", ""},
		{"sent before what went out", "I:3-3K X:1-1 P1:4-4", "I P1", "X"},
		{"stop lets what follows on go", "I:1-1K B1:3-3 P:2-2 B2:4-4", "I P B1 B2", ""},
		{"stop drops what waits for a cut frame", "I:1-1K B1:4-4 B2:5-5", "I", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var d decodeOrder
			var out []*playout.Frame
			var refused []string
			names := map[*playout.Frame]string{}
			for _, w := range strings.Fields(tc.in) {
				f := &playout.Frame{Key: strings.HasSuffix(w, "K")}
				var name string
				fmt.Sscanf(strings.NewReplacer(":", " ", "-", " ", "K", "").Replace(w), "%s %d %d", &name, &f.FirstSeq, &f.LastSeq)
				names[f] = name
				var ok bool
				if out, ok = d.add(f, out); !ok {
					refused = append(refused, name)
				}
			}
			out, _ = d.flush(out)
			var got []string
			for _, f := range out {
				got = append(got, names[f])
			}
			if g := strings.Join(got, " "); g != tc.out {
				t.Errorf("out %q, want %q", g, tc.out)
			}
			if r := strings.Join(refused, " "); r != tc.refused {
				t.Errorf("refused %q, want %q", r, tc.refused)
			}
		})
	}
}

// TestDecodeOrderBound: a frame that never comes holds the ones after it
// up to maxReorder frames, then they go on without it.
func TestDecodeOrderBound(t *testing.T) {
	var d decodeOrder
	out, _ := d.add(&playout.Frame{Key: true, FirstSeq: 1, LastSeq: 1}, nil)
	for i := range int64(maxReorder) {
		out, _ = d.add(&playout.Frame{FirstSeq: 3 + i, LastSeq: 3 + i}, out) // 2 never comes
	}
	if len(out) != 1 || len(d.held) != maxReorder {
		t.Fatalf("%d out, %d waiting; want 1 and %d", len(out), len(d.held), maxReorder)
	}
	out, _ = d.add(&playout.Frame{FirstSeq: 3 + maxReorder, LastSeq: 3 + maxReorder}, out)
	if len(out) != maxReorder+2 || out[1].FirstSeq != 3 || len(d.held) != 0 {
		t.Fatalf("%d out, %d waiting after one more", len(out), len(d.held))
	}
	d.add(&playout.Frame{FirstSeq: 30, LastSeq: 30}, out)
	if n := d.clear(); n != 1 || len(d.held) != 0 {
		t.Fatalf("cleared %d", n)
	}
}
