package rtspserver

import (
	"fmt"
	"math"
	"net"
	"strconv"
	"strings"

	"flowcam/stream/server/broadcast"
)

// sessionDescription is the SDP (RFC 4566) a DESCRIBE returns: one video
// track (JPEG, or H.264 with its parameter sets), with the frame rate and
// size that players such as ffmpeg and GStreamer read before the first
// packet arrives.
func sessionDescription(st *Stream, local net.IP) []byte {
	family, addr := "IP4", "127.0.0.1"
	if local != nil && !local.IsUnspecified() {
		addr = local.String()
		if local.To4() == nil {
			family = "IP6"
		}
	}
	var b strings.Builder
	line := func(format string, args ...any) { fmt.Fprintf(&b, format+"\r\n", args...) }
	line("v=0")
	line("o=- 0 0 IN %s %s", family, addr)
	line("s=flowcam %s", sdpText(st.Path))
	line("c=IN %s %s", family, map[string]string{"IP4": "0.0.0.0", "IP6": "::"}[family])
	line("t=0 0")
	line("a=tool:flowcam")
	line("a=type:broadcast")
	line("a=control:*")
	line("a=range:npt=0-")
	m := st.media()
	line("m=video 0 RTP/AVP %d", m.PayloadType)
	line("a=rtpmap:%d %s", m.PayloadType, m.RTPMap)
	if m.Fmtp != "" {
		line("a=fmtp:%d %s", m.PayloadType, m.Fmtp)
	}
	line("a=control:%s", trackControl)
	if st.FPS > 0 && !math.IsInf(st.FPS, 0) {
		line("a=framerate:%s", strconv.FormatFloat(st.FPS, 'f', -1, 64))
	}
	if st.Width > 0 && st.Height > 0 {
		line("a=x-dimensions:%d,%d", st.Width, st.Height)
	}
	return []byte(b.String())
}

// sdpText makes s safe for an SDP text field (RFC 4566 5: any byte but
// NUL, CR and LF): control characters are percent-encoded, so a stream
// path can never end its line and inject lines of its own.
func sdpText(s string) string {
	clean := true
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] == 0x7f {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == 0x7f {
			fmt.Fprintf(&b, "%%%02X", c)
		} else {
			b.WriteByte(c)
		}
	}
	return b.String()
}

// media is how the stream's frames travel; JPEG for a stream without a
// broadcaster (tests of the description alone).
func (st *Stream) media() broadcast.Media {
	if st.Frames == nil {
		return broadcast.JPEG(nil).Media()
	}
	return st.Frames.Media()
}
