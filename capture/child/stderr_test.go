package child

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
)

// TestStderrLog: lines are logged without libcamera's colour codes, the
// mode libcamera granted gets a line of its own, a burst is cut at the rate
// limit, and the last lines are kept for the status page.
func TestStderrLog(t *testing.T) {
	var out bytes.Buffer
	l := newStderrLog(slog.New(slog.NewTextHandler(&out, nil)))
	l.Write([]byte("[0:00:08.64] [185] \x1b[1;32m INFO \x1b[1;37mCamera \x1b[1;34mcamera.cpp:1026 \x1b[0mconfiguring streams: (0) 636x480-BGR888\n"))
	for range stderrBurst + 5 {
		l.Write([]byte("noise\n"))
	}
	l.Write([]byte("no newline"))
	l.flush()
	log := out.String()
	if strings.Contains(log, "\x1b") {
		t.Errorf("colour codes reach the log:\n%s", log)
	}
	if !strings.Contains(log, `msg="camera configured" streams="(0) 636x480-BGR888"`) {
		t.Errorf("no camera mode line:\n%s", log)
	}
	if n := strings.Count(log, `msg="helper says"`); n != stderrBurst {
		t.Errorf("%d lines logged, want the burst of %d", n, stderrBurst)
	}
	last := l.last()
	if len(last) != stderrKeep || last[len(last)-1] != "no newline" {
		t.Errorf("last lines %q", last)
	}
}
