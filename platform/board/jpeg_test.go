package board

import (
	"os"
	"slices"
	"testing"
)

func TestJetsonJPEG(t *testing.T) {
	cases := map[string][]string{
		"jetson-nano":      {"/dev/nvhost-nvjpg"},
		"jetson-orin-nano": {"/dev/nvhost-nvjpg", "/dev/nvhost-nvjpg1"},
		"rpi4":             nil,
		"x86-pc":           nil,
	}
	for fixture, want := range cases {
		if got := JetsonJPEG(os.DirFS("testdata/" + fixture)); !slices.Equal(got, want) {
			t.Errorf("%s: %q, want %q", fixture, got, want)
		}
	}
	if JetsonJPEG(nil) != nil {
		t.Error("nil fs")
	}
}
