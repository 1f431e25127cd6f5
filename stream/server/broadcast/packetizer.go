package broadcast

import (
	"bytes"
	"sync"

	"flowcam/capture"
	"flowcam/stream/format/rtpbuf"
	"flowcam/stream/format/rtph264"
	"flowcam/stream/format/rtpjpeg"
)

// Packetizer turns one frame into its RTP payloads, once for every viewer,
// and says how they travel. Packetize runs on the publishing goroutine;
// Media may be called from any.
type Packetizer interface {
	// Packetize fills dst with f's payloads and reports whether a decoder
	// can start at f.
	Packetize(dst *rtpbuf.Payloads, f *capture.Frame) (key bool, err error)
	Media() Media
}

// Media is what a DESCRIBE says of a stream's frames.
type Media struct {
	PayloadType uint8
	RTPMap      string // encoding/clock, e.g. "JPEG/90000"
	Fmtp        string // the a=fmtp parameters, or ""
	// Intra is set when every frame stands alone (JPEG): a viewer may
	// start anywhere, and a late one may skip any frame.
	Intra bool
	Codec string // "mjpeg" or "h264", for status pages and metrics
}

// JPEG packetizes frames as RFC 2435 RTP/JPEG.
func JPEG(pk *rtpjpeg.Packetizer) Packetizer { return &jpegPacketizer{pk: pk} }

type jpegPacketizer struct {
	pk  *rtpjpeg.Packetizer
	pic rtpjpeg.Picture // parse scratch
}

func (j *jpegPacketizer) Packetize(dst *rtpbuf.Payloads, f *capture.Frame) (bool, error) {
	if err := rtpjpeg.Parse(f.JPEG, &j.pic); err != nil {
		return false, err
	}
	j.pk.Packetize(dst, &j.pic)
	return true, nil
}

func (j *jpegPacketizer) Media() Media {
	return Media{PayloadType: rtpjpeg.PayloadType, RTPMap: "JPEG/90000", Intra: true, Codec: "mjpeg"}
}

// H264PayloadType is the dynamic payload type H.264 streams use.
const H264PayloadType = 96

// H264 packetizes access units as RFC 6184 RTP/H.264. It keeps the
// newest parameter sets and sends them in-band before every key frame that
// lacks them, so a viewer can start at any key frame, and offers them in
// the SDP.
//
// sets, when given, are parameter sets known before the first frame (a
// file's, from its container), so that a DESCRIBE before that frame
// already offers them.
func H264(pk *rtph264.Packetizer, sets ...[]byte) Packetizer {
	h := &h264Packetizer{pk: pk}
	for _, n := range sets {
		switch {
		case len(n) > 0 && n[0]&0x1F == naluSPS:
			h.keep(&h.sps, n)
		case len(n) > 0 && n[0]&0x1F == naluPPS:
			h.keep(&h.pps, n)
		}
	}
	return h
}

type h264Packetizer struct {
	pk *rtph264.Packetizer
	au [][]byte // scratch: the access unit with parameter sets in front

	mu       sync.Mutex
	sps, pps []byte
}

// NAL unit types the packetizer looks at.
const (
	naluIDR = 5
	naluSPS = 7
	naluPPS = 8
	naluAUD = 9
)

func (h *h264Packetizer) Packetize(dst *rtpbuf.Payloads, f *capture.Frame) (bool, error) {
	key, hasSPS, hasPPS := f.Key, false, false
	for _, n := range f.H264 {
		if len(n) == 0 {
			continue
		}
		switch n[0] & 0x1F {
		case naluIDR:
			key = true
		case naluSPS:
			hasSPS = true
			h.keep(&h.sps, n)
		case naluPPS:
			hasPPS = true
			h.keep(&h.pps, n)
		}
	}
	au := f.H264
	if key && (!hasSPS || !hasPPS) {
		au = h.withParameterSets(f.H264)
	}
	return key, h.pk.Packetize(dst, au)
}

// withParameterSets puts the kept SPS and PPS (both, SPS first: a decoder
// refuses a PPS whose SPS it has not seen) in front of a key frame, after
// its access unit delimiter, which must come first (H.264 7.4.1.2.3); a
// set the unit carries itself then comes again, which decoders accept.
func (h *h264Packetizer) withParameterSets(nalus [][]byte) [][]byte {
	h.au = h.au[:0]
	if len(nalus) > 0 && len(nalus[0]) > 0 && nalus[0][0]&0x1F == naluAUD {
		h.au, nalus = append(h.au, nalus[0]), nalus[1:]
	}
	h.mu.Lock()
	if h.sps != nil && h.pps != nil {
		h.au = append(h.au, h.sps, h.pps)
	}
	h.mu.Unlock()
	h.au = append(h.au, nalus...)
	return h.au
}

// keep stores a parameter set when it changed (a copy: the frame's
// buffers are reused).
func (h *h264Packetizer) keep(dst *[]byte, n []byte) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !bytes.Equal(*dst, n) {
		*dst = bytes.Clone(n)
	}
}

func (h *h264Packetizer) Media() Media {
	h.mu.Lock()
	defer h.mu.Unlock()
	return Media{PayloadType: H264PayloadType, RTPMap: "H264/90000", Fmtp: rtph264.Fmtp(h.sps, h.pps), Codec: "h264"}
}
