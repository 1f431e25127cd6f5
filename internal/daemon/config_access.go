package daemon

import (
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"time"

	"flowcam/stream/auth"
	"flowcam/stream/format/rtsp"
	"flowcam/stream/server/rtspserver"
)

// checkAccess validates the auth and rtsps sections.
func (c *Settings) checkAccess(p *problems) {
	a := &c.Auth
	if a.Realm == "" {
		p.bad("auth.realm", quote(a.Realm), "must not be empty (it is part of every stored password hash)")
	}
	if a.NonceLifetime < 10*time.Second {
		p.bad("auth.nonce_lifetime", a.NonceLifetime, "must be at least 10s, e.g. 5m")
	}
	if a.MaxFailures < 1 {
		p.bad("auth.max_failures", a.MaxFailures, "must be at least 1, e.g. 5")
	}
	if a.FailureWindow <= 0 {
		p.bad("auth.failure_window", a.FailureWindow, "must be a positive duration, e.g. 1m")
	}
	if len(a.Users) > 0 && a.Realm != "" {
		if _, err := c.authenticator(nil, nil); err != nil {
			*p = append(*p, fmt.Errorf("auth.%w (flowcamd hash-password NAME prints a valid entry)", err))
		}
	}
	r := &c.RTSPS
	if _, port, err := net.SplitHostPort(r.Addr); r.Enabled && (err != nil || !validPort(port)) {
		p.bad("rtsps.addr", quote(r.Addr), "must be host:port or :port, e.g. :8322")
	}
	if r.Enabled && !r.SelfSigned && (r.Cert == "" || r.Key == "") {
		p.bad("rtsps.cert", quote(r.Cert), "rtsps needs cert and key files, or self_signed: true to make them")
	}
}

// authenticator builds the checker for the configured users; nil when
// there are none (everyone may watch). nonceKey carries the nonce key
// across reloads so players mid-session keep their nonces; nil makes one.
func (c *Settings) authenticator(nonceKey []byte, log *slog.Logger) (*auth.Authenticator, error) {
	if len(c.Auth.Users) == 0 {
		return nil, nil
	}
	users := make([]auth.User, len(c.Auth.Users))
	for i, u := range c.Auth.Users {
		users[i] = auth.User{Name: u.Name, SHA256: u.SHA256, MD5: u.MD5, Paths: u.Paths, Password: u.Password}
	}
	return auth.New(auth.Config{Realm: c.Auth.Realm, Users: users, NonceLifetime: c.Auth.NonceLifetime,
		MaxFailures: c.Auth.MaxFailures, FailureWindow: c.Auth.FailureWindow, NonceKey: nonceKey, Logger: log})
}

// certFiles are the RTSPS certificate and key paths: as configured, or
// in the service's state directory for a self-signed pair.
func (r RTSPSConfig) certFiles() (cert, key string) {
	dir := os.Getenv("STATE_DIRECTORY") // set by systemd's StateDirectory=
	if dir == "" {
		dir = "/var/lib/flowcam"
	}
	cert, key = r.Cert, r.Key
	if cert == "" {
		cert = filepath.Join(dir, "rtsps.crt")
	}
	if key == "" {
		key = filepath.Join(dir, "rtsps.key")
	}
	return cert, key
}

// checkGuard validates the rtsp section's limits.
func (c *Settings) checkGuard(p *problems) {
	r := &c.RTSP
	for _, v := range []struct {
		key      string
		val, min int
	}{
		{"rtsp.max_sessions", r.MaxSessions, 1}, {"rtsp.max_sessions_per_ip", r.MaxSessionsPerIP, 1},
		{"rtsp.max_connections", r.MaxConnections, 1}, {"rtsp.max_connections_per_ip", r.MaxConnectionsPerIP, 1},
		{"rtsp.requests_per_second", r.RequestsPerSecond, 1}, {"rtsp.max_line_bytes", r.MaxLineBytes, 256},
		{"rtsp.max_header_bytes", r.MaxHeaderBytes, 1024}, {"rtsp.max_body_bytes", r.MaxBodyBytes, 0},
	} {
		if v.val < v.min {
			p.bad(v.key, v.val, fmt.Sprintf("must be at least %d", v.min))
		}
	}
	for _, d := range []struct {
		key string
		val time.Duration
	}{{"rtsp.request_timeout", r.RequestTimeout}, {"rtsp.idle_timeout", r.IdleTimeout}} {
		if d.val < 100*time.Millisecond {
			p.bad(d.key, d.val, "must be at least 100ms, e.g. 10s")
		}
	}
}

// guard is the RTSP server's share of the limits.
func (r RTSPConfig) guard() rtspserver.Guard {
	return rtspserver.Guard{MaxSessions: r.MaxSessions, MaxSessionsPerIP: r.MaxSessionsPerIP,
		MaxConns: r.MaxConnections, MaxConnsPerIP: r.MaxConnectionsPerIP, RequestsPerSecond: r.RequestsPerSecond,
		RequestTimeout: r.RequestTimeout, IdleTimeout: r.IdleTimeout, UDPPorts: r.UDPPorts}
}

// multicast is the server's multicast setup, nil when off.
func (r RTSPConfig) multicast() *rtspserver.MulticastConfig {
	m := r.Multicast
	if !m.Enabled {
		return nil
	}
	return &rtspserver.MulticastConfig{Groups: m.Groups, Ports: m.Ports, TTL: m.TTL}
}

// checkMulticast checks what rtsp.multicast's types cannot.
func (m MulticastConfig) check(p *problems) {
	g := m.Groups
	if !g.IsValid() || !g.Addr().Is4() || !g.Addr().IsMulticast() || g.Bits() < 4 || g.Bits() > 30 {
		p.bad("rtsp.multicast.groups", quote(g.String()), "must be an IPv4 multicast prefix of 4 addresses or more, e.g. 239.255.42.0/24 (239/8 is for use inside an organisation)")
	}
	if m.Ports[0]%2 != 0 || m.Ports[1] <= m.Ports[0] {
		p.bad("rtsp.multicast.ports", m.Ports, "must be a range FIRST-LAST starting at an even port (RTP; RTCP is the odd one above), e.g. 31000-31999")
	}
	if m.TTL < 1 || m.TTL > 255 {
		p.bad("rtsp.multicast.ttl", m.TTL, "must be from 1 (this network only) to 255, e.g. 16")
	}
}

func (r RTSPConfig) limits() rtsp.Limits {
	return rtsp.Limits{MaxLine: r.MaxLineBytes, MaxHeaderBytes: r.MaxHeaderBytes, MaxHeaders: 64, MaxBody: r.MaxBodyBytes}
}
