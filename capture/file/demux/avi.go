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
	riffEnd := 8 + int64(le.Uint32(hdr[4:]))
	if riffEnd == 8 {
		riffEnd = in.size // header never finished by its writer
	}
	var hdrl []byte
	var movi aviSpan
	for movi.end == 0 {
		start := in.pos
		var ch [12]byte
		if start+8 > riffEnd || start >= in.size {
			if hdrl == nil {
				return nil, errors.New("avi: no hdrl header list")
			}
			if riffEnd > in.size {
				return nil, fmt.Errorf("avi: no movi list before the end of the file: %w", ErrTruncated)
			}
			return nil, errors.New("avi: no movi list")
		}
		if err := in.full(ch[:8]); err != nil {
			return nil, fmt.Errorf("avi: chunk header at %d: %w", start, ErrTruncated)
		}
		size := int64(le.Uint32(ch[4:8]))
		end := start + 8 + size
		if string(ch[:4]) != "LIST" {
			if err := in.skip(end + size&1 - in.pos); err != nil {
				return nil, err
			}
			continue
		}
		if err := in.full(ch[8:12]); err != nil {
			return nil, fmt.Errorf("avi: list header at %d: %w", start, ErrTruncated)
		}
		if size < 4 && string(ch[8:12]) != "movi" {
			continue // a broken list: its type was all there is
		}
		switch string(ch[8:12]) {
		case "hdrl":
			if size > 16<<20 {
				return nil, fmt.Errorf("avi: hdrl list of %d bytes", size)
			}
			if end > in.size {
				return nil, fmt.Errorf("avi: hdrl list: %w", ErrTruncated)
			}
			hdrl = make([]byte, size-4)
			if err := in.full(hdrl); err != nil {
				return nil, fmt.Errorf("avi: hdrl list: %w", ErrTruncated)
			}
			if err := in.skip(size & 1); err != nil {
				return nil, err
			}
		case "movi":
			if hdrl == nil {
				return nil, errors.New("avi: movi list before the hdrl header list")
			}
			if size == 0 {
				end = riffEnd // never finished by its writer: the list runs to the end
			}
			movi = aviSpan{start: in.pos, end: end, riffEnd: riffEnd}
		default:
			if err := in.skip(end + size&1 - in.pos); err != nil {
				return nil, err
			}
		}
	}
	r := &aviReader{source: src, first: movi}
	if err := r.parseHeader(hdrl); err != nil {
		return nil, err
	}
	if err := r.Rewind(); err != nil {
		return nil, err
	}
	return r, nil
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
	codec         string
	handler       string
	scale, rate   uint32
	length        uint32
	width, height int
}

func (r *aviReader) parseHeader(hdrl []byte) error {
	var usPerFrame, totalFrames, odmlFrames uint32
	var width, height int
	var video []aviStream
	streams := 0
	riffChunks(hdrl, func(id string, body []byte) {
		switch {
		case id == "avih" && len(body) >= 40:
			usPerFrame = le.Uint32(body[0:])
			totalFrames = le.Uint32(body[16:])
			width, height = int(le.Uint32(body[32:])), int(le.Uint32(body[36:]))
		case id == "LIST" && len(body) >= 4 && string(body[:4]) == "strl":
			s := aviStream{number: streams}
			streams++
			var vids bool
			riffChunks(body[4:], func(id string, b []byte) {
				switch {
				case id == "strh" && len(b) >= 36:
					vids = string(b[0:4]) == "vids"
					s.handler = fourcc(b[4:8])
					s.scale, s.rate = le.Uint32(b[20:]), le.Uint32(b[24:])
					s.length = le.Uint32(b[32:])
				case id == "strf" && len(b) >= 20:
					s.width = int(int32(le.Uint32(b[4:])))
					s.height = int(int32(le.Uint32(b[8:])))
					s.height = max(s.height, -s.height) // negative: top-down rows
					s.codec = bitmapCodec(b[16:20])
				}
			})
			if vids {
				video = append(video, s)
			}
		case id == "LIST" && len(body) >= 4 && string(body[:4]) == "odml":
			riffChunks(body[4:], func(id string, b []byte) {
				if id == "dmlh" && len(b) >= 4 {
					odmlFrames = le.Uint32(b)
				}
			})
		}
	})
	if len(video) == 0 {
		return errors.New("avi: no video stream")
	}
	v := video[0]
	for _, s := range video {
		if isMJPEGFourCC(s.codec) {
			v = s
			break
		}
	}
	if v.codec == "" {
		v.codec = v.handler
	}
	if !isMJPEGFourCC(v.codec) {
		return fmt.Errorf("%w: avi stream %d is %s", ErrNotMJPEG, v.number, v.codec)
	}
	if v.number > 99 {
		return fmt.Errorf("avi: video stream number %d", v.number)
	}
	r.id = [2]byte{byte('0' + v.number/10), byte('0' + v.number%10)}
	r.scale, r.rate = uint64(v.scale), uint64(v.rate)
	if r.scale == 0 || r.rate == 0 {
		r.scale, r.rate = uint64(usPerFrame), 1e6
	}
	if r.scale == 0 {
		r.scale, r.rate = 1, DefaultRawFPS
	}
	frames := odmlFrames
	if frames == 0 {
		frames = v.length
	}
	if frames == 0 {
		frames = totalFrames
	}
	if v.width > 0 && v.height > 0 {
		width, height = v.width, v.height
	}
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
	if r.done {
		return nil, 0, io.EOF
	}
	in := r.in
	for {
		for len(r.lists) > 0 && in.pos >= r.lists[len(r.lists)-1] {
			r.lists = r.lists[:len(r.lists)-1]
		}
		if len(r.lists) == 0 {
			if ok, err := r.nextMovi(); err != nil {
				return nil, 0, err
			} else if !ok {
				r.done = true
				return nil, 0, io.EOF
			}
			continue
		}
		listEnd := r.lists[len(r.lists)-1]
		start := in.pos
		var h [8]byte
		if err := in.full(h[:]); err != nil {
			return nil, 0, r.readErr(err, "chunk header at offset %d", start)
		}
		size := int64(le.Uint32(h[4:]))
		end := start + 8 + size
		video := h[0] == r.id[0] && h[1] == r.id[1] && (h[2] == 'd' && (h[3] == 'c' || h[3] == 'b'))
		if end > listEnd {
			if end > in.size && listEnd > in.size {
				return nil, 0, r.truncated("frame %d: chunk %s at offset %d ends beyond the end of the file", r.idx, fourcc(h[:4]), start)
			}
			return nil, 0, r.resync(start, listEnd, video,
				"chunk %s at offset %d: %d bytes overrun its list", fourcc(h[:4]), start, end-listEnd)
		}
		switch {
		case string(h[:4]) == "LIST":
			var typ [4]byte
			if size < 4 {
				continue // an empty, broken list
			}
			if err := in.full(typ[:]); err != nil {
				return nil, 0, r.readErr(err, "list header at offset %d", start)
			}
			if string(typ[:]) == "rec " {
				r.lists = append(r.lists, end)
				continue
			}
		case video:
			n := r.idx
			r.idx++
			if end > in.size {
				return nil, 0, r.truncated("frame %d: chunk at offset %d ends beyond the end of the file", n, start)
			}
			if size == 0 { // a dropped frame: the next one is a frame period later
				continue
			}
			if size > maxFrameSize {
				if err := in.skip(end + size&1 - in.pos); err != nil {
					return nil, 0, r.fail(err)
				}
				return nil, 0, r.corrupt(n, "chunk at offset %d: size %d", start, size)
			}
			r.buf = grow(r.buf, int(size))
			if err := in.full(r.buf); err != nil {
				return nil, 0, r.readErr(err, "frame %d at offset %d", n, start)
			}
			if size&1 == 1 {
				if err := in.skip(1); err != nil {
					return nil, 0, r.fail(err)
				}
			}
			if !isSOI(r.buf) {
				return nil, 0, r.corrupt(n, "chunk at offset %d does not start with a JPEG SOI marker", start)
			}
			return r.buf, ticks(n, r.scale, r.rate), nil
		}
		if err := in.skip(end + size&1 - in.pos); err != nil {
			return nil, 0, r.fail(err)
		}
	}
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
