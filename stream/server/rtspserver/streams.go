package rtspserver

import (
	"fmt"
	"strings"
)

// SetStreams replaces the paths the server offers, as a config reload
// does. A path whose Stream is unchanged (same description, same
// broadcaster) keeps its sessions; sessions on a path that is removed or
// replaced end, and a TCP viewer's connection is closed so its player
// notices and can reconnect to the new stream.
func (s *Server) SetStreams(streams ...Stream) error {
	next := make(map[string]*Stream, len(streams))
	for i := range streams {
		st := streams[i]
		st.Path = "/" + strings.Trim(st.Path, "/")
		if st.Frames == nil || st.Path == "/" {
			return fmt.Errorf("rtspserver: stream %q needs a path and a frame source", st.Path)
		}
		if _, dup := next[st.Path]; dup {
			return fmt.Errorf("rtspserver: stream path %q configured twice", st.Path)
		}
		next[st.Path] = &st
	}
	s.mu.Lock()
	var ended []*session
	for path, old := range s.streams {
		if nu, ok := next[path]; ok && *nu == *old {
			next[path] = old // sessions compare stream pointers
			continue
		}
		for _, ss := range s.sessions {
			if ss.stream == old {
				ended = append(ended, ss)
			}
		}
	}
	s.streams = next
	s.mu.Unlock()
	for _, ss := range ended {
		ss.close("stream reconfigured")
		if ss.owner != nil {
			ss.owner.nc.Close()
		}
	}
	return nil
}
