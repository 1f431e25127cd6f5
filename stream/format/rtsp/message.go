// Package rtsp speaks the RTSP 1.0 wire format (RFC 2326): requests,
// responses, interleaved binary frames and the headers whose syntax matters
// to a media server (Transport, Session, RTP-Info). It knows nothing about
// streams or sessions; the server and clients build on it.
package rtsp

import (
	"strconv"
	"strings"
)

// Version is the only protocol version spoken.
const Version = "RTSP/1.0"

// Methods of RFC 2326 that a camera server meets.
const (
	Options      = "OPTIONS"
	Describe     = "DESCRIBE"
	Setup        = "SETUP"
	Play         = "PLAY"
	Pause        = "PAUSE"
	Teardown     = "TEARDOWN"
	GetParameter = "GET_PARAMETER"
	SetParameter = "SET_PARAMETER"
	Announce     = "ANNOUNCE"
	Record       = "RECORD"
	Redirect     = "REDIRECT"
)

// Header is an ordered list of header fields with case-insensitive lookup;
// order is kept so responses are byte-for-byte reproducible.
type Header []Field

// Field is one header line.
type Field struct{ Name, Value string }

// Get returns the first value of name, or "".
func (h Header) Get(name string) string {
	v, _ := h.Lookup(name)
	return v
}

// Lookup returns the first value of name and whether it was present.
func (h Header) Lookup(name string) (string, bool) {
	for _, f := range h {
		if strings.EqualFold(f.Name, name) {
			return f.Value, true
		}
	}
	return "", false
}

// Values returns every value of name, in order.
func (h Header) Values(name string) []string {
	var out []string
	for _, f := range h {
		if strings.EqualFold(f.Name, name) {
			out = append(out, f.Value)
		}
	}
	return out
}

// Set replaces every value of name with value.
func (h *Header) Set(name, value string) {
	out := (*h)[:0]
	set := false
	for _, f := range *h {
		if !strings.EqualFold(f.Name, name) {
			out = append(out, f)
		} else if !set {
			out = append(out, Field{name, value})
			set = true
		}
	}
	if !set {
		out = append(out, Field{name, value})
	}
	*h = out
}

// Add appends a value of name.
func (h *Header) Add(name, value string) { *h = append(*h, Field{name, value}) }

// Request is an RTSP request.
type Request struct {
	Method string
	URL    string // as sent: an absolute rtsp:// URL or "*"
	Header Header
	Body   []byte
}

// CSeq returns the request's sequence number header, as sent.
func (r *Request) CSeq() string { return r.Header.Get("CSeq") }

// Response is an RTSP response.
type Response struct {
	Status int
	Reason string // defaults to StatusText(Status)
	Header Header
	Body   []byte
}

// AppendTo appends the wire form of r to b. Content-Length is written for
// any body, so callers never set it.
func (r *Response) AppendTo(b []byte) []byte {
	reason := r.Reason
	if reason == "" {
		reason = StatusText(r.Status)
	}
	b = append(b, Version...)
	b = append(b, ' ')
	b = strconv.AppendInt(b, int64(r.Status), 10)
	b = append(b, ' ')
	b = append(b, reason...)
	b = append(b, "\r\n"...)
	b = appendHeader(b, r.Header, len(r.Body))
	return append(b, r.Body...)
}

// AppendTo appends the wire form of r to b.
func (r *Request) AppendTo(b []byte) []byte {
	b = append(b, r.Method...)
	b = append(b, ' ')
	b = append(b, r.URL...)
	b = append(b, ' ')
	b = append(b, Version...)
	b = append(b, "\r\n"...)
	b = appendHeader(b, r.Header, len(r.Body))
	return append(b, r.Body...)
}

func appendHeader(b []byte, h Header, bodyLen int) []byte {
	for _, f := range h {
		if strings.EqualFold(f.Name, "Content-Length") {
			continue
		}
		b = append(b, f.Name...)
		b = append(b, ": "...)
		b = append(b, sanitize(f.Value)...)
		b = append(b, "\r\n"...)
	}
	if bodyLen > 0 {
		b = append(b, "Content-Length: "...)
		b = strconv.AppendInt(b, int64(bodyLen), 10)
		b = append(b, "\r\n"...)
	}
	return append(b, "\r\n"...)
}

// sanitize keeps a value on one line: a value echoed from a request (CSeq)
// must never let a peer inject header lines into our response.
func sanitize(v string) string {
	if !strings.ContainsAny(v, "\r\n") {
		return v
	}
	return strings.NewReplacer("\r", " ", "\n", " ").Replace(v)
}

// Interleaved is a binary frame on the RTSP connection (RFC 2326 10.12):
// RTP or RTCP carried over TCP on a numbered channel.
type Interleaved struct {
	Channel uint8
	Data    []byte
}

// AppendInterleavedHeader appends the 4-byte '$' frame header for n bytes.
func AppendInterleavedHeader(b []byte, channel uint8, n int) []byte {
	return append(b, '$', channel, byte(n>>8), byte(n))
}
