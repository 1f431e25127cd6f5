package daemon_test

import (
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v4"
	"github.com/pion/rtp"

	"flowcam/internal/testutil/daemon"
	"flowcam/internal/testutil/eventually"
	"flowcam/internal/testutil/player"
)

// TestIdleStopsTheSource: with idle: stop, the source stops once nobody has
// watched for the grace period, and the next PLAY starts it again; frames
// then flow with RTP timestamps that kept following the clock. The time
// from PLAY to the first frame is printed, not judged.
func TestIdleStopsTheSource(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "flowcamd.yaml")
	os.WriteFile(cfg, []byte("size: 320x240\nidle: stop\n"), 0o644)
	d, err := daemon.Start(bin, "--config", cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Stop()
	if err := d.WaitLog("nobody is watching: source stopped", 20*time.Second); err != nil {
		t.Fatal(err)
	}

	var first atomic.Int64
	var packets atomic.Int64
	var ts0 atomic.Uint32
	start := time.Now()
	c, err := player.Play(d.URL("/cam"), gortsplib.TransportTCP, func(p *rtp.Packet) {
		// PLAY answers with the last frame from before the stop at once;
		// what counts is the first frame the restarted source makes.
		if packets.Add(1) == 1 {
			ts0.Store(p.Timestamp)
		} else if p.Timestamp != ts0.Load() && first.Load() == 0 {
			first.Store(int64(time.Since(start)))
		}
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := d.WaitLog("viewer back: source restarted", 10*time.Second); err != nil {
		t.Fatal(err)
	}
	eventually.Require(t, time.Minute, func() bool { return first.Load() != 0 }, "no new frame after the restart")
	t.Logf("PLAY to the first new frame after an idle stop: %v (%d packets so far)",
		time.Duration(first.Load()).Round(time.Millisecond), packets.Load())
}
