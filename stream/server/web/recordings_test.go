package web

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRecordings: the list names each recorded path's segments, a segment
// downloads whole and in ranges, and nothing outside a recording
// directory can be reached.
func TestRecordings(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "site", "cam")
	os.MkdirAll(dir, 0o755)
	os.WriteFile(filepath.Join(dir, "20260301-120000.mkv"), []byte("0123456789"), 0o644)
	os.WriteFile(filepath.Join(dir, "20260301-121000.mkv"), []byte("abc"), 0o644)
	os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("secret"), 0o644)
	os.WriteFile(filepath.Join(root, "outside.mkv"), []byte("outside"), 0o644)
	d := &fakeDaemon{st: twoPaths()}
	d.set(func(s *Status) {
		s.Paths = append(s.Paths, PathStatus{Path: "/site/cam", Recording: &RecordingStatus{Dir: dir, File: "20260301-121000.mkv"}})
	})
	_, base := serve(t, d, NewHub())

	code, body, _ := get(t, base+"/recordings/?format=json")
	var list struct{ Recordings []Recording }
	if code != 200 || json.Unmarshal([]byte(body), &list) != nil || len(list.Recordings) != 2 ||
		list.Recordings[0].Name != "20260301-121000.mkv" || list.Recordings[1].URL != "/recordings/site/cam/20260301-120000.mkv" {
		t.Fatalf("list: %d %s", code, body)
	}
	if code, body, _ := get(t, base+"/recordings/"); code != 200 || !strings.Contains(body, `href="/recordings/site/cam/20260301-120000.mkv"`) {
		t.Errorf("HTML list: %d %s", code, body)
	}
	code, body, h := get(t, base+"/recordings/site/cam/20260301-120000.mkv")
	if code != 200 || body != "0123456789" || h.Get("Content-Type") != "video/x-matroska" {
		t.Errorf("download: %d %q %v", code, body, h)
	}
	req, _ := http.NewRequest("GET", base+"/recordings/site/cam/20260301-120000.mkv", nil)
	req.Header.Set("Range", "bytes=2-4")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusPartialContent || res.ContentLength != 3 {
		t.Errorf("range: %d, %d bytes", res.StatusCode, res.ContentLength)
	}
	for _, bad := range []string{
		"/recordings/site/cam/notes.txt",
		"/recordings/site/cam/..%2f..%2foutside.mkv",
		"/recordings/site/outside.mkv",
		"/recordings/cam/20260301-120000.mkv", // /cam is served, not recorded
		"/recordings/site/cam/missing.mkv",
		"/recordings/site/cam/%2e%2e",
	} {
		if code, body, _ := get(t, base+bad); code != http.StatusNotFound || strings.Contains(body, "outside") || strings.Contains(body, "secret") {
			t.Errorf("%s: %d %q", bad, code, body)
		}
	}
	if got := RecordingStream("/recordings/site/cam/x.mkv"); got != "/site/cam" {
		t.Errorf("RecordingStream: %q", got)
	}
}
