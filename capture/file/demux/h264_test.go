package demux

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bluenviron/mediacommon/pkg/codecs/h264"
)

// x264's SPS and PPS for 160x120 High profile, as ffmpeg stores them.
var (
	testSPS = mustHex("6764000bacb20508fcb808800000030080000019078a1524")
	testPPS = mustHex("68ebc3cb22c0")
)

func mustHex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

// avcRecord builds an AVCDecoderConfigurationRecord with one SPS and one
// PPS.
func avcRecord(lengthSize int, sps, pps []byte) []byte {
	b := []byte{1, sps[1], sps[2], sps[3], 0xFC | byte(lengthSize-1), 0xE1}
	b = binary.BigEndian.AppendUint16(b, uint16(len(sps)))
	b = append(append(b, sps...), 1)
	b = binary.BigEndian.AppendUint16(b, uint16(len(pps)))
	return append(b, pps...)
}

// lengthPrefixed stores NAL units as a sample does, with lengthSize-byte
// lengths.
func lengthPrefixed(lengthSize int, nals ...[]byte) []byte {
	var b []byte
	for _, n := range nals {
		l := binary.BigEndian.AppendUint32(nil, uint32(len(n)))
		b = append(append(b, l[4-lengthSize:]...), n...)
	}
	return b
}

func annexBOf(nals ...[]byte) []byte {
	var b []byte
	for _, n := range nals {
		b = append(append(b, 0, 0, 0, 1), n...)
	}
	return b
}

// nalTypes splits an Annex B access unit and lists its NAL unit types.
func nalTypes(t testing.TB, au []byte) ([][]byte, []h264.NALUType) {
	t.Helper()
	var nals h264.AnnexB
	if err := nals.Unmarshal(au); err != nil {
		t.Fatalf("access unit of %d bytes: %v", len(au), err)
	}
	types := make([]h264.NALUType, len(nals))
	for i, n := range nals {
		types[i] = h264.NALUType(n[0] & 0x1F)
	}
	return nals, types
}

func TestAnnexB(t *testing.T) {
	idr := []byte{0x65, 0x88, 0x84, 0x00, 0x21}
	sei := []byte{0x06, 0x05, 0x01, 0xAA, 0x80}
	slice := []byte{0x41, 0x9A, 0x02}
	for _, tc := range []struct {
		name       string
		lengthSize int
		in         []byte
		want       []byte // nil: an error
	}{
		{"4-byte lengths", 4, lengthPrefixed(4, sei, idr), annexBOf(sei, idr)},
		{"2-byte lengths", 2, lengthPrefixed(2, sei, idr, slice), annexBOf(sei, idr, slice)},
		{"1-byte lengths", 1, lengthPrefixed(1, slice), annexBOf(slice)},
		{"empty NAL units dropped", 4, lengthPrefixed(4, nil, idr, nil), annexBOf(idr)},
		{"overrun", 4, lengthPrefixed(4, idr)[:7], nil},
		{"length cut short", 4, append(lengthPrefixed(4, idr), 0, 0), nil},
		{"only empty units", 2, lengthPrefixed(2, nil, nil), nil},
		{"empty sample", 4, nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := &avcTrack{lengthSize: tc.lengthSize}
			got, err := a.annexB(tc.in)
			switch {
			case tc.want == nil && err == nil:
				t.Fatalf("got % x, want an error", got)
			case tc.want != nil && (err != nil || !bytes.Equal(got, tc.want)):
				t.Fatalf("got % x, %v; want % x", got, err, tc.want)
			}
		})
	}
	// Start codes grow 1-byte lengths: the limit holds for what comes out.
	a := &avcTrack{lengthSize: 1}
	if _, err := a.annexB(bytes.Repeat([]byte{1, 0x41}, maxFrameSize/4)); err == nil {
		t.Error("an access unit over the limit in Annex B was accepted")
	}
}

// h264Matroska builds a Matroska file with one H.264 track whose samples
// have lengthSize-byte NAL unit lengths. Frame 1 is damaged: its length
// overruns the block.
func h264Matroska(lengthSize int, private []byte) ([]byte, [][]byte) {
	idr := []byte{0x65, 0x88, 0x84, 0x00, 0x21, 0x7F}
	p1 := []byte{0x41, 0x9A, 0x02, 0x03}
	p2 := []byte{0x41, 0x9A, 0x04}
	sei := []byte{0x06, 0x05, 0x01, 0xAA, 0x80}
	bad := lengthPrefixed(lengthSize, p1)
	bad[lengthSize-1] += 3
	header := ebmlEl(idEBML, ebmlS(idDocType, "matroska"))
	tracks := ebmlEl(idTracks, ebmlEl(idTrackEntry, ebmlU(idTrackNumber, 1), ebmlU(idTrackType, 1),
		ebmlS(idCodecID, "V_MPEG4/ISO/AVC"), ebmlEl(idCodecPrivate, private), ebmlU(idDefaultDuration, 40000000)))
	cluster := ebmlEl(idCluster, ebmlU(idTimecode, 0),
		ebmlEl(idSimpleBlock, block(1, 0, 0x80, lengthPrefixed(lengthSize, sei, idr))),
		ebmlEl(idSimpleBlock, block(1, 40, 0, bad)),
		ebmlEl(idBlockGroup, ebmlEl(idBlock, block(1, 80, 0, lengthPrefixed(lengthSize, p2, nil)))))
	file := bytes.Join([][]byte{header, ebmlEl(idSegment, ebmlEl(idInfo, ebmlU(idTimecodeScale, 1000000)), tracks, cluster)}, nil)
	return file, [][]byte{annexBOf(sei, idr), annexBOf(p2)}
}

func TestH264Synthetic(t *testing.T) {
	for _, lengthSize := range []int{1, 2, 4} {
		file, want := h264Matroska(lengthSize, avcRecord(lengthSize, testSPS, testPPS))
		r, err := Open(writeFile(t, "a.mkv", file))
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		info := r.Info()
		if info.Codec != "h264" || info.Width != 160 || info.Height != 120 || info.FPS != 25 ||
			len(info.ParameterSets) != 2 || !bytes.Equal(info.ParameterSets[0], testSPS) || !bytes.Equal(info.ParameterSets[1], testPPS) {
			t.Errorf("%d-byte lengths: Info() = %+v", lengthSize, info)
		}
		res := readAll(t, r)
		if res.err != nil {
			t.Fatal(res.err)
		}
		equalFrames(t, res.frames, want)
		equalPTS(t, res.pts, []time.Duration{0, 80 * time.Millisecond})
		if len(res.corrupt) != 1 || res.corrupt[0] != 1 {
			t.Errorf("%d-byte lengths: corrupt frames reported before %v, want [1]", lengthSize, res.corrupt)
		}
	}

	// A record that cannot be used leaves the file to a decoder, naming
	// what is wrong.
	for _, tc := range []struct {
		name    string
		private []byte
		want    string
	}{
		{"3-byte lengths", avcRecord(3, testSPS, testPPS), "3-byte"},
		{"record cut short", avcRecord(4, testSPS, testPPS)[:12], "CodecPrivate"},
		{"no record", nil, "CodecPrivate"},
	} {
		file, _ := h264Matroska(4, tc.private)
		r, err := Open(writeFile(t, "bad.mkv", file))
		if err == nil {
			r.Close()
		}
		if !errors.Is(err, ErrNotMJPEG) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: Open: %v; want ErrNotMJPEG naming %q", tc.name, err, tc.want)
		}
	}
}

// annexBNALs has ffmpeg copy a file's H.264 out in Annex B and returns its
// NAL units but the parameter sets, which ffmpeg repeats before key frames.
func annexBNALs(t testing.TB, path string) [][]byte {
	t.Helper()
	out := filepath.Join(t.TempDir(), "out.h264")
	ffmpeg(t, "-i", path, "-map", "0:v:0", "-c:v", "copy", "-bsf:v", "h264_mp4toannexb", "-f", "h264", out)
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return withoutParams(t, b)
}

func withoutParams(t testing.TB, au []byte) [][]byte {
	t.Helper()
	nals, types := nalTypes(t, au)
	var keep [][]byte
	for i, n := range nals {
		if types[i] != h264.NALUTypeSPS && types[i] != h264.NALUTypePPS {
			keep = append(keep, n)
		}
	}
	return keep
}

func TestH264Files(t *testing.T) {
	requireFFmpeg(t)
	src := []string{"-f", "lavfi", "-i", "testsrc2=size=160x120:rate=25", "-t", "1", "-c:v", "libx264", "-g", "10"}
	for _, tc := range []struct {
		name      string
		args      []string // output options
		container string
		frames    int  // Info.Frames
		bframes   bool // presentation order differs from decoding order
		cutOpens  bool // a copy cut at 60% opens (its index comes first)
	}{
		{"a.mp4", []string{"-bf", "0"}, "mp4", 25, false, false},
		{"faststart.mp4", []string{"-bf", "0", "-movflags", "+faststart"}, "mp4", 25, false, true},
		{"fragmented.mp4", []string{"-bf", "0", "-movflags", "frag_keyframe+empty_moov+default_base_moof"}, "mp4", 25, false, true},
		{"avc3.mp4", []string{"-bf", "0", "-tag:v", "avc3"}, "mp4", 25, false, false},
		{"a.mov", []string{"-bf", "0"}, "mp4", 25, false, false},
		{"a.mkv", []string{"-bf", "0"}, "matroska", 0, false, true},
		{"bframes.mp4", []string{"-bf", "2", "-movflags", "+faststart"}, "mp4", 25, true, true},
		{"bframes.mkv", []string{"-bf", "2"}, "matroska", 0, true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), tc.name)
			ffmpeg(t, append(append(src, tc.args...), path)...)
			r, err := Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			info := r.Info()
			if info.Container != tc.container || info.Codec != "h264" || info.Width != 160 || info.Height != 120 ||
				info.Frames != tc.frames || info.FPS < 24.99 || info.FPS > 25.01 {
				t.Errorf("Info() = %+v, want %s/h264 160x120 at 25 fps, %d frames", info, tc.container, tc.frames)
			}
			if d := info.Duration; tc.container == "mp4" && (d < time.Second || d > 1100*time.Millisecond) {
				t.Errorf("Info().Duration = %v, want 1s", d)
			}
			if ps := info.ParameterSets; len(ps) != 2 || len(ps[0]) == 0 || ps[0][0]&0x1F != 7 || len(ps[1]) == 0 || ps[1][0]&0x1F != 8 {
				t.Errorf("Info().ParameterSets = % x, want an SPS and a PPS", ps)
			}

			res := readAll(t, r)
			if res.err != nil || len(res.corrupt) > 0 {
				t.Fatalf("stream ended with %v after corrupt frames before %v", res.err, res.corrupt)
			}
			checkH264Frames(t, res.frames, annexBNALs(t, path))
			checkH264PTS(t, res.pts, tc.bframes)

			if err := r.Rewind(); err != nil {
				t.Fatal(err)
			}
			b, pts, err := r.Next()
			if err != nil || pts != 0 || !bytes.Equal(b, res.frames[0]) {
				t.Fatalf("after Rewind: %d bytes at %v, %v; want the first frame", len(b), pts, err)
			}

			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			checkH264Damage(t, data, res.frames)
			checkH264Cut(t, data, res.frames, tc.cutOpens)
			if tc.container == "mp4" {
				checkAvcCDamage(t, data)
			}
		})
	}
}

// checkAvcCDamage: an MP4 H.264 track without a usable avcC box is left to
// a decoder.
func checkAvcCDamage(t *testing.T, data []byte) {
	t.Helper()
	i := bytes.Index(data, []byte("avcC"))
	if i < 0 {
		t.Fatal("no avcC box")
	}
	for _, tc := range []struct {
		name string
		off  int // from the box type
		b    byte
		want string
	}{
		{"3-byte lengths", 8, 0xFE, "3-byte"},
		{"no avcC", 0, 'x', "without an avcC box"},
	} {
		bad := bytes.Clone(data)
		bad[i+tc.off] = tc.b
		r, err := Open(writeFile(t, "bad-avcC", bad))
		if err == nil {
			r.Close()
		}
		if !errors.Is(err, ErrNotMJPEG) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: Open: %v; want ErrNotMJPEG naming %q", tc.name, err, tc.want)
		}
	}
}

// checkH264Frames checks that each frame is in Annex B, that the key frames
// are where -g 10 puts them, and that together they hold the NAL units
// ffmpeg finds in the file.
func checkH264Frames(t *testing.T, frames [][]byte, want [][]byte) {
	t.Helper()
	if len(frames) != 25 {
		t.Fatalf("got %d frames, want 25", len(frames))
	}
	var got [][]byte
	for i, f := range frames {
		if !bytes.HasPrefix(f, []byte{0, 0, 0, 1}) {
			t.Fatalf("frame %d starts with % x", i, f[:min(len(f), 4)])
		}
		_, types := nalTypes(t, f)
		if idr := slices.Contains(types, h264.NALUTypeIDR); idr != (i%10 == 0) {
			t.Errorf("frame %d has NAL units %v", i, types)
		}
		got = append(got, withoutParams(t, f)...)
	}
	if len(got) != len(want) {
		t.Fatalf("%d NAL units, ffmpeg finds %d", len(got), len(want))
	}
	for i := range got {
		if !bytes.Equal(got[i], want[i]) {
			t.Fatalf("NAL unit %d: %d bytes differ from ffmpeg's %d", i, len(got[i]), len(want[i]))
		}
	}
}

// checkH264PTS: without B-frames, frame n is at n·40 ms; with them the same
// times come in decoding order.
func checkH264PTS(t *testing.T, pts []time.Duration, bframes bool) {
	t.Helper()
	want := make([]time.Duration, 25)
	for i := range want {
		want[i] = time.Duration(i) * 40 * time.Millisecond
	}
	sorted := slices.Clone(pts)
	slices.Sort(sorted)
	equalPTS(t, sorted, want)
	if inOrder := slices.Equal(pts, sorted); inOrder == bframes {
		t.Errorf("timestamps %v: in order %v, want %v", pts, inOrder, !bframes)
	}
}

// checkH264Damage breaks the first NAL unit length of frame 2 in a copy of
// the file: that frame alone is reported corrupt.
func checkH264Damage(t *testing.T, data []byte, frames [][]byte) {
	t.Helper()
	nals, _ := nalTypes(t, frames[2])
	stored := lengthPrefixed(4, nals...)
	i := bytes.Index(data, stored)
	if i < 0 || bytes.Index(data[i+1:], stored) >= 0 {
		t.Fatal("frame 2 is not stored once with 4-byte lengths")
	}
	bad := bytes.Clone(data)
	binary.BigEndian.PutUint32(bad[i:], uint32(len(stored)))
	r, err := Open(writeFile(t, "damaged", bad))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	res := readAll(t, r)
	if res.err != nil || len(res.corrupt) != 1 || res.corrupt[0] != 2 {
		t.Fatalf("damaged copy: ended with %v, corrupt frames before %v; want one before frame 2", res.err, res.corrupt)
	}
	equalFrames(t, res.frames, slices.Delete(slices.Clone(frames), 2, 3))
}

// checkH264Cut reads a copy cut at 60%: the frames before the cut, then
// ErrTruncated, or ErrTruncated from Open when the cut took the index.
func checkH264Cut(t *testing.T, data []byte, frames [][]byte, opens bool) {
	t.Helper()
	cut := writeFile(t, "cut", data[:len(data)*6/10])
	r, err := Open(cut)
	if !opens {
		if err == nil {
			r.Close()
		}
		if !errors.Is(err, ErrTruncated) {
			t.Fatalf("cut file: Open: %v, want ErrTruncated", err)
		}
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	res := readAll(t, r)
	if !errors.Is(res.err, ErrTruncated) {
		t.Fatalf("cut file ended with %v, want ErrTruncated", res.err)
	}
	n := len(res.frames)
	if n < 5 || n >= 25 {
		t.Fatalf("cut file gave %d frames", n)
	}
	equalFrames(t, res.frames, frames[:n])
}
