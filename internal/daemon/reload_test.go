package daemon

import "testing"

// TestRunningKeeps: a reload keeps a path whose settings are unchanged,
// whoever joins or leaves its shared capture, unless a new sibling means
// it must give up the source it owns for a tee.
func TestRunningKeeps(t *testing.T) {
	cam := func(path string, shared string) streamSpec {
		return streamSpec{StreamConfig: StreamConfig{Path: path, Source: "pattern", FPS: 25}, shared: shared}
	}
	for _, tc := range []struct {
		name string
		was  streamSpec
		teed bool
		now  streamSpec
		keep bool
	}{
		{"alone, unchanged", cam("/a", ""), false, cam("/a", ""), true},
		{"siblings change on the tee", cam("/a", "/a,/b"), true, cam("/a", "/a,/c"), true},
		{"last sibling left", cam("/a", "/a,/b"), true, cam("/a", ""), true},
		{"back to sharing on its tee", cam("/a", ""), true, cam("/a", "/a,/b"), true},
		{"first sibling arrives", cam("/a", ""), false, cam("/a", "/a,/b"), false},
		{"settings change", cam("/a", "/a,/b"), true, streamSpec{StreamConfig: StreamConfig{Path: "/a", Source: "pattern", FPS: 5}, shared: "/a,/b"}, false},
		{"camera asked for something else", cam("/a", "/a,/b"), true, func() streamSpec { s := cam("/a", "/a,/b"); s.want = 1; return s }(), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &running{spec: tc.was, teed: tc.teed}
			if got := r.keeps(tc.now); got != tc.keep {
				t.Fatalf("keeps = %v, want %v", got, tc.keep)
			}
		})
	}
}
