package h264

import "testing"

func TestClean(t *testing.T) {
	sps, pps, idr, slice := []byte{0x67, 1}, []byte{0x68, 2}, []byte{0x65, 3}, []byte{0x41, 4}
	bad := []byte{0xe5, 5} // an IDR slice header with the forbidden bit set
	for _, tc := range []struct {
		name    string
		au      [][]byte
		kept    int
		dropped int
	}{
		{"whole", [][]byte{sps, pps, idr}, 3, 0},
		{"a damaged slice of two", [][]byte{slice, bad, slice}, 2, 1},
		{"an empty unit", [][]byte{sps, {}, pps, idr}, 3, 1},
		{"no picture left", [][]byte{sps, pps, bad}, 0, 1},
		{"parameter sets alone", [][]byte{sps, pps}, 2, 0},
		{"nothing left", [][]byte{bad, {}}, 0, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			kept, dropped := Clean(tc.au)
			if len(kept) != tc.kept || dropped != tc.dropped {
				t.Fatalf("kept %d, dropped %d; want %d, %d", len(kept), dropped, tc.kept, tc.dropped)
			}
			for _, n := range kept {
				if Damaged(n) {
					t.Fatalf("kept a damaged unit %x", n)
				}
			}
		})
	}
}
