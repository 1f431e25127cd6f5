package rtspclient

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"flowcam/stream/format/rtph264"
)

// ErrNoVideo means the description offers no video track the client
// reads: RTP/JPEG, or H.264 in packetization mode 0 or 1.
var ErrNoVideo = errors.New("rtspclient: the stream has no JPEG or H.264 video track")

// Description is what the client needs from a DESCRIBE: where the JPEG
// track is and what the server says about it.
type Description struct {
	BaseURL   string  // Content-Base (or the request URL)
	Aggregate string  // session-level control, "" when absent
	TrackURL  string  // absolute control URL of the video track
	FPS       float64 // a=framerate, 0 when absent
	Width     int     // a=x-dimensions, 0 when absent
	Height    int
	// Codec is "mjpeg" or "h264"; for H.264, SPS and PPS are the
	// sprop-parameter-sets when the description gives them.
	Codec    string
	SPS, PPS []byte
}

// ParseDescription parses a DESCRIBE body the way Dial's client does; base
// is the Content-Base (or request URL) the control attributes resolve
// against.
func ParseDescription(sdp []byte, base string) (*Description, error) {
	return parseDescription(sdp, base)
}

// parseDescription reads the SDP (RFC 4566) lines that matter for one
// MJPEG or H.264 track; unknown lines are ignored, as the RFC asks.
func parseDescription(sdp []byte, base string) (*Description, error) {
	d := &Description{BaseURL: base}
	inVideo, found, anyMedia := false, false, false
	var control string
	sc := bufio.NewScanner(bytes.NewReader(sdp))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case strings.HasPrefix(line, "m="):
			anyMedia = true
			if found = found || (inVideo && d.Codec != ""); found {
				inVideo = false
				continue
			}
			inVideo, d.Codec = videoMedia(line)
		case strings.HasPrefix(line, "a=control:") && !anyMedia:
			d.Aggregate = strings.TrimPrefix(line, "a=control:")
		case inVideo:
			control = d.mediaAttribute(line, control)
		}
	}
	if found = found || (inVideo && d.Codec != ""); !found {
		return nil, ErrNoVideo
	}
	track, err := resolve(base, control)
	if err != nil {
		return nil, err
	}
	d.TrackURL = track
	return d, nil
}

// videoMedia reports whether an m= line is video over RTP/AVP, and
// "mjpeg" when it offers payload type 26, the static JPEG type (RFC 3551);
// a dynamic type is H.264 only if its rtpmap says so.
func videoMedia(line string) (bool, string) {
	f := strings.Fields(strings.TrimPrefix(line, "m="))
	if len(f) < 4 || f[0] != "video" {
		return false, ""
	}
	for _, pt := range f[3:] {
		if pt == "26" {
			return true, "mjpeg"
		}
	}
	return true, ""
}

func (d *Description) mediaAttribute(line, control string) string {
	key, val, _ := strings.Cut(strings.TrimPrefix(line, "a="), ":")
	switch key {
	case "control":
		return val
	case "rtpmap":
		if _, enc, _ := strings.Cut(val, " "); d.Codec == "" && strings.EqualFold(strings.TrimSpace(enc), "H264/90000") {
			d.Codec = "h264"
		}
	case "fmtp":
		if _, params, ok := strings.Cut(val, " "); ok && d.Codec == "h264" {
			if sps, pps, err := rtph264.ParseFmtp(params); err == nil {
				d.SPS, d.PPS = sps, pps
			} else {
				d.Codec = "" // packetization mode 2: not ours to read
			}
		}
	case "framerate":
		d.FPS, _ = strconv.ParseFloat(strings.TrimSpace(val), 64)
	case "x-dimensions":
		w, h, _ := strings.Cut(val, ",")
		d.Width, _ = strconv.Atoi(strings.TrimSpace(w))
		d.Height, _ = strconv.Atoi(strings.TrimSpace(h))
	}
	return control
}

// resolve makes a control attribute absolute against the base URL the way
// RTSP clients do: "*" or nothing means the base itself, a relative value
// is appended to the base.
func resolve(base, control string) (string, error) {
	if strings.HasPrefix(control, "rtsp://") {
		return control, nil
	}
	if u, err := url.Parse(base); err != nil || u.Host == "" {
		return "", fmt.Errorf("rtspclient: base URL %q is not absolute", base)
	}
	if control == "" || control == "*" {
		return base, nil
	}
	if !strings.HasSuffix(base, "/") {
		base += "/"
	}
	return base + control, nil
}
