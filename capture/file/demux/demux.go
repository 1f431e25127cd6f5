// Package demux reads the frames of MJPEG or H.264 video files, and their
// presentation times, without decoding them, so that a file source can send
// each frame as it is (passthrough): JPEG pictures byte for byte, H.264
// access units rewritten from the container's length-prefixed form to Annex
// B.
//
// It owns container parsing only: sniffing a file by its content, locating
// the video track, and walking its samples in file order. Four containers are
// read: raw concatenated JPEGs (.mjpeg/.mjpg), AVI (RIFF, with OpenDML
// extensions), Matroska/WebM and MP4/QuickTime (ISO BMFF, fragmented or
// not). H.264 is read from Matroska and MP4/QuickTime only. A known
// container whose video is neither MJPEG nor H.264 (or H.264 in AVI) is
// refused with ErrNotMJPEG and anything else, raw H.264 included, with
// ErrUnknownFormat; the caller then decodes the file some other way
// (ffmpeg). What the frames contain is not checked beyond a JPEG's SOI
// marker or the NAL unit lengths of an H.264 sample: deciding whether a
// frame can go out as it is belongs to the pipeline.
//
// Damage is contained: a frame that cannot be read is reported alone
// (ErrCorruptFrame) when the container lets reading go on, and a file cut
// short delivers the frames before the cut and then ErrTruncated. An MP4
// recording that lost its index (no moov box: the writer never finished)
// still gives its frames when its mdat holds plain JPEG pictures, timed like
// raw MJPEG.
//
// Not handled: Matroska laced blocks (ErrCorruptFrame; video is not laced in
// practice) and segments after the first; MP4 edit lists (timestamps are
// taken from the sample table, made relative to the first frame).
//
// MP4/MOV boxes, and the H.264 configuration record of both MP4 and
// Matroska, are parsed with github.com/abema/go-mp4, H.264 sequence
// parameter sets with github.com/bluenviron/mediacommon. Matroska is read by
// a small streaming EBML reader of our own (see matroska.go for why
// github.com/at-wat/ebml-go does not fit), AVI and raw MJPEG by small parsers
// of our own.
package demux

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"math/bits"
	"os"
	"time"
)

var (
	// ErrNotMJPEG means the file is a container this package reads but its
	// video is neither MJPEG nor H.264 it can read (the error names the
	// codec); decode it instead.
	ErrNotMJPEG = errors.New("video is not MJPEG")
	// ErrUnknownFormat means the file is not a container this package reads.
	ErrUnknownFormat = errors.New("unknown container format")
	// ErrCorruptFrame is wrapped by Next when one frame cannot be read (bad
	// size, not a JPEG, NAL unit lengths that do not add up, laced
	// block...). The reader has moved past it: call
	// Next again for the following frame.
	ErrCorruptFrame = errors.New("corrupt frame")
	// ErrTruncated is wrapped by Next (or Open) when the file ends before its
	// container says it should: the frames before the cut were delivered.
	ErrTruncated = errors.New("file is truncated")
)

// Info describes a file's video track.
type Info struct {
	Container string // "mjpeg", "avi", "matroska" or "mp4"
	// Codec is "h264" for H.264 tracks; for JPEG tracks it is as the
	// container names them: "jpeg", "MJPG", "V_MJPEG", "mjpa", "mp4v.6C"...
	Codec         string
	Width, Height int           // 0 when unknown; H.264: from the SPS when the container does not say
	FPS           float64       // nominal frame rate, 0 when unknown
	Duration      time.Duration // 0 when unknown
	Frames        int           // 0 when unknown
	// ParameterSets holds an H.264 track's SPS then PPS NAL units, without
	// start codes, from its configuration record: files seldom repeat them
	// in the samples, so the caller sends them itself. Shared: do not
	// modify. Nil for JPEG tracks.
	ParameterSets [][]byte
}

// Reader delivers a file's frames in order. It is not safe for concurrent
// use.
type Reader interface {
	// Info describes the video track.
	Info() Info
	// Next returns the next frame's JPEG bytes, or for an H.264 track one
	// access unit in Annex B (every NAL unit after a 00 00 00 01 start
	// code), and its presentation time, measured from the file's first
	// frame (normally at 0; a dropped first frame in an AVI file leaves a
	// gap). Raw MJPEG frame n is at n/fps.
	//
	// Frames come in file order, which is decoding order: H.264 with
	// B-frames gives presentation times that go back and forth (MP4
	// composition offsets are applied), and the first frame is the earliest
	// only because a stream starts with a key frame.
	//
	// The bytes are valid until the next call to Next, Rewind or Close: copy
	// them to keep them.
	//
	// At the end Next returns io.EOF. An error wrapping ErrCorruptFrame
	// concerns one frame only: the next call goes on with the following
	// frame. Any other error (ErrTruncated when the file ends early, an I/O
	// error, a container structure that cannot be followed) ends the stream:
	// later calls return io.EOF until Rewind.
	Next() ([]byte, time.Duration, error)
	// Rewind restarts at the first frame (for looping).
	Rewind() error
	// Close releases the file.
	Close() error
}

// DefaultRawFPS is the frame rate assumed for raw MJPEG files, which carry no
// timestamps, unless WithRawFPS says otherwise.
const DefaultRawFPS = 25.0

// maxFrameSize bounds one frame; anything larger is taken for a corrupt size.
// RTP/JPEG pictures are at most 2040x2040, far below this even at quality 100.
const maxFrameSize = 32 << 20

// Option tunes Open.
type Option func(*options)

type options struct {
	rawFPS float64
}

// WithRawFPS sets the frame rate that gives raw MJPEG frames (and frames
// recovered from an MP4 file that lost its index) their timestamps. Values
// that are not positive and finite are ignored.
func WithRawFPS(fps float64) Option {
	return func(o *options) {
		if fps > 0 && !math.IsInf(fps, 0) && !math.IsNaN(fps) {
			o.rawFPS = fps
		}
	}
}

// Open sniffs the file by its content (not its name) and returns a reader
// positioned at the first frame. Errors name the file and the problem: a
// missing or unreadable file (wrapping the os error), an empty file, a file
// that is not a container this package reads (ErrUnknownFormat), one whose
// video is neither MJPEG nor H.264 (ErrNotMJPEG, naming the codec), one cut
// before its headers end (ErrTruncated). An H.264 track whose configuration
// record is missing or unusable is ErrNotMJPEG too.
func Open(path string, opts ...Option) (Reader, error) {
	o := options{rawFPS: DefaultRawFPS}
	for _, opt := range opts {
		opt(&o)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("demux: %w", err)
	}
	r, err := openFile(f, path, o)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("demux %s: %w", path, err)
	}
	return r, nil
}

func openFile(f *os.File, path string, o options) (Reader, error) {
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if st.IsDir() {
		return nil, errors.New("is a directory")
	}
	if st.Size() == 0 {
		return nil, errors.New("empty file")
	}
	return open(f, st.Size(), path, o)
}

// file is what the readers need of an open file.
type file interface {
	io.ReadSeeker
	io.ReaderAt
	io.Closer
}

// open sniffs the container of f (size bytes) and opens its reader.
func open(f file, size int64, path string, o options) (Reader, error) {
	var head [64]byte
	n, err := f.ReadAt(head[:], 0)
	if err != nil && err != io.EOF {
		return nil, fmt.Errorf("reading: %w", err)
	}
	b := head[:n]
	in := newInput(f, size)
	src := source{path: path, in: in}
	switch {
	case len(b) >= 3 && b[0] == 0xFF && b[1] == 0xD8 && b[2] == 0xFF:
		return openRaw(src, o.rawFPS, "mjpeg", false)
	case len(b) >= 12 && string(b[0:4]) == "RIFF" && string(b[8:12]) == "AVI ":
		return openAVI(src)
	case len(b) >= 4 && bytes.Equal(b[:4], []byte{0x1A, 0x45, 0xDF, 0xA3}):
		return openMatroska(src)
	case looksLikeMP4(b):
		return openMP4(f, src, o)
	}
	return nil, ErrUnknownFormat
}

// looksLikeMP4 recognizes an ISO BMFF / QuickTime file by its first box.
func looksLikeMP4(b []byte) bool {
	if len(b) < 8 {
		return false
	}
	switch string(b[4:8]) {
	case "ftyp", "styp", "moov", "mdat", "free", "skip", "wide", "pnot", "sidx", "moof":
	default:
		return false
	}
	size := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	return size == 0 || size == 1 || size >= 8
}

// source is what every reader keeps: the file's name for errors and its
// buffered input.
type source struct {
	path string
	in   *input
	done bool // the stream has ended: Next returns io.EOF until Rewind
}

// corrupt reports a damaged frame n; the stream goes on.
func (s *source) corrupt(n int64, format string, args ...any) error {
	return fmt.Errorf("demux %s: frame %d: %s: %w", s.path, n, fmt.Sprintf(format, args...), ErrCorruptFrame)
}

// truncated reports the end of a cut file; the stream ends.
func (s *source) truncated(format string, args ...any) error {
	s.done = true
	return fmt.Errorf("demux %s: %s: %w", s.path, fmt.Sprintf(format, args...), ErrTruncated)
}

// fail reports any other error; the stream ends.
func (s *source) fail(err error) error {
	s.done = true
	return fmt.Errorf("demux %s: %w", s.path, err)
}

func (s *source) Close() error { return s.in.f.Close() }

// input is a buffered, seekable view of the file that knows its offset.
type input struct {
	f    readSeekCloser
	size int64 // the file's size when opened
	br   *bufio.Reader
	pos  int64 // offset of the next byte br delivers
}

type readSeekCloser interface {
	io.ReadSeeker
	io.Closer
}

func newInput(f readSeekCloser, size int64) *input {
	return &input{f: f, size: size, br: bufio.NewReaderSize(f, 64<<10)}
}

func (in *input) seek(off int64) error {
	if _, err := in.f.Seek(off, io.SeekStart); err != nil {
		return err
	}
	in.br.Reset(in.f)
	in.pos = off
	return nil
}

// skip moves n bytes forward, past the end of the file if need be (reads then
// see io.EOF).
func (in *input) skip(n int64) error {
	if n < 0 {
		return fmt.Errorf("negative skip %d", n)
	}
	if n <= int64(in.br.Buffered()) {
		in.br.Discard(int(n))
		in.pos += n
		return nil
	}
	return in.seek(in.pos + n)
}

// full reads len(p) bytes; a short read is io.ErrUnexpectedEOF (or io.EOF
// when nothing at all was left).
func (in *input) full(p []byte) error {
	n, err := io.ReadFull(in.br, p)
	in.pos += int64(n)
	return err
}

func (in *input) byte() (byte, error) {
	c, err := in.br.ReadByte()
	if err == nil {
		in.pos++
	}
	return c, err
}

// grow returns b resized to n bytes, reusing its storage when it can.
func grow(b []byte, n int) []byte {
	if cap(b) >= n {
		return b[:n]
	}
	return make([]byte, n, n+n/4)
}

// ticks converts t units of 1/timescale seconds to a duration, saturating
// instead of overflowing.
func ticks(t int64, num, den uint64) time.Duration {
	if den == 0 {
		return 0
	}
	neg := t < 0
	u := uint64(t)
	if neg {
		u = uint64(-t)
	}
	// u * num * 1e9 / den in 128 bits.
	hi, lo := bits.Mul64(u, num)
	if hi != 0 {
		return saturate(neg)
	}
	hi, lo = bits.Mul64(lo, uint64(time.Second))
	if hi >= den {
		return saturate(neg)
	}
	q, _ := bits.Div64(hi, lo, den)
	if q > math.MaxInt64 {
		return saturate(neg)
	}
	if neg {
		return -time.Duration(q)
	}
	return time.Duration(q)
}

func saturate(neg bool) time.Duration {
	if neg {
		return math.MinInt64
	}
	return math.MaxInt64
}

// isSOI reports whether b starts like a JPEG.
func isSOI(b []byte) bool { return len(b) >= 2 && b[0] == 0xFF && b[1] == 0xD8 }

// fourcc renders a four-character code, escaping what is not printable.
func fourcc(b []byte) string {
	for _, c := range b {
		if c < 0x20 || c > 0x7E {
			return fmt.Sprintf("0x%X", b)
		}
	}
	return string(b)
}
