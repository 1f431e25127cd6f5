package pipes_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v4"

	"flowcam/internal/testutil/daemon"
	"flowcam/internal/testutil/eventually"
	"flowcam/internal/testutil/need"
	"flowcam/internal/testutil/player"
)

// sharedConfig serves one raw helper on two paths that encode it at
// different qualities.
func sharedConfig(lowQuality int) string {
	return fmt.Sprintf(`size: %s
fps: 25
source: %q
exec:
  format: i420
streams:
  - path: /cam
    quality: 80
  - path: /cam/low
    quality: %d
`, size, "exec:"+ffmpegIn+"testsrc2=size="+size+":rate=25 -pix_fmt yuv420p -f rawvideo -", lowQuality)
}

// TestSharedCapture: two paths of one helper run it once, each encodes
// every frame its own way, and a reload that changes one path leaves the
// helper, and the other path's viewers, alone.
func TestSharedCapture(t *testing.T) {
	need.Tool(t, "ffmpeg")
	d := daemon.StartConfig(t, sharedConfig(30), "--http-addr", "127.0.0.1:0")
	helpers := func() []int { return children(t, d.Cmd.Process.Pid) }
	eventually.Require(t, time.Minute, func() bool { return len(helpers()) == 1 }, "one helper for both paths")
	first := helpers()[0]

	mean := func(path string) int {
		frames, err := player.Frames(d.URL(path), gortsplib.TransportTCP, 25, time.Minute)
		if err != nil {
			t.Fatalf("%s: %v\n%s", path, err, daemon.Tail(d.Logs(), 20))
		}
		n := 0
		for _, f := range frames {
			n += len(f)
		}
		return n / len(frames)
	}
	hi, lo := mean("/cam"), mean("/cam/low")
	t.Logf("one helper, two encodings: /cam %d bytes a frame at quality 80, /cam/low %d at 30", hi, lo)
	if lo*3 > hi*2 {
		t.Errorf("/cam/low's frames (%d bytes) are not much smaller than /cam's (%d): not encoded apart", lo, hi)
	}

	// A viewer of /cam watches through a reload that changes /cam/low.
	counter := player.NewFrameCounter(25)
	c, err := player.Play(d.URL("/cam"), gortsplib.TransportTCP, counter.Packet, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := os.WriteFile(configPath(t, d), []byte(sharedConfig(50)), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := d.Cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	if err := d.WaitLog(`"restarted":"/cam/low"`, 30*time.Second); err != nil {
		t.Fatalf("%v\n%s", err, daemon.Tail(d.Logs(), 20))
	}
	if lo2 := mean("/cam/low"); lo2 <= lo {
		t.Errorf("/cam/low at quality 50 gives %d bytes a frame, at 30 it gave %d: the reload did not take", lo2, lo)
	}
	if h := helpers(); len(h) != 1 || h[0] != first {
		t.Errorf("helpers %v after the reload, before %d: the shared capture was restarted", h, first)
	}
	got, sent := counter.Result()
	if got < sent-1 || got < 25 {
		t.Errorf("the /cam viewer got %d of %d frames across the reload of /cam/low", got, sent)
	}
	var st struct {
		Paths []struct {
			Path  string `json:"path"`
			Alive bool   `json:"alive"`
		} `json:"paths"`
	}
	res, err := http.Get(d.HTTPURL("/status.json"))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if err := json.NewDecoder(res.Body).Decode(&st); err != nil || len(st.Paths) != 2 || !st.Paths[0].Alive || !st.Paths[1].Alive {
		t.Errorf("status.json: %+v %v", st, err)
	}
}

// configPath is the --config file a test daemon runs with.
func configPath(t *testing.T, d *daemon.Daemon) string {
	for i, a := range d.Cmd.Args {
		if a == "--config" && i+1 < len(d.Cmd.Args) {
			return d.Cmd.Args[i+1]
		}
	}
	t.Fatal("the daemon runs without --config")
	return ""
}

// children lists the processes whose parent is pid.
func children(t *testing.T, pid int) []int {
	t.Helper()
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	var out []int
	for _, p := range stats {
		b, err := os.ReadFile(p)
		if err != nil {
			continue // gone meanwhile
		}
		// The command name in parentheses may hold spaces: fields start
		// after its closing one.
		f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
		if len(f) > 1 && f[1] == strconv.Itoa(pid) {
			n, _ := strconv.Atoi(filepath.Base(filepath.Dir(p)))
			out = append(out, n)
		}
	}
	return out
}
