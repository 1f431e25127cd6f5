package hostile_test

import (
	"fmt"
	"math/rand"
	"strconv"
	"strings"
)

// gen makes RTSP requests as real players send them (ffmpeg's Lavf,
// GStreamer's rtspsrc, VLC's live555) and mutates them, from a seeded
// generator so a failure can be replayed with HOSTILE_SEED.
type gen struct {
	r       *rand.Rand
	url     string // rtsp://127.0.0.1:PORT/cam
	session string // a real session id on this connection, or ""
	cseq    int
}

// template is one unmutated request of a real player.
func (g *gen) template() string {
	g.cseq++
	cs := strconv.Itoa(g.cseq)
	sess := g.session
	if sess == "" {
		sess = fmt.Sprintf("%016x", g.r.Uint64())
	}
	port := 20000 + 2*g.r.Intn(10000)
	track := g.url + "/trackID=0"
	lavf := "User-Agent: Lavf60.16.100\r\n"
	gst := "User-Agent: GStreamer/1.22.0\r\n"
	vlc := "User-Agent: LibVLC/3.0.18 (LIVE555 Streaming Media v2016.11.28)\r\n"
	date := "Date: Thu, 01 Jan 2025 00:00:00 GMT\r\n"
	all := []string{
		// ffmpeg
		"OPTIONS " + g.url + " RTSP/1.0\r\nCSeq: " + cs + "\r\n" + lavf + "\r\n",
		"DESCRIBE " + g.url + " RTSP/1.0\r\nAccept: application/sdp\r\nCSeq: " + cs + "\r\n" + lavf + "\r\n",
		fmt.Sprintf("SETUP %s RTSP/1.0\r\nTransport: RTP/AVP/UDP;unicast;client_port=%d-%d\r\nCSeq: %s\r\n%s\r\n", track, port, port+1, cs, lavf),
		"SETUP " + track + " RTSP/1.0\r\nTransport: RTP/AVP/TCP;unicast;interleaved=0-1\r\nCSeq: " + cs + "\r\n" + lavf + "\r\n",
		"PLAY " + g.url + "/ RTSP/1.0\r\nRange: npt=0.000-\r\nCSeq: " + cs + "\r\n" + lavf + "Session: " + sess + "\r\n\r\n",
		"GET_PARAMETER " + g.url + "/ RTSP/1.0\r\nCSeq: " + cs + "\r\n" + lavf + "Session: " + sess + "\r\n\r\n",
		"TEARDOWN " + g.url + "/ RTSP/1.0\r\nCSeq: " + cs + "\r\n" + lavf + "Session: " + sess + "\r\n\r\n",
		// GStreamer
		"OPTIONS " + g.url + " RTSP/1.0\r\nCSeq: " + cs + "\r\n" + gst + date + "\r\n",
		"DESCRIBE " + g.url + " RTSP/1.0\r\nCSeq: " + cs + "\r\n" + gst + "Accept: application/sdp\r\n" + date + "\r\n",
		fmt.Sprintf("SETUP %s RTSP/1.0\r\nCSeq: %s\r\n%sTransport: RTP/AVP;unicast;client_port=%d-%d;mode=\"PLAY\",RTP/AVP/TCP;unicast;interleaved=0-1;mode=\"PLAY\"\r\n%s\r\n", track, cs, gst, port, port+1, date),
		"PLAY " + g.url + "/ RTSP/1.0\r\nCSeq: " + cs + "\r\n" + gst + "Range: npt=0-\r\nSession: " + sess + "\r\n" + date + "\r\n",
		"SET_PARAMETER " + g.url + "/ RTSP/1.0\r\nCSeq: " + cs + "\r\n" + gst + "Session: " + sess + "\r\nContent-Type: text/parameters\r\nContent-Length: 10\r\n\r\nfoo: bar\r\n",
		"PAUSE " + g.url + "/ RTSP/1.0\r\nCSeq: " + cs + "\r\n" + gst + "Session: " + sess + "\r\n" + date + "\r\n",
		// VLC
		"OPTIONS " + g.url + " RTSP/1.0\r\nCSeq: " + cs + "\r\n" + vlc + "\r\n",
		"DESCRIBE " + g.url + " RTSP/1.0\r\nCSeq: " + cs + "\r\n" + vlc + "Accept: application/sdp\r\n\r\n",
		fmt.Sprintf("SETUP %s RTSP/1.0\r\nCSeq: %s\r\n%sTransport: RTP/AVP;unicast;client_port=%d-%d\r\n\r\n", track, cs, vlc, port, port+1),
		"PLAY " + g.url + "/ RTSP/1.0\r\nCSeq: " + cs + "\r\n" + vlc + "Session: " + sess + "\r\nRange: npt=0.000-\r\n\r\n",
		"GET_PARAMETER " + g.url + "/ RTSP/1.0\r\nCSeq: " + cs + "\r\n" + vlc + "Session: " + sess + "\r\n\r\n",
		// Our own client asking for multi-flow.
		fmt.Sprintf("SETUP %s RTSP/1.0\r\nCSeq: %s\r\nRequire: com.flowcam.multiflow\r\nMultiflow: flows=2;mode=stripe\r\nTransport: RTP/AVP;unicast;client_port=%d-%d\r\n\r\n", track, cs, port, port+1),
	}
	return all[g.r.Intn(len(all))]
}

func (g *gen) pick(s ...string) string { return s[g.r.Intn(len(s))] }

func (g *gen) junk(n int) string {
	b := make([]byte, n)
	g.r.Read(b)
	return string(b)
}

// request is one template with 0 to 3 mutations (one in ten is sent
// as the player sent it).
func (g *gen) request() string {
	s := g.template()
	if g.r.Intn(10) == 0 {
		return s
	}
	for n := 1 + g.r.Intn(3); n > 0; n-- {
		s = g.mutate(s)
	}
	return s
}

// replaceHeader sets (or adds) a header's value in a raw request.
func replaceHeader(s, name, value string) string {
	lines := strings.Split(s, "\r\n")
	for i, l := range lines {
		if i > 0 && strings.HasPrefix(strings.ToLower(l), strings.ToLower(name)+":") {
			lines[i] = name + ": " + value
			return strings.Join(lines, "\r\n")
		}
	}
	if i := strings.Index(s, "\r\n"); i >= 0 {
		return s[:i+2] + name + ": " + value + "\r\n" + s[i+2:]
	}
	return s + "\r\n" + name + ": " + value + "\r\n\r\n"
}

// requestLine splits a raw request into method, URL and the rest.
func requestLine(s string) (method, url, rest string) {
	line, after, _ := strings.Cut(s, "\r\n")
	f := strings.SplitN(line, " ", 3)
	for len(f) < 3 {
		f = append(f, "")
	}
	return f[0], f[1], f[2] + "\r\n" + after
}

func (g *gen) mutate(s string) string {
	if s == "" {
		return g.junk(1 + g.r.Intn(64))
	}
	switch g.r.Intn(19) {
	case 0: // byte flips
		b := []byte(s)
		for k := 1 + g.r.Intn(4); k > 0; k-- {
			i := g.r.Intn(len(b))
			if g.r.Intn(2) == 0 {
				b[i] ^= 1 << g.r.Intn(8)
			} else {
				b[i] = byte(g.r.Intn(256))
			}
		}
		return string(b)
	case 1: // truncation
		return s[:g.r.Intn(len(s))]
	case 2: // huge, negative and broken CSeq
		return replaceHeader(s, "CSeq", g.pick("99999999999999999999999999999", "-1", "", "abc", "1 2",
			"\x00", "4294967296", "-9223372036854775809", "1, 2", strings.Repeat("9", 3000)))
	case 3: // huge, negative, lying Content-Length
		v := g.pick("-1", "99999999999999999999", "100000", "65537", "abc", "5", "0", " 3", "1e3", "0x10", "65536", "-0")
		s = replaceHeader(s, "Content-Length", v)
		if g.r.Intn(2) == 0 {
			s += g.junk(g.r.Intn(40))
		}
		return s
	case 4: // bad methods
		_, u, rest := requestLine(s)
		m := g.pick("GET", "POST", "options", "OPTIONS2", "", "DESCRIBE DESCRIBE", "\x7f\x01", "ANNOUNCE",
			"RECORD", "REDIRECT", strings.Repeat("A", 300), "PLAY\x00", "SETUP:", "TEARDOWN/", "Ж")
		return m + " " + u + " " + rest
	case 5: // bad URLs
		m, u, rest := requestLine(s)
		host := strings.TrimPrefix(g.url, "rtsp://")
		host = host[:strings.IndexByte(host, '/')]
		u = g.pick("*", "", "rtsp://", "rtsp://[::1", "rtsp://h:99999/cam", "http://"+host+"/cam",
			"rtsp://"+host+"/cam/../../../etc/passwd", "rtsp://"+host+"/%00%zz", "rtsp://"+host+"/"+strings.Repeat("x", 2000),
			g.url+"/trackID=99", g.url+"/trackID=0/trackID=0", "rtsp://u:p@"+host+"/cam", "rtsps://"+host+"/cam",
			"rtsp://"+host+"/caméra", "rtsp://"+host+"/cam?a=b#c", "rtsp://"+host+"//cam//", "rtsp://"+host+"/cam/trackID=-1",
			u+u, "/cam", "rtsp:/cam", "rtsp://"+host+"/\x01\x02")
		return m + " " + u + " " + rest
	case 6: // header flood, sometimes past the limits
		var b strings.Builder
		for i, n := 0, 1+g.r.Intn(120); i < n; i++ {
			fmt.Fprintf(&b, "X-Flood-%d: %s\r\n", i, strings.Repeat("v", g.r.Intn(400)))
		}
		if i := strings.Index(s, "\r\n"); i >= 0 {
			return s[:i+2] + b.String() + s[i+2:]
		}
		return s + "\r\n" + b.String() + "\r\n"
	case 7: // binary junk, alone or in front
		j := g.junk(1 + g.r.Intn(2000))
		if g.r.Intn(2) == 0 {
			return j
		}
		return j + s
	case 8: // interleaved frames with bogus lengths
		n := g.r.Intn(65536)
		have := g.r.Intn(min(n, 3000) + 1)
		if g.r.Intn(3) == 0 {
			have = n // a whole (possibly huge) frame
		}
		f := "$" + string([]byte{byte(g.r.Intn(256)), byte(n >> 8), byte(n)}) + g.junk(have)
		if g.r.Intn(2) == 0 {
			return f + s
		}
		return s + f
	case 9: // versions
		m, u, rest := requestLine(s)
		_, after, _ := strings.Cut(rest, "\r\n")
		return m + " " + u + " " + g.pick("RTSP/2.0", "RTSP/1.0 extra", "HTTP/1.1", "RTSP/1.00", "rtsp/1.0", "RTSP/", "") + "\r\n" + after
	case 10: // line endings
		return strings.ReplaceAll(s, "\r\n", g.pick("\n", "\r", "\n\r", "\r\r\n", "\r\n\r\n"))
	case 11: // transports
		return replaceHeader(s, "Transport", g.pick("RTP/AVP;unicast;client_port=99999-0", "RTP/AVP/TCP;unicast;interleaved=254-255",
			"RTP/AVP/TCP;unicast;interleaved=-1", "RTP/AVP;multicast;destination=224.1.1.1", "RTP/AVP;unicast;destination=8.8.8.8;client_port=5000-5001",
			"RTP/AVP;unicast;client_port=0-0", "RTP/AVP;unicast;client_port=5000", "RTP/AVP;unicast;client_port=1-2;ssrc=ZZZZ",
			"RTP/SAVP;unicast;client_port=5000-5001", ";;;,,,", "RTP/AVP/TCP;unicast;interleaved=1-2", "RTP/AVP/TCP;interleaved=300-301",
			"RTP/AVP;unicast;client_port=5000-5001;mode=record", strings.Repeat("RTP/AVP;unicast;client_port=5000-5001,", 200), ""))
	case 12: // sessions
		return replaceHeader(s, "Session", g.pick("", ";timeout=", "x;timeout=-1", strings.Repeat("a", 3000), "0000",
			g.session+";timeout=99999999999999", g.session+g.session, "\x00\x01", g.session))
	case 13: // Require, Multiflow
		if g.r.Intn(2) == 0 {
			s = replaceHeader(s, "Require", g.pick("com.flowcam.multiflow", "x, y, z", "", ",,,", "com.flowcam.multiflow, funky"))
		}
		return replaceHeader(s, "Multiflow", g.pick("flows=9;mode=stripe", "flows=0", "flows=-1;mode=x", "mode=stripe;token=zz;ext=99;flows=1.2.3.4:5",
			"flows=2;mode=duplicate", "flows=99999999999999999999", ";;;=", "mode=failover;flows=2;token="+strings.Repeat("f", 64)))
	case 14: // folded continuation lines
		if i := strings.Index(s, "\r\n"); i >= 0 {
			return s[:i+2] + "X-Folded: a\r\n " + g.pick("b", "", strings.Repeat(" ", 100), "\t\tc") + "\r\n\tcont\r\n" + s[i+2:]
		}
		return s
	case 15: // credentials of every shape
		return replaceHeader(s, "Authorization", g.pick("Digest", "Basic !!!", "Basic "+strings.Repeat("QQ", 500),
			`Digest username="a", realm="flowcam", nonce="x", uri="*", response="00", algorithm=SHA-256, qop=auth, nc=zz, cnonce="c"`,
			`Digest username="`+strings.Repeat("\\", 100)+`"`, `Digest ,,,,=,="`, "Bearer x"))
	case 16: // splice two requests
		o := g.template()
		return s[:g.r.Intn(len(s))] + o[g.r.Intn(len(o)):]
	case 17: // the same request twice, or a pipeline of blank lines
		if g.r.Intn(2) == 0 {
			return s + s
		}
		return strings.Repeat("\r\n", g.r.Intn(40)) + s
	default: // NUL and control bytes in names and values
		b := []byte(s)
		for k := 1 + g.r.Intn(3); k > 0; k-- {
			b[g.r.Intn(len(b))] = g.pick("\x00", "\x7f", "\t", ":", " ", "\r", "\n")[0]
		}
		return string(b)
	}
}
