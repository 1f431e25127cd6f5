package pipes_test

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v4"

	"flowcam/internal/testutil/daemon"
	"flowcam/internal/testutil/eventually"
	"flowcam/internal/testutil/need"
	"flowcam/internal/testutil/player"
)

const mjpegOut = " -c:v mjpeg -q:v 5 -huffman default -f mjpeg -"

// TestHelperFailures: a helper that dies, stalls, writes garbage or a
// picture with no end is restarted, and one RTSP session watches through
// it all: no-signal cards while it is down, its pictures again after.
func TestHelperFailures(t *testing.T) {
	need.Tool(t, "ffmpeg")
	need.Tool(t, "sh")
	one := ffmpegIn + "testsrc2=size=" + size + ":rate=25 -t 1" + mjpegOut
	for _, c := range []struct{ name, command string }{
		{"dies", one},
		{"stalls", `sh -c "` + one + `; exec sleep 1000"`},
		{"writes garbage", `sh -c "` + one + `; while :; do echo garbage; done"`},
		{"writes a picture with no end", `sh -c "` + one + `; printf '\377\330\377\332\000\002'; exec cat /dev/zero"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			d := start(t, "exec:"+c.command, "helper:\n  watchdog: 500ms\n  max_frame_bytes: 65536\n")
			var mu sync.Mutex
			frames, cards := 0, 0
			cl, err := player.Play(d.URL("/cam"), gortsplib.TransportTCP, nil, func(f []byte) {
				mu.Lock()
				defer mu.Unlock()
				frames++
				if player.IsNoSignal(f) {
					cards++
				}
			})
			if err != nil {
				t.Fatal(err)
			}
			defer cl.Close()
			eventually.Require(t, 2*time.Minute, func() bool { return status(t, d).Reconnects >= 2 },
				"two restarts\n%s", daemon.Tail(d.Logs(), 20))
			mu.Lock()
			before := frames
			mu.Unlock()
			eventually.Require(t, time.Minute, func() bool { mu.Lock(); defer mu.Unlock(); return frames > before+10 },
				"the session gets frames after the restarts")
			if bytes.Contains([]byte(d.Logs()), []byte(`"session closed"`)) {
				t.Fatalf("the session closed:\n%s", daemon.Tail(d.Logs(), 20))
			}
			eventually.Require(t, time.Minute, func() bool { mu.Lock(); defer mu.Unlock(); return cards > 0 },
				"a no-signal card reaches the viewer")
		})
	}
}

// TestRestartsLeaveNothingBehind: after 50 helper restarts the daemon's
// descriptors and goroutines are back where they were.
func TestRestartsLeaveNothingBehind(t *testing.T) {
	need.Tool(t, "ffmpeg")
	// 30 frames at 25 fps: each run delivers long enough that its end is
	// a new failure, restarted after the shortest backoff.
	d := start(t, "exec:"+ffmpegIn+"testsrc2=size="+size+":rate=25 -frames:v 30"+mjpegOut, "")
	eventually.Require(t, time.Minute, func() bool { return status(t, d).Reconnects >= 2 }, "first restarts")
	base, err := d.Resources()
	if err != nil {
		t.Fatal(err)
	}
	eventually.Require(t, 5*time.Minute, func() bool { return status(t, d).Reconnects >= 52 }, "50 more restarts")
	const slackFDs, slackGoroutines = 4, 8
	var r daemon.Resources
	ok := eventually.Wait(time.Minute, func() bool {
		r, err = d.Resources()
		return err == nil && r.FDs <= base.FDs+slackFDs && r.Goroutines <= base.Goroutines+slackGoroutines
	})
	if !ok {
		t.Fatalf("after 50 restarts %v, before %v", r, base)
	}
	t.Logf("after 50 restarts: %v (before: %v)", r, base)
}

// TestBrokenHelperIsReported: a helper that exits at once, every time, is
// retried with backoff and its last words reach the status page and
// /healthz.
func TestBrokenHelperIsReported(t *testing.T) {
	need.Tool(t, "sh")
	d := start(t, `exec:sh -c "echo ERROR: no cameras available >&2; exit 1"`, "")
	eventually.Require(t, time.Minute, func() bool { return status(t, d).Problem != "" }, "a problem on status.json")
	if p := status(t, d).Problem; !strings.Contains(p, "no cameras available") {
		t.Fatalf("problem %q", p)
	}
	res, err := http.Get(d.HTTPURL("/healthz"))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(body), "no cameras available") {
		t.Fatalf("/healthz: %d %s", res.StatusCode, body)
	}
}
