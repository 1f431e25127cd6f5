package vm

import (
	"bufio"
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"flowcam/internal/testutil/need"
)

// helloSource is a guest program proving that port forwarding reaches it.
const helloSource = `package main

import (
	"log"
	"net"
)

func main() {
	l, err := net.Listen("tcp", ":8554")
	if err != nil {
		log.Fatal(err)
	}
	log.Print("listening on ", l.Addr())
	for {
		c, err := l.Accept()
		if err != nil {
			log.Fatal(err)
		}
		c.Write([]byte("hello\n"))
		c.Close()
	}
}
`

// buildHello compiles helloSource statically (pure Go, so CGO_ENABLED=0).
func buildHello(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	src := filepath.Join(dir, "main.go")
	if err := os.WriteFile(src, []byte(helloSource), 0o644); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "hello")
	cmd := exec.Command("go", "build", "-o", bin, src)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building the guest test program: %v\n%s", err, out)
	}
	return bin
}

// TestGuest boots one VM (a boot costs seconds under TCG) and checks, in
// it, vivid, port forwarding, module reloading and Run's contract.
func TestGuest(t *testing.T) {
	Require(t)
	hello := buildHello(t)
	began := time.Now()
	g := Start(t, Options{
		Binaries:   map[string]string{"/bin/hello": hello},
		Files:      map[string]string{"/etc/flowcam/note.txt": writeTemp(t, "a note\n")},
		Startup:    "hello >/tmp/hello.log 2>&1 &\n",
		GuestPorts: []int{8554},
	})
	t.Logf("kernel %s booted in %v (Boot took %v in all)", g.KernelVersion(),
		g.BootTime().Round(time.Millisecond), time.Since(began).Round(time.Millisecond))
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	run := func(t *testing.T, cmd string) string {
		t.Helper()
		out, err := g.Run(ctx, cmd)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}

	t.Run("vivid", func(t *testing.T) {
		if out := run(t, "ls /dev/video*"); !strings.Contains(out, "/dev/video0") {
			t.Fatalf("no /dev/video0 in the guest: %q", out)
		}
		if out := run(t, "cat /sys/class/video4linux/video0/name"); !strings.Contains(out, "vivid") {
			t.Fatalf("video0 is not vivid: %q", out)
		}
	})
	t.Run("forwarded port", func(t *testing.T) {
		if got := dialHello(t, g.HostAddr(8554)); got != "hello\n" {
			t.Fatalf("forwarded port answered %q, want %q; guest log:\n%s", got, "hello\n", run(t, "cat /tmp/hello.log"))
		}
	})
	t.Run("rmmod and insmod vivid", func(t *testing.T) {
		run(t, "rmmod vivid")
		if out, err := g.Run(ctx, "test -e /dev/video0"); err == nil {
			t.Fatalf("/dev/video0 still exists after rmmod vivid (%q)", out)
		}
		run(t, "insmod "+g.ModulePath("vivid"))
		run(t, "test -e /dev/video0")
	})
	t.Run("run reports status and output", func(t *testing.T) {
		out, err := g.Run(ctx, "echo oops; echo to-stderr >&2; exit 3")
		if err == nil || !strings.Contains(err.Error(), "exit status 3") || !strings.Contains(err.Error(), "oops") {
			t.Fatalf("Run of a failing command: err %v", err)
		}
		if out != "oops\nto-stderr\n" {
			t.Fatalf("output %q", out)
		}
	})
	t.Run("run survives odd scripts", func(t *testing.T) {
		if _, err := g.Run(ctx, "if then fi ("); err == nil {
			t.Fatal("syntax error reported no failure")
		}
		if _, err := g.Run(ctx, "exec cat"); err != nil { // stdin is /dev/null
			t.Fatal(err)
		}
		out := run(t, "cat /etc/flowcam/note.txt\nprintf '%s' \"it's \\\"quoted\\\"\"")
		if out != "a note\nit's \"quoted\"" {
			t.Fatalf("multi-line script gave %q", out)
		}
	})
}

// dialHello reads the guest program's greeting through the forwarded port.
// The program starts in the background, and qemu accepts on the host side
// before anything listens in the guest (then closes), so it retries.
func dialHello(t *testing.T, addr string) string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	var last string
	for time.Now().Before(deadline) {
		conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err == nil {
			conn.SetDeadline(time.Now().Add(10 * time.Second))
			last, err = bufio.NewReader(conn).ReadString('\n')
			conn.Close()
			if err == nil {
				return last
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	return last
}

func writeTemp(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestBuildStatic checks that the daemon builds into a binary the guest can
// run: no ELF interpreter.
func TestBuildStatic(t *testing.T) {
	need.Tool(t, "gcc") // for the cgo build
	out := filepath.Join(t.TempDir(), "flowcamd")
	start := time.Now()
	if err := BuildStatic("./cmd/flowcamd", out); err != nil {
		t.Fatal(err)
	}
	t.Logf("static flowcamd built in %v", time.Since(start).Round(time.Millisecond))
}
