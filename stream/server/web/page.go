package web

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"html/template"
	"net/http"
	"strings"
	"time"
)

//go:embed charts.js
var chartsJS []byte

// ServeCharts serves the charts' script, which the status page and the
// client's live page share; it is embedded, so a box without internet
// draws them too.
func ServeCharts(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
	w.Header().Set("Cache-Control", "max-age=300")
	w.Write(chartsJS)
}

//go:embed page.html
var pageHTML string

var pageTmpl = template.Must(template.New("page").Funcs(template.FuncMap{
	"ms":    func(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d)/1e6) },
	"pct":   func(f float64) string { return fmt.Sprintf("%.1f %%", f*100) },
	"bytes": humanBytes,
	"mbps":  func(bps float64) string { return fmt.Sprintf("%.2f Mbit/s", bps/1e6) },
	"sent":  sentShare,
}).Parse(pageHTML))

// sentShare is a session's rate adaptation in a few words: "100 %" or
// "48 % (capacity)"; "-" where the server does not measure the path (TCP).
func sentShare(r *RateStatus) string {
	if r == nil {
		return "-"
	}
	if r.Reason == "full rate" {
		return fmt.Sprintf("%.0f %%", r.SentFraction*100)
	}
	return fmt.Sprintf("%.0f %% (%s)", r.SentFraction*100, r.Reason)
}

// pageData is what the status page template renders.
type pageData struct {
	Status
	Uptime   string
	Selected string // the path the live picture shows
	// NoPreview says why the selected path has no live picture (an H.264
	// path without an MJPEG sibling: the page would need a decoder
	// flowcamd does not have). An H.264 path with one shows the sibling's
	// pictures through its own /stream.mjpg.
	NoPreview string
	Flows     bool // some session is multi-flow
}

// page is the status page: server-rendered, so it works without
// JavaScript; a little inline script keeps its numbers live.
func (s *Server) page(w http.ResponseWriter, r *http.Request) {
	st := s.status()
	d := pageData{Status: st, Uptime: uptime(st.Started, time.Now())}
	for _, ss := range st.Sessions {
		d.Flows = d.Flows || len(ss.Flows) > 0
	}
	if len(st.Paths) > 0 {
		d.Selected = st.Paths[0].Path
		if p, ok := st.find("/" + strings.Trim(r.URL.Query().Get("path"), "/")); ok {
			d.Selected = p.Path
		}
		if _, err := st.picture(d.Selected); err != nil {
			d.NoPreview = err.Error()
		}
	}
	var buf bytes.Buffer
	if err := pageTmpl.Execute(&buf, d); err != nil {
		s.log.Error("status page", "err", err)
		http.Error(w, "status page failed to render", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	s.setDeadline(w)
	w.Write(buf.Bytes())
}

// statusJSON is what the page polls; also handy for scripts.
func (s *Server) statusJSON(w http.ResponseWriter, r *http.Request) {
	st := s.status()
	body, err := json.Marshal(struct {
		Status
		Uptime float64 `json:"uptime_seconds"`
		Now    int64   `json:"now_ms"`
	}{st, time.Since(st.Started).Seconds(), time.Now().UnixMilli()})
	if err != nil {
		http.Error(w, "status: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	s.setDeadline(w)
	w.Write(body)
}

func uptime(start, now time.Time) string {
	if start.IsZero() {
		return "-"
	}
	d := now.Sub(start).Round(time.Second)
	if days := d / (24 * time.Hour); days > 0 {
		return fmt.Sprintf("%dd %s", days, d%(24*time.Hour))
	}
	return d.String()
}

func humanBytes(n uint64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := uint64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
