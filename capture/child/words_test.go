package child

import (
	"reflect"
	"testing"
)

func TestSplitCommand(t *testing.T) {
	for _, c := range []struct {
		in   string
		want []string
	}{
		{"ffmpeg -i x.mp4", []string{"ffmpeg", "-i", "x.mp4"}},
		{"  gst-launch-1.0 -q videotestsrc ! 'video/x-raw,width=640' ! fdsink  ", []string{"gst-launch-1.0", "-q", "videotestsrc", "!", "video/x-raw,width=640", "!", "fdsink"}},
		{`tool "a b" 'c d' e\ f`, []string{"tool", "a b", "c d", "e f"}},
		{`tool "say \"hi\" \$HOME \n" 'it''s'`, []string{"tool", `say "hi" $HOME \n`, "its"}},
		{`tool $HOME *.jpg >out`, []string{"tool", "$HOME", "*.jpg", ">out"}},
		{`a""b ''`, []string{"ab", ""}},
		{"", nil},
		{"gst-launch-1.0 \\\n  videotestsrc", []string{"gst-launch-1.0", "videotestsrc"}},
	} {
		got, err := SplitCommand(c.in)
		if err != nil || !reflect.DeepEqual(got, c.want) {
			t.Errorf("%q: %q %v, want %q", c.in, got, err, c.want)
		}
	}
	for _, bad := range []string{`tool "open`, `tool 'open`, `tool \`} {
		if got, err := SplitCommand(bad); err == nil {
			t.Errorf("%q accepted as %q", bad, got)
		}
	}
}

// FuzzSplitCommand: what splits, quoted back and split again, gives the
// same words.
func FuzzSplitCommand(f *testing.F) {
	for _, s := range []string{`a "b c" 'd'`, `x\ y "\$z"`, "gst-launch-1.0 a ! b", `"`, "''"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		words, err := SplitCommand(s)
		if err != nil {
			return
		}
		again, err := SplitCommand(QuoteCommand(words))
		if err != nil || !reflect.DeepEqual(again, words) && !(len(again) == 0 && len(words) == 0) {
			t.Fatalf("%q -> %q -> %q -> %q %v", s, words, QuoteCommand(words), again, err)
		}
	})
}
