package demux

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
)

// AVI (RIFF) layout, as far as this reader needs it:
//
//	RIFF 'AVI '
//	  LIST 'hdrl'
//	    avih                  main header: µs per frame, total frames, size
//	    LIST 'strl'           one per stream, numbered from 0 in order
//	      strh                'vids', handler, scale/rate, length
//	      strf                BITMAPINFOHEADER: size, biCompression
//	    LIST 'odml' dmlh      OpenDML: total frames of the whole file
//	  LIST 'movi'
//	    NNdc / NNdb           a video frame of stream NN (may be empty: a dropped frame)
//	    NNwb, ixNN, JUNK...   audio, OpenDML indexes, padding: skipped
//	    LIST 'rec '           optional grouping of chunks
//	  idx1                    optional index: not needed for reading in order
//	RIFF 'AVIX'               OpenDML continuation (files over 1 GB)
//	  LIST 'movi' ...
//
// Chunks are word aligned: an odd-sized chunk is followed by a pad byte.
// Frames are read in file order; frame n is at n·scale/rate.

type aviReader struct {
	source
	info    Info
	id      [2]byte // the video stream's number as two ASCII digits
	scale   uint64  // seconds per frame = scale/rate
	rate    uint64
	first   aviSpan // the first movi list, where Rewind goes back to
	riffEnd int64   // end of the RIFF chunk being read
	lists   []int64 // ends of the open movi / rec lists, innermost last
	idx     int64   // video chunks so far, empty ones included
	buf     []byte
}

type aviSpan struct{ start, end, riffEnd int64 }

var le = binary.LittleEndian

func openAVI(src source) (*aviReader, error) {
	in := src.in
	var hdr [12]byte
	if err := in.full(hdr[:]); err != nil {
		return nil, fmt.Errorf("avi: %w", ErrTruncated)
	}
	h := aviHead{in: in, riffEnd: 8 + int64(le.Uint32(hdr[4:]))}
	if h.riffEnd == 8 {
		h.riffEnd = in.size // header never finished by its writer
	}
	for h.movi.end == 0 {
		if err := h.next(); err != nil {
			return nil, err
		}
	}
	r := &aviReader{source: src, first: h.movi}
	if err := r.parseHeader(h.hdrl); err != nil {
		return nil, err
	}
	if err := r.Rewind(); err != nil {
		return nil, err
	}
	return r, nil
}

// aviHead is what openAVI looks for in the first RIFF chunk: the header
// list, then where the frames start.
type aviHead struct {
	in      *input
	riffEnd int64
	hdrl    []byte
	movi    aviSpan
}

// next reads one chunk of the RIFF chunk, keeping hdrl and stopping at
// movi.
func (h *aviHead) next() error {
	in := h.in
	start := in.pos
	if start+8 > h.riffEnd || start >= in.size {
		return h.missing()
	}
	var ch [12]byte
	if err := in.full(ch[:8]); err != nil {
		return fmt.Errorf("avi: chunk header at %d: %w", start, ErrTruncated)
	}
	size := int64(le.Uint32(ch[4:8]))
	end := start + 8 + size
	if string(ch[:4]) != "LIST" {
		return h.skipTo(end + size&1)
	}
	if err := in.full(ch[8:12]); err != nil {
		return fmt.Errorf("avi: list header at %d: %w", start, ErrTruncated)
	}
	switch typ := string(ch[8:12]); {
	case size < 4 && typ != "movi":
		return nil // a broken list: its type was all there is
	case typ == "hdrl":
		return h.onHdrl(size, end)
	case typ == "movi":
		return h.onMovi(size, end)
	}
	return h.skipTo(end + size&1)
}

// missing explains why the RIFF chunk ended before a movi list.
func (h *aviHead) missing() error {
	if h.hdrl == nil {
		return errors.New("avi: no hdrl header list")
	}
	if h.riffEnd > h.in.size {
		return fmt.Errorf("avi: no movi list before the end of the file: %w", ErrTruncated)
	}
	return errors.New("avi: no movi list")
}

// onHdrl keeps the header list, within a limit no real file comes near.
func (h *aviHead) onHdrl(size, end int64) error {
	if size > 16<<20 {
		return fmt.Errorf("avi: hdrl list of %d bytes", size)
	}
	if end > h.in.size {
		return fmt.Errorf("avi: hdrl list: %w", ErrTruncated)
	}
	h.hdrl = make([]byte, size-4)
	if err := h.in.full(h.hdrl); err != nil {
		return fmt.Errorf("avi: hdrl list: %w", ErrTruncated)
	}
	return h.skipTo(h.in.pos + size&1)
}

func (h *aviHead) onMovi(size, end int64) error {
	if h.hdrl == nil {
		return errors.New("avi: movi list before the hdrl header list")
	}
	if size == 0 {
		end = h.riffEnd // never finished by its writer: the list runs to the end
	}
	h.movi = aviSpan{start: h.in.pos, end: end, riffEnd: h.riffEnd}
	return nil
}

func (h *aviHead) skipTo(off int64) error {
	if err := h.in.skip(off - h.in.pos); err != nil {
		return fmt.Errorf("avi: %w", err)
	}
	return nil
}

// riffChunks calls fn for each chunk in b (a LIST's body); a LIST chunk's
// body starts with its list type.
func riffChunks(b []byte, fn func(id string, body []byte)) {
	for len(b) >= 8 {
		id, size := string(b[:4]), int(le.Uint32(b[4:8]))
		b = b[8:]
		if size > len(b) || size < 0 {
			size = len(b)
		}
		fn(id, b[:size])
		b = b[size:]
		if size&1 == 1 && len(b) > 0 {
			b = b[1:]
		}
	}
}

type aviStream struct {
	number        int
	vids          bool // strh says video
	codec         string
	handler       string
	scale, rate   uint32
	length        uint32
	width, height int
}

// onChunk reads a chunk of the stream's strl list.
func (s *aviStream) onChunk(id string, b []byte) {
	switch {
	case id == "strh" && len(b) >= 36:
		s.vids = string(b[0:4]) == "vids"
		s.handler = fourcc(b[4:8])
		s.scale, s.rate = le.Uint32(b[20:]), le.Uint32(b[24:])
		s.length = le.Uint32(b[32:])
	case id == "strf" && len(b) >= 20:
		s.width = int(int32(le.Uint32(b[4:])))
		s.height = int(int32(le.Uint32(b[8:])))
		s.height = max(s.height, -s.height) // negative: top-down rows
		s.codec = bitmapCodec(b[16:20])
	}
}

// aviHdrl is what the hdrl list says.
type aviHdrl struct {
	usPerFrame, totalFrames, odmlFrames uint32
	width, height                       int
	streams                             int
	video                               []aviStream
}

// onChunk reads a chunk of the hdrl list.
func (h *aviHdrl) onChunk(id string, body []byte) {
	isList := func(typ string) bool {
		return id == "LIST" && len(body) >= 4 && string(body[:4]) == typ
	}
	switch {
	case id == "avih" && len(body) >= 40:
		h.usPerFrame = le.Uint32(body[0:])
		h.totalFrames = le.Uint32(body[16:])
		h.width, h.height = int(le.Uint32(body[32:])), int(le.Uint32(body[36:]))
	case isList("strl"):
		s := aviStream{number: h.streams}
		h.streams++
		riffChunks(body[4:], s.onChunk)
		if s.vids {
			h.video = append(h.video, s)
		}
	case isList("odml"):
		riffChunks(body[4:], func(id string, b []byte) {
			if id == "dmlh" && len(b) >= 4 {
				h.odmlFrames = le.Uint32(b)
			}
		})
	}
}

// chooseVideo picks the first MJPEG video stream, or names the codec of the
// first video stream when none is MJPEG.
func (h *aviHdrl) chooseVideo() (aviStream, error) {
	if len(h.video) == 0 {
		return aviStream{}, errors.New("avi: no video stream")
	}
	v := h.video[0]
	for _, s := range h.video {
		if isMJPEGFourCC(s.codec) {
			v = s
			break
		}
	}
	if v.codec == "" {
		v.codec = v.handler
	}
	if !isMJPEGFourCC(v.codec) {
		return v, fmt.Errorf("%w: avi stream %d is %s", ErrNotMJPEG, v.number, v.codec)
	}
	if v.number > 99 {
		return v, fmt.Errorf("avi: video stream number %d", v.number)
	}
	return v, nil
}

// frames counts the frames of stream v: OpenDML's count covers the whole
// file, the main header's only the first RIFF chunk.
func (h *aviHdrl) frames(v aviStream) uint32 {
	switch {
	case h.odmlFrames != 0:
		return h.odmlFrames
	case v.length != 0:
		return v.length
	}
	return h.totalFrames
}

func (r *aviReader) parseHeader(hdrl []byte) error {
	var h aviHdrl
	riffChunks(hdrl, h.onChunk)
	v, err := h.chooseVideo()
	if err != nil {
		return err
	}
	r.id = [2]byte{byte('0' + v.number/10), byte('0' + v.number%10)}
	r.scale, r.rate = uint64(v.scale), uint64(v.rate)
	if r.scale == 0 || r.rate == 0 {
		r.scale, r.rate = uint64(h.usPerFrame), 1e6
	}
	if r.scale == 0 {
		r.scale, r.rate = 1, DefaultRawFPS
	}
	width, height := h.width, h.height
	if v.width > 0 && v.height > 0 {
		width, height = v.width, v.height
	}
	frames := h.frames(v)
	r.info = Info{
		Container: "avi",
		Codec:     v.codec,
		Width:     width,
		Height:    height,
		FPS:       float64(r.rate) / float64(r.scale),
		Frames:    int(frames),
		Duration:  ticks(int64(frames), r.scale, r.rate),
	}
	return nil
}

// bitmapCodec names a BITMAPINFOHEADER biCompression.
func bitmapCodec(b []byte) string {
	switch le.Uint32(b) {
	case 0:
		return "RGB"
	case 1:
		return "RLE8"
	case 2:
		return "RLE4"
	case 3:
		return "BITFIELDS"
	}
	return fourcc(b)
}

// isMJPEGFourCC reports whether a FourCC names Motion JPEG whose frames are
// plain JPEG pictures.
func isMJPEGFourCC(c string) bool {
	return strings.EqualFold(c, "MJPG") || c == "AVRn" || c == "AVDJ" || c == "dmb1"
}

func (r *aviReader) Info() Info { return r.info }

func (r *aviReader) Rewind() error {
	if err := r.in.seek(r.first.start); err != nil {
		return fmt.Errorf("demux %s: %w", r.path, err)
	}
	r.lists = append(r.lists[:0], r.first.end)
	r.riffEnd = r.first.riffEnd
	r.idx, r.done = 0, false
	return nil
}

func (r *aviReader) Next() ([]byte, time.Duration, error) {
	for !r.done {
		listEnd, err := r.list()
		if err != nil {
			return nil, 0, err
		}
		c, err := r.chunk(listEnd)
		if err != nil {
			return nil, 0, err
		}
		var b []byte
		var pts time.Duration
		switch {
		case c.id == "LIST":
			err = r.onList(c)
		case c.video:
			b, pts, err = r.onFrame(c)
		default:
			err = r.skipChunk(c)
		}
		if b != nil || err != nil {
			return b, pts, err
		}
	}
	return nil, 0, io.EOF
}

// list returns the end of the innermost open list, moving on to the next
// movi list when the last one is done.
func (r *aviReader) list() (int64, error) {
	for {
		for len(r.lists) > 0 && r.in.pos >= r.lists[len(r.lists)-1] {
			r.lists = r.lists[:len(r.lists)-1]
		}
		if len(r.lists) > 0 {
			return r.lists[len(r.lists)-1], nil
		}
		if ok, err := r.nextMovi(); err != nil {
			return 0, err
		} else if !ok {
			r.done = true
			return 0, io.EOF
		}
	}
}

// aviChunk is a chunk header just read inside a movi list.
type aviChunk struct {
	id         string
	start, end int64
	size       int64
	video      bool // a frame of our stream
}

// chunk reads the next chunk header, which must fit in its list.
func (r *aviReader) chunk(listEnd int64) (aviChunk, error) {
	in := r.in
	start := in.pos
	var h [8]byte
	if err := in.full(h[:]); err != nil {
		return aviChunk{}, r.readErr(err, "chunk header at offset %d", start)
	}
	size := int64(le.Uint32(h[4:]))
	c := aviChunk{id: string(h[:4]), start: start, end: start + 8 + size, size: size,
		video: h[0] == r.id[0] && h[1] == r.id[1] && (h[2] == 'd' && (h[3] == 'c' || h[3] == 'b'))}
	if c.end <= listEnd {
		return c, nil
	}
	if c.end > in.size && listEnd > in.size {
		return c, r.truncated("frame %d: chunk %s at offset %d ends beyond the end of the file", r.idx, fourcc(h[:4]), start)
	}
	return c, r.resync(start, listEnd, c.video,
		"chunk %s at offset %d: %d bytes overrun its list", fourcc(h[:4]), start, c.end-listEnd)
}

// onList opens a 'rec ' list, whose chunks are read like the movi list's,
// and skips any other.
func (r *aviReader) onList(c aviChunk) error {
	if c.size < 4 {
		return nil // an empty, broken list
	}
	var typ [4]byte
	if err := r.in.full(typ[:]); err != nil {
		return r.readErr(err, "list header at offset %d", c.start)
	}
	if string(typ[:]) == "rec " {
		r.lists = append(r.lists, c.end)
		return nil
	}
	return r.skipChunk(c)
}

// onFrame reads a frame of our stream; an empty chunk is a dropped frame,
// which only moves the time on.
func (r *aviReader) onFrame(c aviChunk) ([]byte, time.Duration, error) {
	n := r.idx
	r.idx++
	switch {
	case c.end > r.in.size:
		return nil, 0, r.truncated("frame %d: chunk at offset %d ends beyond the end of the file", n, c.start)
	case c.size == 0:
		return nil, 0, nil
	case c.size > maxFrameSize:
		if err := r.skipChunk(c); err != nil {
			return nil, 0, err
		}
		return nil, 0, r.corrupt(n, "chunk at offset %d: size %d", c.start, c.size)
	}
	r.buf = grow(r.buf, int(c.size))
	if err := r.in.full(r.buf); err != nil {
		return nil, 0, r.readErr(err, "frame %d at offset %d", n, c.start)
	}
	if c.size&1 == 1 {
		if err := r.in.skip(1); err != nil {
			return nil, 0, r.fail(err)
		}
	}
	if !isSOI(r.buf) {
		return nil, 0, r.corrupt(n, "chunk at offset %d does not start with a JPEG SOI marker", c.start)
	}
	return r.buf, ticks(n, r.scale, r.rate), nil
}

// skipChunk moves past chunk c and its pad byte.
func (r *aviReader) skipChunk(c aviChunk) error {
	if err := r.in.skip(c.end + c.size&1 - r.in.pos); err != nil {
		return r.fail(err)
	}
	return nil
}

// readErr turns a failed read into ErrTruncated when the file ended.
func (r *aviReader) readErr(err error, format string, args ...any) error {
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return r.truncated(format+": the file ends there", args...)
	}
	return r.fail(err)
}

// resync looks for the next plausible chunk header after a chunk whose size
// cannot be right, so that reading goes on from there.
func (r *aviReader) resync(start, listEnd int64, video bool, format string, args ...any) error {
	n := r.idx
	if video {
		r.idx++
	}
	in := r.in
	if err := in.seek(start + 2); err != nil {
		return r.fail(err)
	}
	for in.pos+8 <= listEnd {
		h, err := in.br.Peek(8)
		if len(h) < 8 {
			if err == io.EOF {
				break
			}
			return r.fail(err)
		}
		if r.plausible(h, in.pos, listEnd) {
			return r.corrupt(n, format, args...)
		}
		in.discard(2)
	}
	if err := in.seek(listEnd); err != nil {
		return r.fail(err)
	}
	return r.corrupt(n, format, args...)
}

func (r *aviReader) plausible(h []byte, pos, listEnd int64) bool {
	if pos+8+int64(le.Uint32(h[4:])) > listEnd {
		return false
	}
	digit := func(c byte) bool { return c >= '0' && c <= '9' }
	switch id := string(h[:4]); {
	case id == "LIST" || id == "JUNK":
		return true
	case digit(h[0]) && digit(h[1]):
		switch id[2:] {
		case "dc", "db", "wb", "tx", "pc":
			return true
		}
	case id[:2] == "ix" && digit(h[2]) && digit(h[3]):
		return true
	}
	return false
}

// nextMovi moves to the next movi list: later in the same RIFF chunk, or in
// the following OpenDML 'RIFF AVIX' chunks. It reports false at the end of
// the file.
func (r *aviReader) nextMovi() (bool, error) {
	in := r.in
	for {
		if in.pos >= r.riffEnd {
			next := r.riffEnd + r.riffEnd&1
			if next >= in.size {
				if r.riffEnd > in.size {
					return false, r.truncated("RIFF chunk ends %d bytes beyond the end of the file", r.riffEnd-in.size)
				}
				return false, nil
			}
			if err := in.seek(next); err != nil {
				return false, r.fail(err)
			}
			var h [12]byte
			if err := in.full(h[:]); err != nil {
				return false, r.readErr(err, "RIFF header at offset %d", next)
			}
			if string(h[:4]) != "RIFF" || string(h[8:]) != "AVIX" {
				return false, nil // trailing data that is no OpenDML extension
			}
			r.riffEnd = next + 8 + int64(le.Uint32(h[4:]))
			continue
		}
		start := in.pos
		var h [12]byte
		if err := in.full(h[:8]); err != nil {
			return false, r.readErr(err, "chunk header at offset %d", start)
		}
		size := int64(le.Uint32(h[4:8]))
		end := start + 8 + size
		if string(h[:4]) == "LIST" {
			if err := in.full(h[8:]); err != nil {
				return false, r.readErr(err, "list header at offset %d", start)
			}
			if string(h[8:]) == "movi" {
				if size == 0 {
					end = r.riffEnd // never finished by its writer
				}
				r.lists = append(r.lists, end)
				return true, nil
			}
			if size < 4 {
				continue
			}
		}
		if err := in.skip(end + size&1 - in.pos); err != nil {
			return false, r.fail(err)
		}
	}
}
