package web

import (
	"bufio"
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"
)

// boundary separates the parts of /stream.mjpg.
const boundary = "flowcamframe"

// mjpeg streams a path as multipart/x-mixed-replace, which browsers show in
// an <img>. Each part is the newest frame when the viewer is ready for
// one: a slow viewer sees fewer frames, never older ones, and holds one
// frame's worth of memory. A viewer that stops reading is dropped after
// the write timeout.
func (s *Server) mjpeg(w http.ResponseWriter, r *http.Request) {
	st := s.src.Status()
	path, ok := s.resolvePath(w, r, &st)
	if !ok {
		return
	}
	path, err := st.picture(path)
	if err != nil {
		http.Error(w, err.Error(), http.StatusNotImplemented)
		return
	}
	if n := s.viewers.Add(1); n > s.maxViewers {
		s.viewers.Add(-1)
		http.Error(w, "too many MJPEG viewers; try again later", http.StatusServiceUnavailable)
		return
	}
	defer s.viewers.Add(-1)
	l, leave := s.hub.watch(path)
	defer leave()

	h := w.Header()
	h.Set("Content-Type", "multipart/x-mixed-replace; boundary="+boundary)
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	if r.Method == http.MethodHead {
		return // net/http would swallow the frames of an endless body
	}
	rc := http.NewResponseController(w)
	// Our own buffer, so a frame goes out in as few writes as possible
	// and net/http's chunking adds no copy of its own per part.
	bw := bufio.NewWriterSize(w, 32<<10)
	s.log.Debug("mjpeg viewer joined", "path", path, "remote", r.RemoteAddr)
	frames, err := s.sendFrames(r.Context(), rc, bw, l)
	s.log.Debug("mjpeg viewer left", "path", path, "remote", r.RemoteAddr, "frames", frames, "reason", leaveReason(err))
}

// sendFrames writes parts until the viewer or the server goes away.
func (s *Server) sendFrames(ctx context.Context, rc *http.ResponseController, bw *bufio.Writer, l *latest) (int, error) {
	var (
		frame []byte
		seq   uint64
		err   error
		sent  int
	)
	rc.SetWriteDeadline(time.Now().Add(s.writeTimeout))
	bw.WriteString("--" + boundary + "\r\n")
	for {
		if frame, seq, err = l.next(ctx, seq, frame); err != nil {
			return sent, err
		}
		// The boundary follows each frame at once, so a reader knows the
		// part is complete without waiting for the next one.
		rc.SetWriteDeadline(time.Now().Add(s.writeTimeout))
		bw.WriteString("Content-Type: image/jpeg\r\nContent-Length: ")
		bw.WriteString(strconv.Itoa(len(frame)))
		bw.WriteString("\r\n\r\n")
		bw.Write(frame)
		bw.WriteString("\r\n--" + boundary + "\r\n")
		if err = bw.Flush(); err == nil {
			err = rc.Flush()
		}
		if err != nil {
			return sent, err
		}
		sent++
	}
}

func leaveReason(err error) string {
	switch {
	case errors.Is(err, context.Canceled):
		return "closed"
	case errors.Is(err, errGone):
		return "path removed"
	}
	return err.Error()
}
