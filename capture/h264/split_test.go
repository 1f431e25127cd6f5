package h264

import (
	"bytes"
	"errors"
	"io"
	"os/exec"
	"testing"
	"testing/iotest"

	mch264 "github.com/bluenviron/mediacommon/pkg/codecs/h264"

	"flowcam/internal/testutil/need"
)

// x264 makes a 25-frame Annex B stream with ffmpeg: a key frame every 10
// frames, with or without access unit delimiters.
func x264(t *testing.T, params string) []byte {
	t.Helper()
	need.Tool(t, "ffmpeg")
	out, err := exec.Command("ffmpeg", "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i", "testsrc2=size=176x144:rate=25",
		"-frames:v", "25", "-c:v", "libx264", "-g", "10", "-bf", "0", "-x264-params", params, "-f", "h264", "-").Output()
	if err != nil {
		t.Fatalf("ffmpeg: %v", err)
	}
	return out
}

func readAll(t *testing.T, r io.Reader) [][][]byte {
	t.Helper()
	s := NewSplitter(r, 1<<20)
	var aus [][][]byte
	for {
		au, err := s.Next()
		if errors.Is(err, io.EOF) {
			return aus
		}
		if err != nil {
			t.Fatal(err)
		}
		var copied [][]byte
		for _, n := range au {
			copied = append(copied, bytes.Clone(n))
		}
		aus = append(aus, copied)
	}
}

// TestSplitX264: x264's stream comes out as 25 access units, whatever the
// reads' sizes, key frames at 0, 10 and 20 with the parameter sets at the
// first, and the NAL units are exactly mediacommon's reading of the
// stream.
func TestSplitX264(t *testing.T) {
	for _, params := range []string{"aud=0", "aud=1", "slices=3"} {
		t.Run(params, func(t *testing.T) {
			stream := x264(t, params)
			whole := readAll(t, bytes.NewReader(stream))
			bytewise := readAll(t, iotest.OneByteReader(bytes.NewReader(stream)))
			if len(whole) != 25 || len(bytewise) != 25 {
				t.Fatalf("%d and %d access units, want 25", len(whole), len(bytewise))
			}
			var all [][]byte
			for i, au := range whole {
				if Key(au) != (i%10 == 0) {
					t.Errorf("unit %d: key %v", i, Key(au))
				}
				for j := range au {
					if !bytes.Equal(au[j], bytewise[i][j]) {
						t.Fatalf("unit %d NAL %d differs when read a byte at a time", i, j)
					}
				}
				all = append(all, au...)
			}
			want, err := mch264.AnnexBUnmarshal(stream)
			if err != nil {
				t.Fatal(err)
			}
			if len(want) != len(all) {
				t.Fatalf("%d NAL units, mediacommon finds %d", len(all), len(want))
			}
			for i := range want {
				if !bytes.Equal(want[i], all[i]) {
					t.Fatalf("NAL %d differs from mediacommon's", i)
				}
			}
			w, h, err := PictureSize(ParameterSet(whole[0], TypeSPS))
			if err != nil || w != 176 || h != 144 || ParameterSet(whole[0], TypePPS) == nil {
				t.Fatalf("size %dx%d %v", w, h, err)
			}
		})
	}
}

func TestSplitLimits(t *testing.T) {
	junk := bytes.Repeat([]byte{0xFF}, 4096)
	if _, err := NewSplitter(bytes.NewReader(junk), 1000).Next(); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("a stream with no start code: %v, want ErrTooLarge", err)
	}
	if _, err := NewSplitter(bytes.NewReader(nil), 1000).Next(); !errors.Is(err, io.EOF) {
		t.Fatalf("an empty stream: %v, want EOF", err)
	}
	broken := iotest.TimeoutReader(bytes.NewReader([]byte{0, 0, 0, 1, 0x09, 0xF0}))
	au, err := NewSplitter(broken, 1000).Next()
	if err != nil || len(au) != 1 {
		t.Fatalf("a unit before a read error: %x %v", au, err)
	}
}

// FuzzSplitter: any input splits without a panic, within the limit, into
// NAL units that are never empty and never start with a start code.
func FuzzSplitter(f *testing.F) {
	f.Add([]byte{0, 0, 0, 1, 0x67, 0x42, 0, 0, 1, 0x68, 0xCE, 0, 0, 1, 0x65, 0x88, 0, 0, 1, 0x41, 0x9A})
	f.Add([]byte{0, 0, 1, 0x09, 0xF0, 0, 0, 0, 1, 0x41, 0x80, 0, 0, 1, 0x41, 0x80, 0, 0})
	f.Fuzz(func(t *testing.T, in []byte) {
		s := NewSplitter(bytes.NewReader(in), 256)
		for range len(in) + 2 {
			au, err := s.Next()
			if err != nil {
				return
			}
			size := 0
			for _, n := range au {
				if len(n) == 0 || bytes.HasPrefix(n, []byte{0, 0, 1}) {
					t.Fatalf("NAL unit %x", n)
				}
				size += len(n)
			}
			if size > 256 {
				t.Fatalf("unit of %d bytes over the limit", size)
			}
		}
	})
}

func TestSplitAnnexB(t *testing.T) {
	stream := x264(t, "aud=0")
	want, err := mch264.AnnexBUnmarshal(stream)
	if err != nil {
		t.Fatal(err)
	}
	got := SplitAnnexB(nil, stream)
	if len(got) != len(want) {
		t.Fatalf("%d NAL units, want %d", len(got), len(want))
	}
	for i := range want {
		if !bytes.Equal(got[i], want[i]) {
			t.Fatalf("NAL %d differs", i)
		}
	}
	if n := SplitAnnexB(nil, []byte{0, 0, 1}); len(n) != 0 {
		t.Fatalf("an empty unit: %x", n)
	}
}
