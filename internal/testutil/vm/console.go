package vm

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"sync"
)

// console collects everything qemu prints (the guest's serial console and
// qemu's own messages) and lets callers wait for a pattern in it.
type console struct {
	mu      sync.Mutex
	buf     []byte
	changed chan struct{} // closed and replaced whenever buf grows or the console ends
	ended   bool
	endErr  error
	log     io.Writer
}

func newConsole(log io.Writer) *console {
	return &console{changed: make(chan struct{}), log: log}
}

// Write takes qemu's output. exec.Cmd calls it from one goroutine only
// because stdout and stderr share this writer.
func (c *console) Write(p []byte) (int, error) {
	c.mu.Lock()
	c.buf = append(c.buf, p...)
	c.wakeLocked()
	c.mu.Unlock()
	if c.log != nil {
		_, _ = c.log.Write(p) // the copy is best effort; the console must keep going
	}
	return len(p), nil
}

// end marks that qemu exited, with the error of its Wait.
func (c *console) end(err error) {
	c.mu.Lock()
	c.ended, c.endErr = true, err
	c.wakeLocked()
	c.mu.Unlock()
}

func (c *console) wakeLocked() {
	close(c.changed)
	c.changed = make(chan struct{})
}

func (c *console) size() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.buf)
}

func (c *console) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return string(c.buf)
}

// waitFor waits until re matches the console output from offset from on
// and returns the submatches; it fails when ctx ends or qemu exits first.
func (c *console) waitFor(ctx context.Context, from int, re *regexp.Regexp) ([]string, error) {
	for {
		c.mu.Lock()
		m := re.FindSubmatch(c.buf[from:])
		ended, endErr, changed := c.ended, c.endErr, c.changed
		c.mu.Unlock()
		if m != nil {
			out := make([]string, len(m))
			for i, b := range m {
				out[i] = string(b)
			}
			return out, nil
		}
		if ended {
			return nil, fmt.Errorf("qemu exited (%v)", endErr)
		}
		select {
		case <-ctx.Done():
			return nil, context.Cause(ctx)
		case <-changed:
		}
	}
}

// tail is the last n bytes of the console, for error messages.
func (c *console) tail(n int) string {
	s := c.String()
	if len(s) > n {
		s = "..." + s[len(s)-n:]
	}
	return s
}

// Guest paths Run stages a command in. /run is part of the initramfs root.
const (
	cmdB64  = "/run/vm-cmd.b64"
	cmdFile = "/run/vm-cmd.sh"
	// b64Line keeps every console input line far below the tty's 4095-byte
	// canonical line limit.
	b64Line = 512
)

// runInput is what Run types into the console shell for script: the script
// travels base64-encoded and runs in a child sh, so no quoting, multi-line
// text or syntax error can upset the console shell itself; its stdin is
// /dev/null so it cannot swallow later commands. The markers are written
// split by quotes ("@@VM-""BEGIN") so that even an echoed input line could
// not be mistaken for them.
func runInput(tag, script string) string {
	enc := base64.StdEncoding.EncodeToString([]byte(script))
	var b strings.Builder
	fmt.Fprintf(&b, "rm -f %s\n", cmdB64)
	for len(enc) > 0 {
		n := min(b64Line, len(enc))
		fmt.Fprintf(&b, "echo %s >>%s\n", enc[:n], cmdB64)
		enc = enc[n:]
	}
	fmt.Fprintf(&b, "touch %s; base64 -d %s >%s; ", cmdB64, cmdB64, cmdFile)
	fmt.Fprintf(&b, "echo \"@@VM-\"\"BEGIN %s\"; sh %s </dev/null 2>&1; echo \"@@VM-\"\"END %s $?\"\n", tag, cmdFile, tag)
	return b.String()
}

// runOutput matches one command's output between its markers.
func runOutput(tag string) *regexp.Regexp {
	q := regexp.QuoteMeta(tag)
	return regexp.MustCompile(`@@VM-BEGIN ` + q + `\r?\n((?s:.*?))@@VM-END ` + q + ` (\d+)\r?\n`)
}

// parseRun turns runOutput's submatches into the output (tty line endings
// undone) and the exit status.
func parseRun(m []string) (string, int, error) {
	status, err := strconv.Atoi(m[2])
	if err != nil {
		return "", 0, errors.New("vm: bad status in console marker: " + m[2])
	}
	return strings.ReplaceAll(m[1], "\r\n", "\n"), status, nil
}
