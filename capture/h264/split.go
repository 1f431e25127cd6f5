// Package h264 reads H.264 elementary streams for sources that pass them
// through: it splits an Annex B byte stream (a helper's pipe, a raw .h264
// file) into access units, and tells what an access unit is (a key frame,
// the picture size its parameter set gives). Bitstream parsing (the SPS)
// is left to bluenviron's mediacommon.
package h264

import (
	"bytes"
	"errors"
	"fmt"
	"io"
)

// ErrTooLarge is an access unit over the splitter's limit: a stream that
// is not H.264, or is damaged beyond use.
var ErrTooLarge = errors.New("h264: access unit over the size limit")

// NAL unit types the splitter and callers look at.
const (
	TypeSlice = 1
	TypeIDR   = 5
	TypeSEI   = 6
	TypeSPS   = 7
	TypePPS   = 8
	TypeAUD   = 9
)

// Splitter cuts an Annex B byte stream into access units by the rules of
// H.264 7.4.1.2.3: an access unit delimiter, or a parameter set or SEI
// after a picture's slices, or a slice that starts a new picture
// (first_mb_in_slice 0) begins the next unit. A unit is known complete
// only when the next one begins (or the stream ends), which an access unit
// delimiter in the stream (x264's aud=1) makes immediate.
type Splitter struct {
	r   io.Reader
	max int

	buf      []byte
	scan     int    // where the search for the next start code resumes
	nalStart int    // payload start of the NAL unit being read; -1 before the first
	cur      []span // the access unit being gathered
	hasVCL   bool
	au       [][]byte
	eof      bool
	err      error
}

type span struct{ start, end int }

// NewSplitter reads from r; an access unit over max bytes is an error.
func NewSplitter(r io.Reader, max int) *Splitter {
	return &Splitter{r: r, max: max, nalStart: -1}
}

// Next returns the next access unit's NAL units, without start codes,
// valid until the next call. At the end of the stream it returns io.EOF
// (after the last unit); a read error ends it too.
func (s *Splitter) Next() ([][]byte, error) {
	s.compact()
	for {
		if au := s.scanNALs(); au != nil {
			return au, nil
		}
		if s.eof {
			if s.nalStart >= 0 {
				n := len(s.cur)
				starts := s.add(span{s.nalStart, trimZeros(s.buf, s.nalStart, len(s.buf))})
				s.nalStart = -1
				if starts && n > 0 {
					return s.emit(n), nil
				}
			}
			if len(s.cur) > 0 {
				return s.emit(len(s.cur)), nil
			}
			return nil, s.err
		}
		if err := s.fill(); err != nil {
			return nil, err
		}
	}
}

// scanNALs looks for start codes in what has been read, adding each NAL
// unit it closes to the current access unit; it returns a unit when one
// is complete.
func (s *Splitter) scanNALs() [][]byte {
	for {
		i := bytes.Index(s.buf[s.scan:], []byte{0, 0, 1})
		if i < 0 {
			s.scan = max(s.scan, len(s.buf)-2)
			return nil
		}
		at := s.scan + i
		s.scan = at + 3
		if s.nalStart >= 0 {
			end := trimZeros(s.buf, s.nalStart, at)
			n := len(s.cur)
			starts := s.add(span{s.nalStart, end})
			s.nalStart = at + 3
			if starts && n > 0 {
				return s.emit(n)
			}
			continue
		}
		s.nalStart = at + 3
	}
}

// add appends a NAL unit to the current unit and reports whether it
// begins a new access unit (after the ones gathered so far).
func (s *Splitter) add(sp span) bool {
	if sp.end <= sp.start {
		return false
	}
	nal := s.buf[sp.start:sp.end]
	starts := false
	switch t := nal[0] & 0x1F; {
	case t == TypeAUD:
		starts = true
	case t == TypeSEI, t == TypeSPS, t == TypePPS, t >= 14 && t <= 18:
		starts = s.hasVCL
	case t == TypeSlice || t == TypeIDR:
		// first_mb_in_slice is ue(v): a leading 1 bit is the value 0.
		starts = s.hasVCL && len(nal) > 1 && nal[1]&0x80 != 0
	}
	if starts {
		s.hasVCL = false
	}
	if t := nal[0] & 0x1F; t == TypeSlice || t == TypeIDR {
		s.hasVCL = true
	}
	s.cur = append(s.cur, sp)
	return starts
}

// emit returns the first n NAL units gathered as an access unit and keeps
// the rest for the next.
func (s *Splitter) emit(n int) [][]byte {
	s.au = s.au[:0]
	for _, sp := range s.cur[:n] {
		s.au = append(s.au, s.buf[sp.start:sp.end])
	}
	rest := copy(s.cur, s.cur[n:])
	s.cur = s.cur[:rest]
	return s.au
}

// compact drops what the last returned unit used, so the buffer holds
// only the unit in progress.
func (s *Splitter) compact() {
	from := s.scan
	if s.nalStart >= 0 {
		from = min(from, s.nalStart)
	}
	if len(s.cur) > 0 {
		from = min(from, s.cur[0].start)
	}
	from = max(from, 0)
	if from == 0 {
		return
	}
	s.buf = s.buf[:copy(s.buf, s.buf[from:])]
	s.scan -= from
	if s.nalStart >= 0 {
		s.nalStart -= from
	}
	for i := range s.cur {
		s.cur[i].start -= from
		s.cur[i].end -= from
	}
}

// fill reads more of the stream, within the size limit.
func (s *Splitter) fill() error {
	if len(s.buf) >= s.max {
		return fmt.Errorf("%w (%d bytes)", ErrTooLarge, s.max)
	}
	if len(s.buf) == cap(s.buf) {
		grown := make([]byte, len(s.buf), min(max(2*cap(s.buf), 64<<10), s.max))
		copy(grown, s.buf)
		s.buf = grown
	}
	n, err := s.r.Read(s.buf[len(s.buf):cap(s.buf)])
	s.buf = s.buf[:len(s.buf)+n]
	if err != nil {
		s.eof = true
		if !errors.Is(err, io.EOF) {
			s.err = err
		} else {
			s.err = io.EOF
		}
	}
	return nil
}

// trimZeros drops the zero bytes before a start code (a 4-byte start
// code's first byte, trailing_zero_8bits), which belong to no NAL unit.
func trimZeros(b []byte, start, end int) int {
	for end > start && b[end-1] == 0 {
		end--
	}
	return end
}
