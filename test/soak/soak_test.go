// Package soak_test holds 50 viewers on the real flowcamd for a minute:
// no viewer may get fewer than 99% of the frames sent, and the daemon may
// not grow in goroutines or open descriptors. Run by `make soak`.
//
// SOAK_SIZE (default 1280x720, the product's target) and SOAK_SECONDS
// (default 60) change the picture size and the duration.
package soak_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v4"

	"flowcam/internal/testutil/daemon"
	"flowcam/internal/testutil/eventually"
	"flowcam/internal/testutil/need"
	"flowcam/internal/testutil/player"
)

const (
	clients = 50
	fps     = 25
)

func TestSoak(t *testing.T) {
	need.Tool(t, "ffmpeg")
	size := envOr("SOAK_SIZE", "1280x720")
	seconds, err := strconv.Atoi(envOr("SOAK_SECONDS", "60"))
	if err != nil || seconds < 5 {
		t.Fatalf("SOAK_SECONDS=%q: want a whole number of seconds, at least 5", os.Getenv("SOAK_SECONDS"))
	}
	daemon.LoopbackCrowd() // 50 sessions from 127.0.0.1
	dir := t.TempDir()
	bin, err := daemon.Binary(dir)
	if err != nil {
		t.Fatal(err)
	}
	d, err := daemon.Start(bin, "--source", "pattern", "--size", size, "--fps", strconv.Itoa(fps))
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := d.Stop(); err != nil {
			t.Errorf("stopping flowcamd: %v", err)
		}
	}()
	// Idle means the pipeline runs and has encoded its first frame.
	eventually.Require(t, time.Minute, func() bool { return encoded(t, d) > 0 }, "the pattern pipeline encoded no frame")
	idle := resources(t, d)

	counters := make([]*player.FrameCounter, clients)
	viewers := make([]*gortsplib.Client, clients)
	for i := range viewers {
		tr := gortsplib.TransportUDP
		if i%2 == 1 {
			tr = gortsplib.TransportTCP
		}
		counters[i] = player.NewFrameCounter(fps)
		v, err := player.Play(d.URL("/cam"), tr, counters[i].Packet, nil)
		if err != nil {
			for _, v := range viewers[:i] {
				v.Close()
			}
			t.Fatalf("viewer %d: %v", i, err)
		}
		viewers[i] = v
	}
	// Every viewer has a second of frames: its writer goroutine and socket
	// are in place.
	eventually.Require(t, time.Minute, func() bool {
		for _, c := range counters {
			if n, _ := c.Result(); n < fps {
				return false
			}
		}
		return true
	}, "not every viewer received a second of frames")
	start := resources(t, d)
	cpu0, _ := d.CPUTime()
	began := time.Now()
	time.Sleep(time.Duration(seconds) * time.Second) // the soak itself: the duration measured, not a synchronisation
	end := resources(t, d)
	cpu1, _ := d.CPUTime()
	elapsed := time.Since(began)
	for _, v := range viewers {
		v.Close()
	}
	// Sessions close as their viewers leave: the daemon returns to idle.
	var after daemon.Resources
	eventually.Wait(time.Minute, func() bool {
		after = resources(t, d)
		return after.FDs <= idle.FDs+2 && after.Goroutines <= idle.Goroutines+5
	})

	var got []int
	low := 0
	for i, c := range counters {
		n, sent := c.Result()
		got = append(got, n)
		if sent < fps*seconds/2 || float64(n) < 0.99*float64(sent) {
			low++
			t.Errorf("viewer %d (%s): %d of %d frames (< 99%%)", i, []string{"udp", "tcp"}[i%2], n, sent)
		}
	}
	sort.Ints(got)
	cpuPerMin := (cpu1 - cpu0).Seconds() / elapsed.Minutes()
	var b strings.Builder
	fmt.Fprintf(&b, "soak: %s at %d fps, %d s, %d viewers (UDP and TCP alternately)\n", size, fps, seconds, clients)
	fmt.Fprintf(&b, "  %-34s %v\n", "clients", clients)
	fmt.Fprintf(&b, "  %-34s %d / %d / %d (of ~%d sent)\n", "frames per client min/median/max", got[0], got[len(got)/2], got[len(got)-1], seconds*fps)
	fmt.Fprintf(&b, "  %-34s %d\n", "clients below 99%", low)
	fmt.Fprintf(&b, "  %-34s %d idle, %d start, %d end, %d after\n", "fds", idle.FDs, start.FDs, end.FDs, after.FDs)
	fmt.Fprintf(&b, "  %-34s %d idle, %d start, %d end, %d after\n", "goroutines", idle.Goroutines, start.Goroutines, end.Goroutines, after.Goroutines)
	fmt.Fprintf(&b, "  %-34s %.1f (%.0f%% of one core)\n", "daemon CPU s/min", cpuPerMin, 100*cpuPerMin/60)
	fmt.Fprintf(&b, "  %-34s %.1f MiB idle, %.1f MiB end\n", "daemon RSS", mib(idle.RSS), mib(end.RSS))
	t.Log("\n" + b.String())

	if end.FDs > start.FDs+2 {
		t.Errorf("open descriptors grew from %d to %d while serving", start.FDs, end.FDs)
	}
	if end.Goroutines > start.Goroutines+5 {
		t.Errorf("goroutines grew from %d to %d while serving", start.Goroutines, end.Goroutines)
	}
	if after.FDs > idle.FDs+2 || after.Goroutines > idle.Goroutines+5 {
		t.Errorf("after the viewers left: %v, idle before them %v", after, idle)
	}
}

func resources(t *testing.T, d *daemon.Daemon) daemon.Resources {
	t.Helper()
	r, err := d.Resources()
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// encoded is how many frames status.json says the daemon's one path has
// encoded.
func encoded(t *testing.T, d *daemon.Daemon) uint64 {
	t.Helper()
	res, err := (&http.Client{Timeout: 10 * time.Second}).Get(d.HTTPURL("/status.json"))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var st struct {
		Paths []struct {
			Pipeline struct{ Encoded uint64 }
		}
	}
	if err := json.NewDecoder(res.Body).Decode(&st); err != nil {
		t.Fatalf("status.json: %v", err)
	}
	if len(st.Paths) != 1 {
		t.Fatalf("status.json lists %d paths, want 1", len(st.Paths))
	}
	return st.Paths[0].Pipeline.Encoded
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}
