package rtspserver

import (
	"net"
	"net/url"
	"path"
	"strings"

	"flowcam/stream/format/multiflow"
	"flowcam/stream/format/rtsp"
)

const publicMethods = "OPTIONS, DESCRIBE, SETUP, PLAY, PAUSE, TEARDOWN, GET_PARAMETER, SET_PARAMETER"

// trackControl is the control attribute of the single video track.
const trackControl = "trackID=0"

// handle answers one well-formed request.
func (c *conn) handle(req *rtsp.Request) *rtsp.Response {
	res := &rtsp.Response{Status: rtsp.StatusOK}
	if cseq := req.CSeq(); cseq != "" {
		res.Header.Add("CSeq", cseq)
	} else {
		res.Status = rtsp.StatusBadRequest
		res.Reason = "Missing CSeq"
	}
	res.Header.Add("Server", c.srv.cfg.ServerName)
	if res.Status != rtsp.StatusOK {
		return res
	}
	if !c.authorize(req, res) {
		return res
	}
	if bad := c.srv.unsupported(req); len(bad) > 0 {
		// RFC 2326 12.32: refuse, naming what is missing, so a client can
		// fall back (ours to a single plain flow).
		res.Status = rtsp.StatusOptionNotSupported
		res.Header.Add("Unsupported", strings.Join(bad, ", "))
		return res
	}
	switch req.Method {
	case rtsp.Options:
		c.touchSession(req)
		res.Header.Add("Public", publicMethods)
	case rtsp.Describe:
		c.describe(req, res)
	case rtsp.Setup:
		c.setup(req, res)
	case rtsp.Play:
		c.play(req, res)
	case rtsp.Pause:
		c.pause(req, res)
	case rtsp.Teardown:
		c.teardownSession(req, res)
	case rtsp.GetParameter, rtsp.SetParameter:
		c.parameter(req, res)
	case rtsp.Announce, rtsp.Record, rtsp.Redirect:
		res.Status = rtsp.StatusMethodNotAllowed
		res.Header.Add("Allow", publicMethods)
	default:
		res.Status = rtsp.StatusNotImplemented
		res.Header.Add("Public", publicMethods)
	}
	if res.Status >= 400 {
		c.log.Info("request refused", "method", req.Method, "url", req.URL, "status", res.Status)
	} else {
		c.log.Debug("request", "method", req.Method, "url", req.URL, "status", res.Status)
	}
	return res
}

// unsupported lists the option tags a request requires that this server
// does not offer.
func (s *Server) unsupported(req *rtsp.Request) []string {
	var bad []string
	for _, tag := range rtsp.OptionTags(req.Header.Get("Require")) {
		if tag != multiflow.OptionTag || s.cfg.Multiflow == nil {
			bad = append(bad, tag)
		}
	}
	return bad
}

// target is what a request URL names.
type target struct {
	stream *Stream
	track  bool   // the URL names the track, not the whole presentation
	base   string // Content-Base: the stream URL with a trailing slash
}

// resolve maps a request URL to a stream. It returns a status when the
// URL is unusable (400) or names nothing served here (404).
func (s *Server) resolve(raw string) (target, int) {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || (u.Scheme != "rtsp" && u.Scheme != "rtsps") {
		return target{}, rtsp.StatusBadRequest
	}
	p := "/" + strings.Trim(u.Path, "/")
	base := u.Scheme + "://" + u.Host
	s.mu.Lock()
	defer s.mu.Unlock()
	if st, ok := s.streams[p]; ok {
		return target{stream: st, base: base + st.Path + "/"}, 0
	}
	dir, last := path.Split(p)
	if st, ok := s.streams[strings.TrimSuffix(dir, "/")]; ok && last == trackControl {
		return target{stream: st, track: true, base: base + st.Path + "/"}, 0
	}
	return target{}, rtsp.StatusNotFound
}

func (c *conn) describe(req *rtsp.Request, res *rtsp.Response) {
	t, status := c.srv.resolve(req.URL)
	if status != 0 {
		res.Status = status
		return
	}
	if acc := req.Header.Get("Accept"); acc != "" && !strings.Contains(acc, "application/sdp") {
		res.Status = rtsp.StatusNotImplemented
		res.Reason = "Only application/sdp descriptions"
		return
	}
	res.Header.Add("Content-Base", t.base)
	res.Header.Add("Content-Type", "application/sdp")
	res.Body = sessionDescription(t.stream, localIP(c.nc))
}

// sessionFor finds the session a request names, setting the status when
// there is none: 455 when the client never set one up, 454 when its id is
// unknown (expired or forged).
func (c *conn) sessionFor(req *rtsp.Request, res *rtsp.Response) *session {
	v, ok := req.Header.Lookup("Session")
	if !ok {
		res.Status = rtsp.StatusMethodNotValidInState
		res.Reason = "No session: SETUP first"
		return nil
	}
	h, err := rtsp.ParseSession(v)
	if err != nil {
		res.Status = rtsp.StatusBadRequest
		return nil
	}
	ss := c.srv.session(h.ID)
	if ss == nil {
		res.Status = rtsp.StatusSessionNotFound
		return nil
	}
	if req.URL != "*" {
		if t, status := c.srv.resolve(req.URL); status != 0 || t.stream != ss.stream {
			res.Status = rtsp.StatusNotFound
			return nil
		}
	}
	ss.touch()
	res.Header.Add("Session", ss.header())
	return ss
}

func (c *conn) touchSession(req *rtsp.Request) {
	if h, err := rtsp.ParseSession(req.Header.Get("Session")); err == nil {
		if ss := c.srv.session(h.ID); ss != nil {
			ss.touch()
		}
	}
}

func (c *conn) play(req *rtsp.Request, res *rtsp.Response) {
	ss := c.sessionFor(req, res)
	if ss == nil {
		return
	}
	info, ok := ss.play()
	if !ok {
		res.Status = rtsp.StatusMethodNotValidInState
		return
	}
	info.URL = ss.base + trackControl
	res.Header.Add("Range", "npt=0.000-")
	if !ss.noInfo {
		res.Header.Add("RTP-Info", info.String())
	}
}

func (c *conn) pause(req *rtsp.Request, res *rtsp.Response) {
	if ss := c.sessionFor(req, res); ss != nil && !ss.pause() {
		res.Status = rtsp.StatusMethodNotValidInState
	}
}

func (c *conn) teardownSession(req *rtsp.Request, res *rtsp.Response) {
	if ss := c.sessionFor(req, res); ss != nil {
		ss.close("teardown")
	}
}

// parameter treats GET_PARAMETER and SET_PARAMETER as keep-alives; no
// parameters are defined, so a body naming any is not understood.
func (c *conn) parameter(req *rtsp.Request, res *rtsp.Response) {
	if _, ok := req.Header.Lookup("Session"); ok {
		if c.sessionFor(req, res) == nil {
			return
		}
	}
	if len(strings.TrimSpace(string(req.Body))) > 0 {
		res.Status = rtsp.StatusParameterNotUnderstood
	}
}

func localIP(nc net.Conn) net.IP {
	if a, ok := nc.LocalAddr().(*net.TCPAddr); ok {
		return a.IP
	}
	return net.IPv4zero
}

func remoteIP(nc net.Conn) net.IP {
	if a, ok := nc.RemoteAddr().(*net.TCPAddr); ok {
		return a.IP
	}
	return nil
}
