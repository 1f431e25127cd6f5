package daemon

import (
	"net/http"
	"net/netip"

	"flowcam/stream/auth"
	"flowcam/stream/server/web"
)

// httpAuth asks browsers for the same users as RTSP. Digest works in every
// browser (with qop=auth, so nonces are tied to the address, not to one of
// the several connections a browser opens); Basic only over TLS.
func (d *daemon) httpAuth(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		remote, _ := netip.ParseAddrPort(r.RemoteAddr)
		dec := d.access.Check(auth.Request{
			Method:        r.Method,
			URI:           r.RequestURI,
			Path:          d.web.pathOf(r),
			Authorization: r.Header.Get("Authorization"),
			Remote:        remote.Addr().Unmap(),
			TLS:           r.TLS != nil,
		})
		if dec.OK() {
			next.ServeHTTP(w, r)
			return
		}
		for _, c := range dec.Challenges {
			w.Header().Add("WWW-Authenticate", c)
		}
		http.Error(w, http.StatusText(dec.Status), dec.Status)
	})
}

// pathOf is the stream a request shows, for per-path permissions: the
// path parameter, else the first path (what the MJPEG and snapshot
// endpoints show by default). Pages about every path need no particular
// permission.
func (w *webSide) pathOf(r *http.Request) string {
	// A recording's path is in the URL itself, whatever ?path= says.
	if p := web.RecordingStream(r.URL.Path); p != "" {
		return p
	}
	if p := r.URL.Query().Get("path"); p != "" {
		return p
	}
	switch r.URL.Path {
	case "/stream.mjpg", "/snapshot.jpg":
		if v := w.view.Load(); v != nil && len(*v) > 0 {
			return (*v)[0].stream.Path
		}
	}
	return ""
}
