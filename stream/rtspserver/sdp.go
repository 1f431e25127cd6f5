package rtspserver

import (
	"fmt"
	"net"
	"strconv"
	"strings"
)

// sessionDescription is the SDP (RFC 4566) a DESCRIBE returns: one JPEG
// video track, with the frame rate and size that players such as ffmpeg
// and GStreamer read before the first packet arrives.
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
	line("s=flowcam %s", st.Path)
	line("c=IN %s %s", family, map[string]string{"IP4": "0.0.0.0", "IP6": "::"}[family])
	line("t=0 0")
	line("a=tool:flowcam")
	line("a=type:broadcast")
	line("a=control:*")
	line("a=range:npt=0-")
	line("m=video 0 RTP/AVP 26")
	line("a=rtpmap:26 JPEG/90000")
	line("a=control:%s", trackControl)
	if st.FPS > 0 {
		line("a=framerate:%s", strconv.FormatFloat(st.FPS, 'f', -1, 64))
	}
	if st.Width > 0 && st.Height > 0 {
		line("a=x-dimensions:%d,%d", st.Width, st.Height)
	}
	return []byte(b.String())
}
