package demux

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"time"
)

// rawReader reads concatenated JPEG pictures (SOI..EOI, back to back), as
// ffmpeg's "-f mjpeg" writes them and many cameras dump them. There are no
// timestamps: frame n is at n/fps.
type rawReader struct {
	source
	info     Info
	fps      float64
	n        int64 // frames begun so far: the next frame's index
	buf      []byte
	cutAtEnd bool // the data stops where a file was cut: its end is ErrTruncated
}

func openRaw(src source, fps float64, container string, cutAtEnd bool) (*rawReader, error) {
	r := &rawReader{source: src, fps: fps, cutAtEnd: cutAtEnd}
	r.info = Info{Container: container, Codec: "jpeg", FPS: fps}
	// The first picture tells the size; the stream then starts over.
	if b, _, err := r.Next(); err == nil {
		r.info.Width, r.info.Height = jpegSize(b)
	} else if !errors.Is(err, ErrCorruptFrame) && !errors.Is(err, ErrTruncated) && err != io.EOF {
		return nil, err
	}
	if err := r.Rewind(); err != nil {
		return nil, err
	}
	return r, nil
}

func (r *rawReader) Info() Info { return r.info }

func (r *rawReader) Rewind() error {
	if err := r.in.seek(0); err != nil {
		return fmt.Errorf("demux %s: %w", r.path, err)
	}
	r.n, r.done = 0, false
	return nil
}

func (r *rawReader) pts(n int64) time.Duration {
	return time.Duration(math.Round(float64(n) * float64(time.Second) / r.fps))
}

func (r *rawReader) Next() ([]byte, time.Duration, error) {
	if r.done {
		return nil, 0, io.EOF
	}
	skipped, err := r.in.skipTo(soi)
	if err == io.EOF {
		if r.cutAtEnd {
			return nil, 0, r.truncated("the data ends after %d frames", r.n)
		}
		// Trailing bytes that hold no picture (padding) end the stream.
		r.done = true
		return nil, 0, io.EOF
	}
	if err != nil {
		return nil, 0, r.fail(err)
	}
	if skipped > 0 {
		return nil, 0, r.corrupt(r.n, "skipped %d bytes that are not a JPEG picture", skipped)
	}
	n := r.n
	r.n++
	start := r.in.pos
	r.buf, err = scanJPEG(r.in, r.buf[:0], maxFrameSize)
	var se *scanError
	switch {
	case err == nil:
		return r.buf, r.pts(n), nil
	case errors.As(err, &se) && se.truncated:
		return nil, 0, r.truncated("frame %d at offset %d: the file ends inside the picture", n, start)
	case errors.As(err, &se):
		return nil, 0, r.corrupt(n, "at offset %d: %s", start, se.msg)
	default:
		return nil, 0, r.fail(err)
	}
}

var soi = []byte{0xFF, 0xD8}

// scanError is a picture that cannot be delimited: truncated (the data ends
// inside it) or malformed.
type scanError struct {
	msg       string
	truncated bool
	tooLarge  bool // no EOI within the limit
}

func (e *scanError) Error() string { return e.msg }

// scanJPEG appends to dst the JPEG picture that starts at the input's
// position, SOI to EOI inclusive, byte for byte. Marker segments are skipped
// by their length; entropy-coded data is scanned for a 0xFF that is neither
// stuffing (FF 00), a restart marker (FF D0-D7) nor fill (FF FF), which is the
// next marker: EOI, or in a progressive or multi-scan picture the tables and
// header of the next scan.
func scanJPEG(in *input, dst []byte, max int) ([]byte, error) {
	eof := func(err error) error {
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return &scanError{msg: "the data ends inside the picture", truncated: true}
		}
		return err
	}
	bad := func(format string, args ...any) error {
		return &scanError{msg: fmt.Sprintf(format, args...)}
	}
	var two [2]byte
	if err := in.full(two[:]); err != nil {
		return dst, eof(err)
	}
	if two != [2]byte{0xFF, 0xD8} {
		return dst, bad("no SOI marker")
	}
	dst = append(dst, two[:]...)
	for {
		if len(dst) > max {
			return dst, &scanError{msg: fmt.Sprintf("no EOI marker within %d bytes", max), tooLarge: true}
		}
		c, err := in.byte()
		if err != nil {
			return dst, eof(err)
		}
		if c != 0xFF {
			return dst, bad("byte 0x%02X at picture offset %d where a marker should be", c, len(dst))
		}
		dst = append(dst, c)
		m := byte(0xFF)
		for m == 0xFF { // fill bytes before the marker code
			if m, err = in.byte(); err != nil {
				return dst, eof(err)
			}
			dst = append(dst, m)
		}
		switch {
		case m == 0xD9: // EOI
			return dst, nil
		case m == 0xD8 || m == 0x00:
			return dst, bad("marker 0xFF%02X at picture offset %d", m, len(dst)-2)
		case m >= 0xD0 && m <= 0xD7 || m == 0x01: // RSTn and TEM stand alone
			continue
		}
		if dst, err = appendSegment(in, dst, m); err != nil {
			return dst, eof(err)
		}
		if m != 0xDA { // not SOS: no entropy-coded data follows
			continue
		}
		if dst, err = scanEntropy(in, dst, max); err != nil {
			return dst, eof(err)
		}
	}
}

// appendSegment appends the length and body of the segment of marker m.
func appendSegment(in *input, dst []byte, m byte) ([]byte, error) {
	var two [2]byte
	if err := in.full(two[:]); err != nil {
		return dst, err
	}
	length := int(two[0])<<8 | int(two[1])
	if length < 2 {
		return dst, &scanError{msg: fmt.Sprintf("marker 0xFF%02X with length %d", m, length)}
	}
	dst = append(dst, two[:]...)
	old := len(dst)
	dst = append(dst, make([]byte, length-2)...)
	return dst, in.full(dst[old:])
}

// scanEntropy appends entropy-coded data up to (not including) the next
// marker.
func scanEntropy(in *input, dst []byte, max int) ([]byte, error) {
	for {
		if len(dst) > max {
			return dst, &scanError{msg: fmt.Sprintf("no EOI marker within %d bytes", max), tooLarge: true}
		}
		if in.br.Buffered() == 0 {
			if _, err := in.br.Peek(1); err != nil {
				return dst, err
			}
		}
		win, _ := in.br.Peek(in.br.Buffered())
		i := bytes.IndexByte(win, 0xFF)
		if i < 0 {
			dst = append(dst, win...)
			in.discard(len(win))
			continue
		}
		dst = append(dst, win[:i]...)
		in.discard(i)
		pair, err := in.br.Peek(2)
		if len(pair) < 2 {
			if err == nil {
				err = io.ErrUnexpectedEOF
			}
			return dst, err
		}
		switch x := pair[1]; {
		case x == 0x00 || x >= 0xD0 && x <= 0xD7: // stuffing, restart marker
			dst = append(dst, pair...)
			in.discard(2)
		case x == 0xFF: // fill byte before a marker
			dst = append(dst, 0xFF)
			in.discard(1)
		default: // a marker ends the scan
			return dst, nil
		}
	}
}

// skipTo moves to the next occurrence of pat and says how many bytes it
// passed. At the end of the data it returns io.EOF.
func (in *input) skipTo(pat []byte) (int64, error) {
	var skipped int64
	for {
		win, err := in.br.Peek(in.br.Size())
		if i := bytes.Index(win, pat); i >= 0 {
			in.discard(i)
			return skipped + int64(i), nil
		}
		if err != nil { // fewer bytes than a full window are left
			in.discard(len(win))
			return skipped + int64(len(win)), err
		}
		// Keep the last bytes: the pattern may straddle the window's end.
		k := len(win) - (len(pat) - 1)
		if k <= 0 {
			k = len(win)
		}
		in.discard(k)
		skipped += int64(k)
	}
}

func (in *input) discard(n int) {
	d, _ := in.br.Discard(n)
	in.pos += int64(d)
}

// jpegSize reads the picture size from a JPEG's frame header (0 when absent).
func jpegSize(b []byte) (w, h int) {
	i := 2
	for i+4 <= len(b) {
		if b[i] != 0xFF {
			return 0, 0
		}
		m := b[i+1]
		switch {
		case m == 0xFF:
			i++
			continue
		case m >= 0xD0 && m <= 0xD7 || m == 0x01:
			i += 2
			continue
		case m == 0xD9 || m == 0xDA:
			return 0, 0
		}
		length := int(b[i+2])<<8 | int(b[i+3])
		if m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC {
			if length < 7 || i+9 > len(b) {
				return 0, 0
			}
			return int(b[i+7])<<8 | int(b[i+8]), int(b[i+5])<<8 | int(b[i+6])
		}
		i += 2 + length
	}
	return 0, 0
}
