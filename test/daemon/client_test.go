package daemon_test

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"

	"flowcam/internal/testutil/daemon"
)

// TestFlowcamOutputPlays pipes `flowcam pull -o -` into ffmpeg reading
// MJPEG from stdin (what `ffplay -f mjpeg -` does) and records a file.
func TestFlowcamOutputPlays(t *testing.T) {
	need(t, "ffmpeg")
	dir := t.TempDir()
	client, err := daemon.ClientBinary(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"--flows", "2"}, {"--transport", "tcp"}} {
		pull := exec.Command(client, append([]string{"pull", shared.URL("/cam"), "--duration", "3s", "-o", "-",
			"--stats-json", filepath.Join(dir, "stats.json")}, args...)...)
		ff := exec.Command("ffmpeg", "-hide_banner", "-nostdin", "-f", "mjpeg", "-i", "-", "-f", "null", "-")
		ff.Stdin, _ = pull.StdoutPipe()
		var ffErr bytes.Buffer
		ff.Stderr = &ffErr
		if err := ff.Start(); err != nil {
			t.Fatal(err)
		}
		var pullErr bytes.Buffer
		pull.Stderr = &pullErr
		if err := pull.Run(); err != nil {
			t.Fatalf("flowcam %v: %v\n%s", args, err, pullErr.String())
		}
		if err := ff.Wait(); err != nil {
			t.Fatalf("ffmpeg: %v\n%s", err, ffErr.String())
		}
		m := regexp.MustCompile(`frame=\s*(\d+)`).FindAllStringSubmatch(ffErr.String(), -1)
		if len(m) == 0 || !regexp.MustCompile(`1280x720`).MatchString(ffErr.String()) {
			t.Fatalf("ffmpeg did not decode a 1280x720 stream:\n%s", ffErr.String())
		}
		var rep struct {
			FramesComplete   int `json:"frames_complete"`
			FramesLost       int `json:"frames_lost"`
			FramesLate       int `json:"frames_late"`
			FramesIncomplete int `json:"frames_incomplete"`
			FramesMissing    int `json:"frames_missing"`
		}
		b, _ := os.ReadFile(filepath.Join(dir, "stats.json"))
		if err := json.Unmarshal(b, &rep); err != nil {
			t.Fatalf("stats: %v", err)
		}
		decoded, _ := strconv.Atoi(m[len(m)-1][1])
		t.Logf("%v: ffmpeg decoded %d frames; report %+v", args, decoded, rep)
		// Every frame the client counts as played must reach the pipe
		// whole. A loaded shared machine may stall the client past a few
		// frames' due time (a clean run saw 5 late in a row while four test
		// packages ran), so lateness is bounded loosely; frames that never
		// came whole are loopback's loss, bounded tightly. The zero-loss
		// checks live in the lab tests that control the path.
		if decoded != rep.FramesComplete {
			t.Errorf("ffmpeg decoded %d frames, the client played %d", decoded, rep.FramesComplete)
		}
		if rep.FramesComplete < 60 || rep.FramesIncomplete+rep.FramesMissing > rep.FramesComplete/20 ||
			rep.FramesLate > rep.FramesComplete/5 {
			t.Fatalf("report %+v", rep)
		}
	}
}
