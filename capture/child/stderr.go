package child

import (
	"bytes"
	"log/slog"
	"regexp"
	"strings"
	"sync"
	"time"
)

// stderrLog logs what a helper says, line by line under the helper's name,
// at most burst lines per window (a helper in a crash loop must not flood
// the journal), and keeps the last lines for the status page.
type stderrLog struct {
	log *slog.Logger
	now func() time.Time

	mu         sync.Mutex
	part       []byte
	lines      []string
	window     time.Time
	inWindow   int
	suppressed int
}

const (
	stderrBurst  = 20
	stderrWindow = 10 * time.Second
	stderrKeep   = 8
	stderrLine   = 400 // longer lines are cut: a helper may print a frame dump
)

func newStderrLog(log *slog.Logger) *stderrLog { return &stderrLog{log: log, now: time.Now} }

func (l *stderrLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.part = append(l.part, p...)
	for {
		i := bytes.IndexByte(l.part, '\n')
		if i < 0 {
			if len(l.part) > stderrLine {
				l.line(string(l.part[:stderrLine]))
				l.part = l.part[:0]
			}
			return len(p), nil
		}
		line := string(bytes.TrimSpace(l.part[:min(i, stderrLine)]))
		l.part = l.part[i+1:]
		if line != "" {
			l.line(line)
		}
	}
}

// ansiEscape matches terminal colour codes, which libcamera writes even
// when its stderr is a pipe.
var ansiEscape = regexp.MustCompile(`\x1b\[[0-9;]*[A-Za-z]`)

func (l *stderrLog) line(s string) {
	s = ansiEscape.ReplaceAllString(s, "")
	// libcamera's own line, printed under rpicam-vid and libcamerasrc
	// alike, is the mode the camera granted: worth a line of its own,
	// whatever the rate limit.
	if _, streams, ok := strings.Cut(s, "configuring streams: "); ok {
		l.log.Info("camera configured", "streams", streams)
	}
	if l.lines = append(l.lines, s); len(l.lines) > stderrKeep {
		l.lines = l.lines[1:]
	}
	now := l.now()
	if now.Sub(l.window) >= stderrWindow {
		if l.suppressed > 0 {
			l.log.Info("helper output suppressed", "lines", l.suppressed)
		}
		l.window, l.inWindow, l.suppressed = now, 0, 0
	}
	if l.inWindow++; l.inWindow > stderrBurst {
		l.suppressed++
		return
	}
	l.log.Info("helper says", "line", s)
}

// flush logs a last line the helper wrote without a newline.
func (l *stderrLog) flush() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if line := string(bytes.TrimSpace(l.part)); line != "" {
		l.line(line)
	}
	l.part = l.part[:0]
}

// last returns the helper's last lines.
func (l *stderrLog) last() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.lines...)
}
