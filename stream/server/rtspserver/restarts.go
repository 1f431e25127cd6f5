package rtspserver

import (
	"strings"

	"flowcam/stream/format/rtpjpeg"
	"flowcam/stream/server/broadcast"
)

// Players whose RTP/JPEG depacketizer refuses the restart marker header
// (RFC 2435 types 64-127), by the User-Agent they send: ffmpeg's
// libavformat ("Lavf59.27.100") and gortsplib. They play nothing of a
// stream encoded with jpeg.threads above 1; the server says why once per
// session, since the player's own error does not name the setting.
var noRestartPlayers = []string{"Lavf", "gortsplib"}

func refusesRestarts(userAgent string) bool {
	for _, p := range noRestartPlayers {
		if strings.Contains(userAgent, p) {
			return true
		}
	}
	return false
}

// hasRestarts reports whether a unit is RTP/JPEG with restart markers.
func hasRestarts(u *broadcast.Unit, pt uint8) bool {
	return pt == rtpjpeg.PayloadType && u.Payloads.Len() > 0 && len(u.Payloads.At(0)) > 4 && u.Payloads.At(0)[4] >= 64
}

// warnRestarts logs, once, that this viewer's player cannot show the
// frame; on a multicast group's sender, once for each refusing viewer that
// joined (one warning covers those that joined between two frames).
func (s *session) warnRestarts(u *broadcast.Unit) {
	if ua := s.refusing.Load(); ua != nil && hasRestarts(u, s.pt) && s.refusing.CompareAndSwap(ua, nil) {
		s.logRestarts(*ua)
	}
	if !s.noRestarts || s.warnedRestarts || !hasRestarts(u, s.pt) {
		return
	}
	s.warnedRestarts = true
	s.logRestarts(s.userAgent)
}

func (s *session) logRestarts(userAgent string) {
	s.log.Warn("this player refuses RTP/JPEG with restart markers (RFC 2435 types 64-127) and will show no picture; "+
		"they come from jpeg.threads above 1: set jpeg.threads: 1, or play with GStreamer, VLC or flowcam", "user_agent", userAgent)
}
