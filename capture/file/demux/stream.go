package demux

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
)

// ErrFrameTooLarge is wrapped by MJPEGStream.Next when a picture has no end
// within the stream's limit: a writer that has lost its framing, which
// reading on would follow into unbounded memory.
var ErrFrameTooLarge = errors.New("picture larger than the limit")

// MJPEGStream splits the JPEG pictures a capture helper writes back to back
// on a pipe. Unlike a file, a pipe cannot seek and its bytes arrive as the
// helper makes them, so a picture is returned as soon as its EOI has
// arrived, never held back for the next one.
type MJPEGStream struct {
	in  *input
	buf []byte
	max int
	n   int64
}

// NewMJPEGStream reads pictures from r, none larger than max bytes.
func NewMJPEGStream(r io.Reader, max int) *MJPEGStream {
	return &MJPEGStream{in: &input{br: bufio.NewReaderSize(r, 64<<10)}, max: max}
}

// Next returns the next picture, byte for byte, valid until the next call.
// Bytes before a picture are skipped and reported as ErrCorruptFrame (the
// picture after them comes with the next call; more than the limit of
// them is reported without waiting for a picture), as is a picture that
// cannot be delimited. A picture over the limit is ErrFrameTooLarge; data
// that ends inside a picture is ErrTruncated; a clean end is io.EOF.
func (s *MJPEGStream) Next() ([]byte, error) {
	skipped, err := s.skipToSOI()
	if err != nil {
		if err == io.EOF && skipped > 0 {
			return nil, fmt.Errorf("mjpeg: %d bytes at the end are not a picture: %w", skipped, ErrTruncated)
		}
		return nil, err
	}
	if skipped > 0 {
		return nil, fmt.Errorf("mjpeg: skipped %d bytes that are not a JPEG picture: %w", skipped, ErrCorruptFrame)
	}
	n := s.n
	s.n++
	s.buf, err = scanJPEG(s.in, s.buf[:0], s.max)
	var se *scanError
	switch {
	case err == nil:
		return s.buf, nil
	case errors.As(err, &se) && se.tooLarge:
		return nil, fmt.Errorf("mjpeg: picture %d: %s: %w", n, se.msg, ErrFrameTooLarge)
	case errors.As(err, &se) && se.truncated:
		return nil, fmt.Errorf("mjpeg: picture %d: %s: %w", n, se.msg, ErrTruncated)
	case errors.As(err, &se):
		return nil, fmt.Errorf("mjpeg: picture %d: %s: %w", n, se.msg, ErrCorruptFrame)
	}
	return nil, err
}

// skipToSOI moves to the next SOI marker looking only at what has arrived
// (a file's skipTo waits for a full window, which on a pipe would hold a
// picture back until the next ones are written). Skipped bytes are
// bounded by the limit: garbage that long ends in ErrFrameTooLarge.
func (s *MJPEGStream) skipToSOI() (int64, error) {
	var skipped int64
	for {
		win, err := s.in.br.Peek(max(s.in.br.Buffered(), len(soi)))
		if i := bytes.Index(win, soi); i >= 0 {
			s.in.discard(i)
			return skipped + int64(i), nil
		}
		if err != nil {
			s.in.discard(len(win))
			return skipped + int64(len(win)), err
		}
		k := len(win) - (len(soi) - 1) // the marker may straddle what has arrived
		s.in.discard(k)
		if skipped += int64(k); skipped > int64(s.max) {
			return skipped, fmt.Errorf("mjpeg: no picture in %d bytes: %w", skipped, ErrCorruptFrame)
		}
	}
}
