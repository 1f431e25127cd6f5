package demux

// Hand-built files for what ffmpeg does not write: OpenDML AVI, dropped
// frames, unknown-size Matroska clusters, header stripping, laced blocks,
// damaged sizes, JPEG pictures with restart markers, fill bytes and several
// scans.

import (
	"bytes"
	"encoding/binary"
	"errors"
	"image"
	"image/color"
	"image/jpeg"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// makeJPEG encodes a small picture that differs with i.
func makeJPEG(t testing.TB, i, w, h int) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			img.Set(x, y, color.RGBA{uint8(x*8 + i*40), uint8(y*8 + i*20), uint8(i * 60), 255})
		}
	}
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, &jpeg.Options{Quality: 90}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// sosEnd returns the offset of the entropy-coded data of a baseline JPEG.
func sosEnd(t testing.TB, b []byte) int {
	t.Helper()
	i := 2
	for i+4 <= len(b) {
		m := b[i+1]
		l := int(binary.BigEndian.Uint16(b[i+2:]))
		if m == 0xDA {
			return i + 2 + l
		}
		i += 2 + l
	}
	t.Fatal("no SOS")
	return 0
}

func writeFile(t testing.TB, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

type result struct {
	frames  [][]byte
	pts     []time.Duration
	corrupt []int // indexes in frames before which a corrupt frame was reported
	err     error // the error that ended the stream (nil: io.EOF)
}

// readAll reads a stream to its end, copying the frames.
func readAll(t testing.TB, r Reader) result {
	t.Helper()
	var res result
	for i := 0; i < 100000; i++ {
		b, pts, err := r.Next()
		switch {
		case err == nil:
			res.frames = append(res.frames, bytes.Clone(b))
			res.pts = append(res.pts, pts)
			continue
		case errors.Is(err, ErrCorruptFrame):
			res.corrupt = append(res.corrupt, len(res.frames))
			continue
		case err != io.EOF:
			res.err = err
			if _, _, err := r.Next(); err != io.EOF {
				t.Fatalf("after %v, Next returned %v, want io.EOF", res.err, err)
			}
		}
		return res
	}
	t.Fatal("the stream does not end")
	return res
}

func equalFrames(t testing.TB, got, want [][]byte) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d frames, want %d", len(got), len(want))
	}
	for i := range got {
		if !bytes.Equal(got[i], want[i]) {
			t.Fatalf("frame %d: %d bytes differ from the %d expected", i, len(got[i]), len(want[i]))
		}
	}
}

func equalPTS(t testing.TB, got, want []time.Duration) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d timestamps, want %d", len(got), len(want))
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("frame %d at %v, want %v (all: %v)", i, got[i], want[i], got)
		}
	}
}

// rawFrames returns tricky but valid JPEG byte streams for the raw splitter.
func rawFrames(t testing.TB) [][]byte {
	plain := makeJPEG(t, 0, 16, 16)

	// A comment holding EOI and SOI bytes: segments must be skipped by length.
	b := makeJPEG(t, 1, 16, 16)
	com := append([]byte{0xFF, 0xFE, 0x00, 0x08}, 0xFF, 0xD9, 0xFF, 0xD8, 'x', 'y')
	withCOM := append(append(append([]byte{}, b[:2]...), com...), b[2:]...)

	// Restart markers in the scan and fill bytes before EOI.
	b = makeJPEG(t, 2, 16, 16)
	s := sosEnd(t, b)
	mid := s + (len(b)-2-s)/2
	for b[mid-1] == 0xFF || b[mid] == 0x00 {
		mid++
	}
	rst := append(append(append([]byte{}, b[:mid]...), 0xFF, 0xD0), b[mid:len(b)-2]...)
	rst = append(rst, 0xFF, 0xFF, 0xFF, 0xD9)

	// Two scans: after the first scan's data a DHT and a second SOS follow
	// (as in progressive pictures), then EOI.
	b = makeJPEG(t, 3, 16, 16)
	s = sosEnd(t, b)
	var sos []byte
	for i := 2; ; {
		l := int(binary.BigEndian.Uint16(b[i+2:]))
		if b[i+1] == 0xDA {
			sos = b[i : i+2+l]
			break
		}
		i += 2 + l
	}
	multi := append([]byte{}, b[:len(b)-2]...)
	multi = append(multi, 0xFF, 0xC4, 0x00, 0x02) // an empty DHT segment
	multi = append(multi, sos...)
	multi = append(multi, 0x12, 0x34, 0xFF, 0x00, 0x56, 0xFF, 0xD9)
	return [][]byte{plain, withCOM, rst, multi}
}

func TestRawSplitting(t *testing.T) {
	frames := rawFrames(t)
	var file []byte
	for _, f := range frames {
		file = append(file, f...)
	}
	junk := []byte("not a picture")
	file = append(file, junk...)
	file = append(file, frames[0]...)
	cut := file[:len(file)-len(frames[0])/2]
	frames = append(frames, frames[0])

	p := writeFile(t, "a.mjpg", file)
	r, err := Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if got, want := r.Info(), (Info{Container: "mjpeg", Codec: "jpeg", Width: 16, Height: 16, FPS: DefaultRawFPS}); !reflect.DeepEqual(got, want) {
		t.Errorf("Info() = %+v, want %+v", got, want)
	}
	res := readAll(t, r)
	if res.err != nil {
		t.Fatal(res.err)
	}
	equalFrames(t, res.frames, frames)
	ms := time.Millisecond
	equalPTS(t, res.pts, []time.Duration{0, 40 * ms, 80 * ms, 120 * ms, 160 * ms})
	if len(res.corrupt) != 1 || res.corrupt[0] != 4 {
		t.Errorf("corrupt frames reported before %v, want [4] (the junk)", res.corrupt)
	}

	// Timestamps follow WithRawFPS; a cut picture ends with ErrTruncated.
	r2, err := Open(writeFile(t, "cut.mjpeg", cut), WithRawFPS(10))
	if err != nil {
		t.Fatal(err)
	}
	defer r2.Close()
	res = readAll(t, r2)
	if !errors.Is(res.err, ErrTruncated) {
		t.Fatalf("cut file ended with %v, want ErrTruncated", res.err)
	}
	equalFrames(t, res.frames, frames[:4])
	equalPTS(t, res.pts, []time.Duration{0, 100 * ms, 200 * ms, 300 * ms})
}

// RIFF building blocks.
func riffChunk(id string, data []byte) []byte {
	b := append([]byte(id), le.AppendUint32(nil, uint32(len(data)))...)
	b = append(b, data...)
	if len(data)%2 == 1 {
		b = append(b, 0)
	}
	return b
}

func riffList(kind, typ string, children ...[]byte) []byte {
	body := []byte(typ)
	for _, c := range children {
		body = append(body, c...)
	}
	b := append([]byte(kind), le.AppendUint32(nil, uint32(len(body)))...)
	return append(b, body...)
}

func u32s(vs ...uint32) []byte {
	var b []byte
	for _, v := range vs {
		b = le.AppendUint32(b, v)
	}
	return b
}

// aviHeader builds an hdrl list: stream 0 audio, stream 1 MJPEG video at
// scale/rate.
func aviHeader(w, h, frames, scale, rate uint32, compression string) []byte {
	avih := u32s(1000000*scale/rate, 0, 0, 0x10, frames, 0, 2, 0, w, h, 0, 0, 0, 0)
	auds := riffList("LIST", "strl",
		riffChunk("strh", append([]byte("auds\x00\x00\x00\x00"), u32s(0, 0, 0, 1, 8000, 0, 0, 0, 0, 1, 0, 0)...)),
		riffChunk("strf", make([]byte, 18)))
	strh := append([]byte("vids"+compression), u32s(0, 0, 0, scale, rate, 0, frames/2, 0, 0, 0, 0, 0)...)
	strf := append(u32s(40, w, h), 1, 0, 24, 0)
	strf = append(append(strf, compression...), u32s(w*h*3, 0, 0, 0, 0)...)
	vids := riffList("LIST", "strl", riffChunk("strh", strh), riffChunk("strf", strf))
	odml := riffList("LIST", "odml", riffChunk("dmlh", u32s(frames)))
	return riffList("LIST", "hdrl", riffChunk("avih", avih), auds, vids, odml)
}

func TestAVISynthetic(t *testing.T) {
	var f [6][]byte
	for i := range f {
		f[i] = makeJPEG(t, i, 16, 16)
		if i%2 == 0 && len(f[i])%2 == 0 {
			f[i] = append(f[i], 0) // odd sizes need a pad byte (trailing bytes after EOI are kept)
		}
	}
	audio := riffChunk("00wb", []byte{1, 2, 3})
	bad := append([]byte("01dc"), u32s(0x7FFFFFF0)...)
	bad = append(bad, []byte("0123456789")...) // what follows a corrupt size
	movi1 := riffList("LIST", "movi",
		audio,
		riffChunk("01dc", f[0]),
		riffList("LIST", "rec ", riffChunk("01dc", f[1]), audio),
		riffChunk("01dc", nil), // a dropped frame: frame 2 has no picture
		riffChunk("ix01", make([]byte, 24)),
		riffChunk("01db", f[2]),
		riffChunk("JUNK", make([]byte, 7)),
	)
	movi2 := riffList("LIST", "movi",
		riffChunk("01dc", f[3]),
		bad,
		riffChunk("01dc", f[4]),
		audio,
		riffChunk("01dc", f[5]),
	)
	first := riffList("RIFF", "AVI ", aviHeader(16, 16, 8, 1001, 30000, "MJPG"), riffChunk("JUNK", make([]byte, 10)),
		movi1, riffChunk("idx1", make([]byte, 32)))
	file := append(first, riffList("RIFF", "AVIX", movi2)...)

	r, err := Open(writeFile(t, "opendml.avi", file))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	info := r.Info()
	want := Info{Container: "avi", Codec: "MJPG", Width: 16, Height: 16, FPS: 30000.0 / 1001, Frames: 8,
		Duration: ticks(8, 1001, 30000)}
	if !reflect.DeepEqual(info, want) {
		t.Errorf("Info() = %+v, want %+v", info, want)
	}
	res := readAll(t, r)
	if res.err != nil {
		t.Fatal(res.err)
	}
	equalFrames(t, res.frames, f[:])
	frameAt := func(n int64) time.Duration { return ticks(n, 1001, 30000) }
	// Chunk 2 was empty, chunk 5 corrupt: both still take a frame period.
	equalPTS(t, res.pts, []time.Duration{frameAt(0), frameAt(1), frameAt(3), frameAt(4), frameAt(6), frameAt(7)})
	if len(res.corrupt) != 1 || res.corrupt[0] != 4 {
		t.Errorf("corrupt frames reported before %v, want [4]", res.corrupt)
	}
	if err := r.Rewind(); err != nil {
		t.Fatal(err)
	}
	if b, pts, err := r.Next(); err != nil || !bytes.Equal(b, f[0]) || pts != 0 {
		t.Fatalf("after Rewind: %d bytes at %v, %v", len(b), pts, err)
	}

	// Cut inside the AVIX extension: the frames before the cut, then ErrTruncated.
	cutAt := len(first) + 12 + 12 + 8 + len(f[3])/2
	r2, err := Open(writeFile(t, "cut.avi", file[:cutAt]))
	if err != nil {
		t.Fatal(err)
	}
	defer r2.Close()
	res = readAll(t, r2)
	if !errors.Is(res.err, ErrTruncated) {
		t.Fatalf("ended with %v, want ErrTruncated", res.err)
	}
	equalFrames(t, res.frames, f[:3])

	// A recording whose writer never went back to fill in the sizes.
	hdrl := aviHeader(16, 16, 3, 1, 25, "MJPG")
	unfinished := riffList("RIFF", "AVI ", hdrl, riffList("LIST", "movi", riffChunk("01dc", f[0]), riffChunk("01dc", f[1])))
	le.PutUint32(unfinished[4:], 0)
	le.PutUint32(unfinished[12+len(hdrl)+4:], 0)
	r3, err := Open(writeFile(t, "unfinished.avi", unfinished))
	if err != nil {
		t.Fatal(err)
	}
	defer r3.Close()
	res = readAll(t, r3)
	if res.err != nil {
		t.Fatal(res.err)
	}
	equalFrames(t, res.frames, f[:2])

	// Another codec is named.
	hdr := riffList("RIFF", "AVI ", aviHeader(16, 16, 1, 1, 25, "XVID"), riffList("LIST", "movi"))
	_, err = Open(writeFile(t, "xvid.avi", hdr))
	if !errors.Is(err, ErrNotMJPEG) || !strings.Contains(err.Error(), "XVID") {
		t.Errorf("XVID file: %v, want ErrNotMJPEG naming XVID", err)
	}
}

// EBML building blocks.
func ebmlID(id uint32) []byte {
	switch {
	case id >= 1<<24:
		return []byte{byte(id >> 24), byte(id >> 16), byte(id >> 8), byte(id)}
	case id >= 1<<16:
		return []byte{byte(id >> 16), byte(id >> 8), byte(id)}
	case id >= 1<<8:
		return []byte{byte(id >> 8), byte(id)}
	}
	return []byte{byte(id)}
}

func ebmlEl(id uint32, parts ...[]byte) []byte {
	body := bytes.Join(parts, nil)
	size := binary.BigEndian.AppendUint64(nil, uint64(len(body)))
	size[0] = 0x01 // eight-byte size
	return append(append(ebmlID(id), size...), body...)
}

func ebmlUnknownSize(id uint32, parts ...[]byte) []byte {
	b := append(ebmlID(id), 0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF)
	return append(b, bytes.Join(parts, nil)...)
}

func ebmlU(id uint32, v uint64) []byte {
	return ebmlEl(id, binary.BigEndian.AppendUint64(nil, v))
}

func ebmlS(id uint32, s string) []byte { return ebmlEl(id, []byte(s)) }

// block is a (Simple)Block body: track number, relative timestamp, flags.
func block(track byte, rel int16, flags byte, data []byte) []byte {
	b := []byte{0x80 | track, byte(uint16(rel) >> 8), byte(rel), flags}
	return append(b, data...)
}

func TestMatroskaSynthetic(t *testing.T) {
	var f [5][]byte
	for i := range f {
		f[i] = makeJPEG(t, i, 16, 16)
	}
	const idBlockDuration = 0x9B
	strip := func(b []byte) []byte { return b[2:] } // header stripping removed FF D8
	header := ebmlEl(idEBML, ebmlS(idDocType, "webm"))
	info := ebmlEl(idInfo, ebmlU(idTimecodeScale, 100000)) // 0.1 ms units
	tracks := ebmlEl(idTracks,
		ebmlEl(idTrackEntry, ebmlU(idTrackNumber, 1), ebmlU(idTrackType, 2), ebmlS(idCodecID, "A_OPUS")),
		ebmlEl(idTrackEntry, ebmlU(idTrackNumber, 2), ebmlU(idTrackType, 1), ebmlS(idCodecID, "V_MJPEG"),
			ebmlU(idDefaultDuration, 40000000),
			ebmlEl(idVideo, ebmlU(idPixelWidth, 16), ebmlU(idPixelHeight, 16)),
			ebmlEl(idContentEncodings, ebmlEl(idContentEncoding,
				ebmlEl(idContentCompression, ebmlU(idContentCompAlgo, 3), ebmlEl(idContentCompSettings, []byte{0xFF, 0xD8}))))),
	)
	// Cluster of unknown size: audio, frame 0, a group with frame 1, a laced block.
	c1 := ebmlUnknownSize(idCluster,
		ebmlU(idTimecode, 0),
		ebmlEl(idSimpleBlock, block(1, 0, 0x80, []byte{9, 9, 9})),
		ebmlEl(idSimpleBlock, block(2, 0, 0x80, strip(f[0]))),
		ebmlEl(idBlockGroup, ebmlEl(idBlock, block(2, 400, 0, strip(f[1]))), ebmlU(idBlockDuration, 400)),
		ebmlEl(idSimpleBlock, block(2, 800, 0x82, []byte{0, 1, 2})),
	)
	// A second unknown-size cluster ends at the next Cluster ID.
	c2 := ebmlUnknownSize(idCluster, ebmlU(idTimecode, 1200), ebmlEl(idSimpleBlock, block(2, 0, 0x80, strip(f[2]))))
	// A known-size cluster whose block overruns it: skipped up to the next cluster.
	over := ebmlEl(idSimpleBlock, block(2, 0, 0x80, strip(f[3])))
	over[7]++ // claim 256 bytes more (one-byte ID, eight-byte size)
	c3 := ebmlEl(idCluster, ebmlU(idTimecode, 1600), over)
	c4 := ebmlEl(idCluster, ebmlU(idTimecode, 2000), ebmlEl(idSimpleBlock, block(2, 400, 0x80, strip(f[4]))))
	cues := ebmlEl(idCues, []byte{0xBB, 0x80})
	file := bytes.Join([][]byte{header, ebmlUnknownSize(idSegment, info, tracks, c1, c2, c3, c4, cues)}, nil)

	r, err := Open(writeFile(t, "a.webm", file))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if got, want := r.Info(), (Info{Container: "matroska", Codec: "V_MJPEG", Width: 16, Height: 16, FPS: 25}); !reflect.DeepEqual(got, want) {
		t.Errorf("Info() = %+v, want %+v", got, want)
	}
	res := readAll(t, r)
	if res.err != nil {
		t.Fatal(res.err)
	}
	equalFrames(t, res.frames, [][]byte{f[0], f[1], f[2], f[4]})
	ms := time.Millisecond
	equalPTS(t, res.pts, []time.Duration{0, 40 * ms, 120 * ms, 240 * ms})
	if len(res.corrupt) != 2 || res.corrupt[0] != 2 || res.corrupt[1] != 3 {
		t.Errorf("corrupt frames reported before %v, want [2 3] (laced block, overrun)", res.corrupt)
	}

	// Other codecs and content encodings are refused with the codec named.
	for _, tc := range []struct {
		track []byte
		want  string
	}{
		{ebmlEl(idTrackEntry, ebmlU(idTrackNumber, 1), ebmlU(idTrackType, 1), ebmlS(idCodecID, "V_VP8")), "V_VP8"},
		{ebmlEl(idTrackEntry, ebmlU(idTrackNumber, 1), ebmlU(idTrackType, 1), ebmlS(idCodecID, "V_MJPEG"),
			ebmlEl(idContentEncodings, ebmlEl(idContentEncoding, ebmlEl(idContentCompression)))), "compressed"},
	} {
		file := bytes.Join([][]byte{header, ebmlEl(idSegment, info, ebmlEl(idTracks, tc.track))}, nil)
		_, err := Open(writeFile(t, "other.mkv", file))
		if !errors.Is(err, ErrNotMJPEG) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("got %v, want ErrNotMJPEG naming %q", err, tc.want)
		}
	}
	file = bytes.Join([][]byte{ebmlEl(idEBML, ebmlS(idDocType, "notmatroska")), ebmlEl(idSegment)}, nil)
	if _, err := Open(writeFile(t, "x.mkv", file)); !errors.Is(err, ErrUnknownFormat) {
		t.Errorf("unknown EBML document: %v, want ErrUnknownFormat", err)
	}
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing.mkv")
	_, err := Open(missing)
	if !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), missing) {
		t.Errorf("missing file: %v", err)
	}
	empty := writeFile(t, "empty.avi", nil)
	_, err = Open(empty)
	if err == nil || !strings.Contains(err.Error(), empty) || !strings.Contains(err.Error(), "empty") ||
		errors.Is(err, ErrUnknownFormat) {
		t.Errorf("empty file: %v", err)
	}
	_, err = Open(dir)
	if err == nil || !strings.Contains(err.Error(), dir) || !strings.Contains(err.Error(), "directory") {
		t.Errorf("directory: %v", err)
	}
	for name, data := range map[string]string{
		"text.mkv":  "hello, world\n",
		"wave.avi":  "RIFF\x24\x00\x00\x00WAVEfmt ",
		"short.mp4": "\xFF",
		"png.mjpeg": "\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR",
	} {
		p := writeFile(t, name, []byte(data))
		if _, err := Open(p); !errors.Is(err, ErrUnknownFormat) || !strings.Contains(err.Error(), p) {
			t.Errorf("%s: %v, want ErrUnknownFormat naming the file", name, err)
		}
	}
}

func TestTicks(t *testing.T) {
	for _, tc := range []struct {
		t        int64
		num, den uint64
		want     time.Duration
	}{
		{1, 1, 25, 40 * time.Millisecond},
		{3, 1001, 30000, 100100 * time.Microsecond},
		{-1, 1, 1000, -time.Millisecond},
		{1 << 62, 1 << 40, 1, 1<<63 - 1},
		{5, 1, 0, 0},
	} {
		if got := ticks(tc.t, tc.num, tc.den); got != tc.want {
			t.Errorf("ticks(%d, %d, %d) = %v, want %v", tc.t, tc.num, tc.den, got, tc.want)
		}
	}
}
