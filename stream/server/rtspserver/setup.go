package rtspserver

import (
	"net"
	"slices"

	"flowcam/stream/format/multiflow"
	"flowcam/stream/format/rtsp"
)

func (c *conn) setup(req *rtsp.Request, res *rtsp.Response) {
	t, status := c.srv.resolve(req.URL)
	if status != 0 {
		res.Status = status
		return
	}
	if _, ok := req.Header.Lookup("Session"); ok {
		// One track per stream: a second SETUP in a session has nothing to
		// add, and changing transport mid-session is not supported.
		if c.sessionFor(req, res) != nil {
			res.Status = rtsp.StatusAggregateNotAllowed
		}
		return
	}
	if why := c.srv.admitSession(c.remote); why != "" {
		res.Status = rtsp.StatusNotEnoughBandwidth
		res.Reason = why
		c.log.Warn("session refused", "reason", why)
		return
	}
	if slices.Contains(rtsp.OptionTags(req.Header.Get("Require")), multiflow.OptionTag) {
		if c.secure {
			res.Status = rtsp.StatusUnsupportedTransport
			res.Reason = "RTSPS carries media inside the TLS connection only"
			return
		}
		c.setupMultiflow(req, res, t)
		return
	}
	alts, err := rtsp.ParseTransports(req.Header.Get("Transport"))
	if err != nil {
		res.Status = rtsp.StatusUnsupportedTransport
		res.Reason = "Missing or malformed Transport"
		return
	}
	tr, ok := c.chooseTransport(alts)
	if !ok {
		res.Status = rtsp.StatusUnsupportedTransport
		return
	}
	ss := newSession(c.srv, t.stream, t.base)
	ss.client = c.nc.RemoteAddr().String()
	ss.userAgent = req.Header.Get("User-Agent")
	ss.noRestarts = refusesRestarts(ss.userAgent)
	reply, status := c.attach(ss, tr)
	if status != 0 {
		res.Status = status
		return
	}
	if err := c.srv.addSession(ss); err != nil {
		ss.close("server shutdown")
		res.Status = rtsp.StatusServiceUnavailable
		return
	}
	switch {
	case reply.Multicast:
		ss.log.Info("session opened", "transport", "multicast", "group", reply.Destination, "port", reply.Ports[0])
	case reply.HasInterl:
		ss.log.Info("session opened", "transport", "tcp", "interleaved", reply.Interleaved)
	default:
		ss.log.Info("session opened", "transport", "udp", "client_ports", tr.ClientPorts, "server_ports", reply.ServerPorts)
	}
	if !reply.Multicast { // a group's packets carry its sender's SSRC, and RFC 2326 has ssrc for unicast only
		reply.SSRC, reply.HasSSRC = ss.ssrc, true
	}
	res.Header.Add("Transport", reply.String())
	res.Header.Add("Session", ss.header())
}

// chooseTransport picks the client's first alternative this server can
// serve: unicast RTP/AVP over UDP with client ports, or over TCP, or
// multicast when it is on. A multicast viewer gets the server's group,
// whatever destination it named: the server chooses the groups.
func (c *conn) chooseTransport(alts []rtsp.Transport) (rtsp.Transport, bool) {
	for _, t := range alts {
		if t.Protocol != "RTP/AVP" || (t.Mode != "" && t.Mode != "play") {
			continue
		}
		if t.Multicast {
			if c.srv.mc != nil && !c.secure && t.Lower == rtsp.LowerUDP {
				return t, true
			}
			continue
		}
		switch t.Lower {
		case rtsp.LowerUDP:
			// A destination other than the client itself would let anyone
			// aim the stream at a third party. Over RTSPS, UDP would send
			// in clear what the viewer asked to receive encrypted.
			if c.secure || t.ClientPorts[0] == 0 ||
				(t.Destination != "" && !net.ParseIP(t.Destination).Equal(remoteIP(c.nc))) {
				continue
			}
			return t, true
		case rtsp.LowerTCP:
			return t, true
		}
	}
	return rtsp.Transport{}, false
}

// attach gives the session its media path and returns the Transport reply.
func (c *conn) attach(ss *session, tr rtsp.Transport) (rtsp.Transport, int) {
	reply := rtsp.Transport{Protocol: "RTP/AVP", Lower: tr.Lower, Mode: "play"}
	if tr.Multicast {
		g, err := c.srv.mc.join(ss.stream, ss.base, localIP(c.nc))
		if err != nil {
			c.log.Warn("multicast refused", "err", err)
			return reply, rtsp.StatusUnsupportedTransport
		}
		m := &multicastMedia{m: c.srv.mc, g: g}
		ss.media = m
		return m.reply(), 0
	}
	if tr.Lower == rtsp.LowerTCP {
		want := -1
		if tr.HasInterl {
			want = tr.Interleaved[0]
		}
		ch, ok := c.bindChannels(ss, want)
		if !ok {
			return reply, rtsp.StatusUnsupportedTransport
		}
		ss.media = &tcpMedia{c: c, ch: uint8(ch)}
		ss.owner = c
		reply.Interleaved, reply.HasInterl = [2]int{ch, ch + 1}, true
		return reply, 0
	}
	client := remoteIP(c.nc)
	m, err := listenUDP(c.srv.ports, c.srv.cfg.ListenPacket, localIP(c.nc), client, tr.ClientPorts, c.srv.log)
	if err != nil {
		ss.log.Warn("cannot open UDP ports", "err", err)
		return reply, rtsp.StatusServiceUnavailable
	}
	m.adapt(c.srv.cfg.Now(), ss.ssrc)
	ss.media = m
	m.start(ss)
	reply.ClientPorts, reply.ServerPorts = tr.ClientPorts, m.serverPorts()
	return reply, 0
}
