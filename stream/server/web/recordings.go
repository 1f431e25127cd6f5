package web

import (
	"encoding/json"
	"fmt"
	"html/template"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// Recording is one finished or growing segment of a path's recording.
type Recording struct {
	Path     string    `json:"path"` // the stream's
	Name     string    `json:"name"`
	URL      string    `json:"url"`
	Bytes    int64     `json:"bytes"`
	Modified time.Time `json:"modified"`
}

// RecordingsPrefix is where the HTTP side serves recordings: the list at
// RecordingsPrefix, each file at RecordingsPrefix + stream path + "/" + name.
const RecordingsPrefix = "/recordings/"

// recordingExt are the files a recording directory may serve, and as what.
var recordingExt = map[string]string{".mkv": "video/x-matroska", ".mp4": "video/mp4"}

// listRecordings lists every recorded path's segments, newest first.
func listRecordings(st *Status) []Recording {
	var out []Recording
	for _, p := range st.Paths {
		if p.Recording == nil {
			continue
		}
		entries, _ := os.ReadDir(p.Recording.Dir)
		for _, e := range entries {
			info, err := e.Info()
			if err != nil || !info.Mode().IsRegular() || recordingExt[filepath.Ext(e.Name())] == "" {
				continue
			}
			out = append(out, Recording{Path: p.Path, Name: e.Name(), URL: path.Join(RecordingsPrefix, p.Path, e.Name()),
				Bytes: info.Size(), Modified: info.ModTime().UTC()})
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Path != out[j].Path {
			return out[i].Path < out[j].Path
		}
		return out[i].Name > out[j].Name // names are start times
	})
	return out
}

var recordingsPage = template.Must(template.New("recordings").Parse(`<!doctype html>
<html><head><meta charset="utf-8"><title>flowcam recordings</title>
<style>body{font-family:sans-serif;margin:1em}td,th{padding:.2em .8em;text-align:left}</style></head>
<body><h1>Recordings</h1>
<table><thead><tr><th>path</th><th>segment</th><th>size</th><th>last written (UTC)</th></tr></thead><tbody>
{{- range .}}
<tr><td>{{.Path}}</td><td><a href="{{.URL}}" download>{{.Name}}</a></td><td>{{.Bytes}}</td><td>{{.Modified.Format "2006-01-02 15:04:05"}}</td></tr>
{{- else}}
<tr><td colspan="4">no recordings (set record.enabled on a path)</td></tr>
{{- end}}
</tbody></table><p><a href="/">status</a> · <a href="?format=json">as JSON</a></p></body></html>
`))

// recordings answers the list (HTML, or JSON with ?format=json) and the
// segments themselves, with ranges, so a player can seek in one.
func (s *Server) recordings(w http.ResponseWriter, r *http.Request) {
	st := s.src.Status()
	if r.URL.Path == RecordingsPrefix {
		list := listRecordings(&st)
		if r.URL.Query().Get("format") == "json" {
			w.Header().Set("Content-Type", "application/json")
			json.NewEncoder(w).Encode(map[string]any{"recordings": list})
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		recordingsPage.Execute(w, list)
		return
	}
	file, status, err := recordingFile(&st, strings.TrimPrefix(r.URL.Path, RecordingsPrefix[:len(RecordingsPrefix)-1]))
	if err != nil {
		http.Error(w, err.Error(), status)
		return
	}
	f, err := os.Open(file)
	if err != nil {
		http.Error(w, "the segment is gone (deleted by retention?)", http.StatusNotFound)
		return
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil || !info.Mode().IsRegular() {
		http.Error(w, "not a recording", http.StatusNotFound)
		return
	}
	w.Header().Set("Content-Type", recordingExt[filepath.Ext(file)])
	w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", filepath.Base(file)))
	// Each write gets its own deadline: a download that stops reading
	// lets go of its connection and file (whose blocks retention could
	// not free while it is open) instead of holding them forever.
	http.ServeContent(&deadlineWriter{ResponseWriter: w, s: s}, r, "", info.ModTime(), f)
}

// deadlineWriter sets the server's write deadline before every write.
type deadlineWriter struct {
	http.ResponseWriter
	s *Server
}

func (d *deadlineWriter) Write(b []byte) (int, error) {
	d.s.setDeadline(d.ResponseWriter)
	return d.ResponseWriter.Write(b)
}

// recordingFile maps /STREAM/PATH/NAME to the file it names, refusing
// anything outside the stream's recording directory.
func recordingFile(st *Status, urlPath string) (string, int, error) {
	dir, name := path.Split(urlPath)
	stream := strings.TrimSuffix(dir, "/")
	if name == "" || name == "." || name == ".." || strings.ContainsAny(name, `/\`) || recordingExt[path.Ext(name)] == "" {
		return "", http.StatusNotFound, fmt.Errorf("no recording %q: segments end in .mkv or .mp4 (see %s)", urlPath, RecordingsPrefix)
	}
	p, ok := st.find(stream)
	if !ok || p.Recording == nil {
		return "", http.StatusNotFound, fmt.Errorf("%s is not a recorded path (see %s)", stream, RecordingsPrefix)
	}
	return filepath.Join(p.Recording.Dir, name), 0, nil
}

// RecordingStream is the stream path a recordings URL belongs to, for
// per-path permissions; "" for the list.
func RecordingStream(urlPath string) string {
	rest, ok := strings.CutPrefix(urlPath, RecordingsPrefix)
	if !ok || rest == "" {
		return ""
	}
	dir, _ := path.Split("/" + rest)
	return strings.TrimSuffix(dir, "/")
}
