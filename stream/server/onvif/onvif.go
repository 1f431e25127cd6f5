// Package onvif makes the daemon a camera NVRs add with one click: the
// part of ONVIF Profile S they use. It owns the device and media services
// (SOAP over HTTP, at /onvif/device_service and /onvif/media_service), one
// media profile per served path, WS-UsernameToken checks against the
// daemon's users, and WS-Discovery (answering Probe, announcing Hello and
// Bye). XML from the network is parsed with encoding/xml under a size
// bound and with DOCTYPEs refused, so no entity is ever expanded.
package onvif

import (
	"bytes"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"flowcam/stream/auth"
)

// Profile is one served path as ONVIF shows it.
type Profile struct {
	Path    string
	Codec   string // "mjpeg" or "h264"
	Width   int
	Height  int
	FPS     float64
	Quality int     // JPEG quality 1-100; 0 when not JPEG
	Bitrate float64 // bits per second, as measured; 0 when unknown
}

// DeviceInfo is what GetDeviceInformation and the scopes say.
type DeviceInfo struct {
	Manufacturer, Model, Firmware, Serial, Hardware string
	Name                                            string // the device's name in its scopes
}

// Authorizer checks WS-UsernameToken credentials; the daemon's users.
type Authorizer interface {
	CheckToken(remote netip.Addr, tok auth.UsernameToken, path string) auth.Decision
	Allowed(user, path string) bool
}

// Options configure the services.
type Options struct {
	Info     DeviceInfo
	Profiles func() []Profile // the served paths, in order
	// Auth checks credentials (and lets everyone in while no users are
	// configured); nil lets everyone in.
	Auth     Authorizer
	RTSPPort func() int // the RTSP port stream URIs name
	// Multicast says whether RTSP serves multicast (GetCapabilities).
	Multicast bool
	Now       func() time.Time // time.Now by default
	Logger    *slog.Logger
}

// Service answers the device and media services.
type Service struct {
	o   Options
	log *slog.Logger
}

// Paths of the services; NVRs assume the device service's when a camera
// is added by address.
const (
	DevicePath = "/onvif/device_service"
	MediaPath  = "/onvif/media_service"
)

// New returns the services.
func New(o Options) *Service {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return &Service{o: o, log: o.Logger}
}

// preAuth are the operations ONVIF lets anyone call (a client needs the
// device's time before it can make a token); a token that comes with one
// anyway is still checked, except with GetSystemDateAndTime, which a
// client with a wrong clock must be able to read.
var preAuth = map[string]bool{"GetSystemDateAndTime": true, "GetCapabilities": true, "GetServices": true,
	"GetServiceCapabilities": true, "GetWsdlUrl": true, "GetHostname": true, "GetEndpointReference": true}

// ServeHTTP answers one SOAP request on either service's path.
func (s *Service) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		http.Error(w, "ONVIF services take SOAP requests by POST", http.StatusMethodNotAllowed)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxRequest))
	if err != nil {
		s.fault(w, soap12, faultMalformed, r, "request too large or cut short")
		return
	}
	req, err := parseRequest(body)
	if err != nil {
		s.fault(w, soap12, faultMalformed, r, err.Error())
		return
	}
	user, f, ok := s.authorize(r, req)
	if !ok {
		s.fault(w, req.soap, f, r, "")
		return
	}
	c := &call{s: s, r: r, req: req, user: user}
	var out bytes.Buffer
	if f, ok := c.answer(&out); !ok {
		s.fault(w, req.soap, f, r, "")
		return
	}
	w.Header().Set("Content-Type", `application/soap+xml; charset=utf-8`)
	io.WriteString(w, `<?xml version="1.0" encoding="UTF-8"?><s:Envelope xmlns:s="`+req.soap+`" `+namespaces+`><s:Body>`)
	w.Write(out.Bytes())
	io.WriteString(w, `</s:Body></s:Envelope>`)
}

// authorize checks the request's token; it returns the user ("" when
// there are no users or the operation needs none).
func (s *Service) authorize(r *http.Request, req *request) (string, fault, bool) {
	if s.o.Auth == nil || req.operation == "GetSystemDateAndTime" {
		return "", fault{}, true
	}
	var tok auth.UsernameToken
	if req.token != nil {
		tok = *req.token
	}
	if tok.Digest == "" && preAuth[req.operation] {
		return "", fault{}, true
	}
	remote, _ := netip.ParseAddrPort(r.RemoteAddr)
	d := s.o.Auth.CheckToken(remote.Addr().Unmap(), tok, "")
	if !d.OK() {
		s.log.Warn("onvif: not authorized", "remote", r.RemoteAddr, "user", tok.User, "operation", req.operation, "reason", d.Reason)
		return "", faultNotAuthorized, false
	}
	return d.User, fault{}, true
}

func (s *Service) fault(w http.ResponseWriter, soap string, f fault, r *http.Request, why string) {
	if why != "" {
		s.log.Info("onvif: bad request", "remote", r.RemoteAddr, "err", why)
	}
	w.Header().Set("Content-Type", `application/soap+xml; charset=utf-8`)
	w.WriteHeader(f.status)
	f.write(w, soap)
}

// profiles are the paths the user may see.
func (s *Service) profiles(user string) []Profile {
	var out []Profile
	for _, p := range s.o.Profiles() {
		if s.o.Auth == nil || user == "" || s.o.Auth.Allowed(user, p.Path) {
			out = append(out, p)
		}
	}
	return out
}

// token is a path's name in tokens: never a number (clients turn numbers
// into numbers), never empty.
func token(path string) string {
	t := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' {
			return r
		}
		return '_'
	}, strings.Trim(path, "/"))
	return t
}

// hostOf is the host the client reached the service by (what it can
// reach the streams by too), without the port.
func hostOf(r *http.Request) (host, hostport string) {
	hostport = r.Host
	if hostport == "" {
		if a, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr); ok {
			hostport = a.String()
		}
	}
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		host = hostport
	}
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	return host, hostport
}

// rtspURL is the path's stream address as the client can reach it.
func (c *call) rtspURL(path string) string {
	host, _ := hostOf(c.r)
	return "rtsp://" + host + ":" + strconv.Itoa(c.s.o.RTSPPort()) + path
}
