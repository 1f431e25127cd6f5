package rtspserver

import (
	"crypto/tls"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"

	"flowcam/stream/auth"
	"flowcam/stream/format/rtsp"
)

// Authorizer decides whether a request may proceed; stream/auth's
// Authenticator is the real one.
type Authorizer interface {
	Check(auth.Request) auth.Decision
}

var connIDs atomic.Uint64

// secure reports whether the connection is RTSP over TLS (RTSPS).
func secure(nc net.Conn) bool {
	_, ok := nc.(*tls.Conn)
	return ok
}

func remoteAddr(nc net.Conn) netip.Addr {
	if ap, err := netip.ParseAddrPort(nc.RemoteAddr().String()); err == nil {
		return ap.Addr().Unmap()
	}
	return netip.Addr{}
}

// authorize checks a request's credentials before it is handled. OPTIONS
// stays open: it reveals nothing and players send it before anything else.
// It reports whether the request may go on; otherwise res holds the
// refusal (401 with challenges, or 403).
func (c *conn) authorize(req *rtsp.Request, res *rtsp.Response) bool {
	if c.srv.cfg.Auth == nil || req.Method == rtsp.Options {
		return true
	}
	d := c.srv.cfg.Auth.Check(auth.Request{
		Method:        req.Method,
		URI:           req.URL,
		Path:          c.pathOf(req),
		Authorization: req.Header.Get("Authorization"),
		Remote:        remoteAddr(c.nc),
		Binding:       c.id,
		TLS:           c.secure,
	})
	if d.OK() {
		if c.user != d.User {
			c.user = d.User
			c.log.Info("authenticated", "user", d.User)
		}
		return true
	}
	res.Status = d.Status
	for _, ch := range d.Challenges {
		res.Header.Add("WWW-Authenticate", ch)
	}
	c.log.Debug("authorization refused", "method", req.Method, "url", req.URL, "status", d.Status, "reason", d.Reason)
	return false
}

// pathOf is the stream path a request is about, for per-path permissions:
// the stream its URL names, or its session's stream (keep-alives may name
// "*"), or its URL path.
func (c *conn) pathOf(req *rtsp.Request) string {
	if t, status := c.srv.resolve(req.URL); status == 0 {
		return t.stream.Path
	}
	if h, ok := req.Header.Lookup("Session"); ok {
		if sh, err := rtsp.ParseSession(h); err == nil {
			if ss := c.srv.session(sh.ID); ss != nil {
				return ss.stream.Path
			}
		}
	}
	if u, err := url.Parse(req.URL); err == nil && u.Path != "" {
		return "/" + strings.Trim(u.Path, "/")
	}
	return ""
}

func newConnID() string { return "c" + strconv.FormatUint(connIDs.Add(1), 36) }
