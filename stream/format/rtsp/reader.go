package rtsp

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Limits bound what a peer may send, so no request can exhaust memory.
type Limits struct {
	MaxLine        int // bytes in the request line and in each header line
	MaxHeaderBytes int // bytes in all header lines together
	MaxHeaders     int // number of header lines
	MaxBody        int // bytes of body (Content-Length)
}

// DefaultLimits suit a camera server: RTSP requests are small.
var DefaultLimits = Limits{MaxLine: 4096, MaxHeaderBytes: 16 << 10, MaxHeaders: 64, MaxBody: 64 << 10}

// ProtocolError is a message the peer must be told is wrong. Status is the
// response to send; Fatal means the byte stream can no longer be framed, so
// the connection must close after that response.
type ProtocolError struct {
	Status int
	Msg    string
	Fatal  bool
}

func (e *ProtocolError) Error() string {
	return fmt.Sprintf("rtsp: %d %s: %s", e.Status, StatusText(e.Status), e.Msg)
}

func badRequest(fatal bool, format string, args ...any) *ProtocolError {
	return &ProtocolError{Status: StatusBadRequest, Msg: fmt.Sprintf(format, args...), Fatal: fatal}
}

// Reader reads RTSP messages and interleaved frames from a connection.
type Reader struct {
	br    *bufio.Reader
	lim   Limits
	frame []byte
}

// NewReader reads from r within lim; zero fields take DefaultLimits.
func NewReader(r io.Reader, lim Limits) *Reader {
	if lim.MaxLine <= 0 {
		lim.MaxLine = DefaultLimits.MaxLine
	}
	if lim.MaxHeaderBytes <= 0 {
		lim.MaxHeaderBytes = DefaultLimits.MaxHeaderBytes
	}
	if lim.MaxHeaders <= 0 {
		lim.MaxHeaders = DefaultLimits.MaxHeaders
	}
	if lim.MaxBody <= 0 {
		lim.MaxBody = DefaultLimits.MaxBody
	}
	return &Reader{br: bufio.NewReaderSize(r, max(lim.MaxLine, 64)), lim: lim}
}

// ReadRequest returns the next request, or the next interleaved frame (its
// data is valid until the next call). On a *ProtocolError the request is
// returned as far as it was parsed, so the response can echo its CSeq.
func (r *Reader) ReadRequest() (*Request, *Interleaved, error) {
	line, frame, err := r.startLine()
	if frame != nil || err != nil {
		return nil, frame, err
	}
	req := &Request{}
	perr := parseRequestLine(line, req)
	if perr != nil && perr.Fatal {
		return nil, nil, perr
	}
	req.Header, req.Body, err = r.headerAndBody()
	if err != nil {
		return req, nil, err
	}
	if perr != nil {
		return req, nil, perr
	}
	return req, nil, nil
}

// ReadResponse returns the next response or interleaved frame.
func (r *Reader) ReadResponse() (*Response, *Interleaved, error) {
	line, frame, err := r.startLine()
	if frame != nil || err != nil {
		return nil, frame, err
	}
	ver, rest, _ := strings.Cut(line, " ")
	code, reason, _ := strings.Cut(rest, " ")
	status, cerr := strconv.Atoi(code)
	if ver != Version || cerr != nil || status < 100 || status > 999 {
		return nil, nil, badRequest(true, "malformed status line %q", line)
	}
	res := &Response{Status: status, Reason: reason}
	res.Header, res.Body, err = r.headerAndBody()
	return res, nil, err
}

// startLine skips blank keep-alive lines and returns the first line of a
// message, or reads a whole interleaved frame.
func (r *Reader) startLine() (string, *Interleaved, error) {
	for blank := 0; ; blank++ {
		b, err := r.br.Peek(1)
		if err != nil {
			return "", nil, err
		}
		if b[0] == '$' {
			f, err := r.interleaved()
			return "", f, err
		}
		line, err := r.line()
		if err != nil {
			return "", nil, err
		}
		if line != "" {
			return line, nil, nil
		}
		if blank > 16 {
			return "", nil, badRequest(true, "too many blank lines")
		}
	}
}

func (r *Reader) interleaved() (*Interleaved, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(r.br, hdr[:]); err != nil {
		return nil, err
	}
	n := int(hdr[2])<<8 | int(hdr[3])
	if cap(r.frame) < n {
		r.frame = make([]byte, n, max(n, 2048))
	}
	r.frame = r.frame[:n]
	if _, err := io.ReadFull(r.br, r.frame); err != nil {
		return nil, err
	}
	return &Interleaved{Channel: hdr[1], Data: r.frame}, nil
}

// line reads one CRLF- or LF-terminated line within MaxLine.
func (r *Reader) line() (string, error) {
	b, err := r.br.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) || len(b) > r.lim.MaxLine {
		return "", &ProtocolError{Status: StatusRequestURITooLarge, Msg: "line too long", Fatal: true}
	}
	if err != nil {
		if err == io.EOF && len(b) > 0 {
			err = io.ErrUnexpectedEOF
		}
		return "", err
	}
	return string(bytes.TrimRight(b, "\r\n")), nil
}

func parseRequestLine(line string, req *Request) *ProtocolError {
	f := strings.Fields(line)
	if len(f) != 3 {
		return badRequest(false, "malformed request line")
	}
	if !isToken(f[0]) {
		return badRequest(false, "malformed method")
	}
	req.Method, req.URL = f[0], f[1]
	if !strings.HasPrefix(f[2], "RTSP/") {
		return badRequest(false, "not an RTSP request")
	}
	if f[2] != Version {
		return &ProtocolError{Status: StatusVersionNotSupported, Msg: f[2]}
	}
	return nil
}

// headerAndBody reads header lines up to the blank line, then the body.
func (r *Reader) headerAndBody() (Header, []byte, error) {
	var h Header
	var perr *ProtocolError
	total := 0
	for {
		line, err := r.line()
		if err != nil {
			var pe *ProtocolError
			if errors.As(err, &pe) {
				pe.Status = StatusBadRequest // a header line, not the URI, was too long
			}
			return h, nil, err
		}
		if line == "" {
			break
		}
		total += len(line) + 2
		if total > r.lim.MaxHeaderBytes || len(h) >= r.lim.MaxHeaders {
			return h, nil, badRequest(true, "header too large")
		}
		if (line[0] == ' ' || line[0] == '\t') && len(h) > 0 {
			// Folded continuation: joined with one space, and like any
			// value without leading or trailing white space.
			h[len(h)-1].Value = strings.TrimSpace(h[len(h)-1].Value + " " + strings.TrimSpace(line))
			continue
		}
		name, value, ok := strings.Cut(line, ":")
		if !ok || !isToken(name) {
			perr = badRequest(false, "malformed header line")
			continue
		}
		h = append(h, Field{Name: name, Value: strings.TrimSpace(value)})
	}
	body, err := r.body(h)
	if err != nil {
		return h, nil, err
	}
	if perr != nil {
		return h, body, perr
	}
	return h, body, nil
}

func (r *Reader) body(h Header) ([]byte, error) {
	v, ok := h.Lookup("Content-Length")
	if !ok {
		return nil, nil
	}
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil || n < 0 {
		return nil, badRequest(true, "malformed Content-Length")
	}
	if n > r.lim.MaxBody {
		return nil, &ProtocolError{Status: StatusRequestEntityTooLarge,
			Msg: fmt.Sprintf("body of %d bytes exceeds %d", n, r.lim.MaxBody), Fatal: true}
	}
	if n == 0 {
		return nil, nil
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(r.br, body); err != nil {
		return nil, err
	}
	return body, nil
}

// isToken reports whether s is an RFC 2616 token.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7F || strings.IndexByte("()<>@,;:\\\"/[]?={}", c) >= 0 {
			return false
		}
	}
	return true
}
