package rtspclient

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
)

// ErrNoJPEG means the description offers no RTP/JPEG video track.
var ErrNoJPEG = errors.New("rtspclient: the stream has no JPEG video track")

// Description is what the client needs from a DESCRIBE: where the JPEG
// track is and what the server says about it.
type Description struct {
	BaseURL   string  // Content-Base (or the request URL)
	Aggregate string  // session-level control, "" when absent
	TrackURL  string  // absolute control URL of the JPEG track
	FPS       float64 // a=framerate, 0 when absent
	Width     int     // a=x-dimensions, 0 when absent
	Height    int
}

// ParseDescription parses a DESCRIBE body the way Dial's client does; base
// is the Content-Base (or request URL) the control attributes resolve
// against.
func ParseDescription(sdp []byte, base string) (*Description, error) {
	return parseDescription(sdp, base)
}

// parseDescription reads the SDP (RFC 4566) lines that matter for one
// MJPEG track; unknown lines are ignored, as the RFC asks.
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
			if found {
				inVideo = false
				continue
			}
			inVideo = isJPEGMedia(line)
			found = inVideo
		case strings.HasPrefix(line, "a=control:") && !anyMedia:
			d.Aggregate = strings.TrimPrefix(line, "a=control:")
		case inVideo:
			control = d.mediaAttribute(line, control)
		}
	}
	if !found {
		return nil, ErrNoJPEG
	}
	track, err := resolve(base, control)
	if err != nil {
		return nil, err
	}
	d.TrackURL = track
	return d, nil
}

// isJPEGMedia reports whether an m= line is video carrying payload type
// 26, the static JPEG type (RFC 3551).
func isJPEGMedia(line string) bool {
	f := strings.Fields(strings.TrimPrefix(line, "m="))
	if len(f) < 4 || f[0] != "video" {
		return false
	}
	for _, pt := range f[3:] {
		if pt == "26" {
			return true
		}
	}
	return false
}

func (d *Description) mediaAttribute(line, control string) string {
	key, val, _ := strings.Cut(strings.TrimPrefix(line, "a="), ":")
	switch key {
	case "control":
		return val
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
