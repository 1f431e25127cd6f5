// Package daemon_test checks the real flowcamd binary end to end with real
// RTSP clients: ffmpeg, GStreamer and gortsplib, over real loopback sockets.
package daemon_test

import (
	"fmt"
	"os"
	"testing"

	"flowcam/internal/testutil/daemon"
	testneed "flowcam/internal/testutil/need"
)

var (
	bin    string         // the flowcamd under test
	shared *daemon.Daemon // one daemon serving the default 1280x720 pattern
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	daemon.LoopbackCrowd() // every test's players share 127.0.0.1
	dir, err := os.MkdirTemp("", "flowcamd-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	if bin, err = daemon.Binary(dir); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if shared, err = daemon.Start(bin, "--source", "pattern"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	code := m.Run()
	if err := shared.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, "stopping flowcamd:", err)
		code = 1
	}
	if code != 0 || testing.Verbose() {
		fmt.Fprintf(os.Stderr, "--- flowcamd log ---\n%s", daemon.Tail(shared.Logs(), 60))
	}
	return code
}

// need skips a test whose external client is missing; `make test`
// installs them, so in CI nothing is skipped.
func need(t *testing.T, tool string) { testneed.Tool(t, tool) }
