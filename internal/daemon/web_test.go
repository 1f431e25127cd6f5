package daemon

import (
	"net/http/httptest"
	"testing"
	"time"

	"flowcam/stream/format/multiflow"
	"flowcam/stream/server/flowsend"
	"flowcam/stream/server/rtspserver"
	"flowcam/stream/server/web"
)

func TestAliveWindow(t *testing.T) {
	for _, tc := range []struct {
		fps  float64
		want time.Duration
	}{{25, 2 * time.Second}, {0, 2 * time.Second}, {1, 3 * time.Second}, {0.5, 6 * time.Second}} {
		if got := aliveWindow(tc.fps); got != tc.want {
			t.Errorf("aliveWindow(%v) = %v, want %v", tc.fps, got, tc.want)
		}
	}
}

// TestSessionStatus: RTCP jitter arrives in 90 kHz units; a flow's local
// address is named by its interface.
func TestSessionStatus(t *testing.T) {
	in := rtspserver.SessionInfo{ID: "s1", Path: "/cam", Transport: "multiflow", Client: "10.0.0.2:4000",
		Octets: 1234, Jitter: 4500, RTT: 20 * time.Millisecond,
		Multiflow: &flowsend.Stats{Mode: multiflow.Duplicate, Flows: []flowsend.FlowStats{
			{Flow: 0, Local: "127.0.0.1:50000", Bytes: 99, Loss: 0.1},
			{Flow: 1, Local: "192.0.2.77:50002"},
		}}}
	ss := sessionStatus(in, interfaceNames{})
	if ss.Jitter != 50*time.Millisecond || ss.Bytes != 1234 || ss.Client != "10.0.0.2:4000" || ss.Mode != "duplicate" {
		t.Fatalf("session: %+v", ss)
	}
	if len(ss.Flows) != 2 || ss.Flows[0].Interface != "lo" || ss.Flows[0].Bytes != 99 || ss.Flows[1].Interface != "" {
		t.Fatalf("flows: %+v", ss.Flows)
	}
}

// TestPreviews: an H.264 path takes its picture from an MJPEG path of the
// same capture, never from another H.264 path or an unrelated one.
func TestPreviews(t *testing.T) {
	spec := func(path, shared string) pathView {
		return pathView{spec: streamSpec{StreamConfig: StreamConfig{Path: path}, shared: shared}}
	}
	paths := []web.PathStatus{{Path: "/cam", Codec: "mjpeg"}, {Path: "/cam/h264", Codec: "h264"}, {Path: "/cam/hd", Codec: "h264"},
		{Path: "/clip", Codec: "h264"}, {Path: "/side", Codec: "mjpeg"}}
	view := []pathView{spec("/cam", "/cam,/cam/h264,/cam/hd"), spec("/cam/h264", "/cam,/cam/h264,/cam/hd"),
		spec("/cam/hd", "/cam,/cam/h264,/cam/hd"), spec("/clip", ""), spec("/side", "")}
	previews(paths, view)
	want := []string{"", "/cam", "/cam", "", ""}
	for i, p := range paths {
		if p.Preview != want[i] {
			t.Errorf("%s: preview %q, want %q", p.Path, p.Preview, want[i])
		}
	}
}

// TestPathOfRecordings: a recording's permission is its own path's,
// whatever ?path= claims.
func TestPathOfRecordings(t *testing.T) {
	var w webSide
	for _, c := range []struct{ url, want string }{
		{"/recordings/garage/20260101-120000.mkv?path=/yard", "/garage"},
		{"/recordings/site/cam/x.mp4", "/site/cam"},
		{"/snapshot.jpg?path=/yard", "/yard"},
		{"/recordings/?path=/yard", "/yard"},
	} {
		r := httptest.NewRequest("GET", c.url, nil)
		if got := w.pathOf(r); got != c.want {
			t.Errorf("%s: %q, want %q", c.url, got, c.want)
		}
	}
}
