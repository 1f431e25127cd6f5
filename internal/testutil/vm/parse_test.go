package vm

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"flowcam/internal/testutil/need"
)

// These tests need no VM: they cover the parsing the VM tests rely on.

func TestParseDepends(t *testing.T) {
	out := "linux-image-amd64\n  Depends: linux-image-6.1.0-56-amd64\n"
	v, err := parseDepends(out)
	if err != nil || v != "6.1.0-56-amd64" {
		t.Fatalf("got %q, %v", v, err)
	}
	if _, err := parseDepends("linux-image-amd64\n"); err == nil {
		t.Fatal("no error without a Depends line")
	}
}

func TestParseShowDepends(t *testing.T) {
	out := "builtin i2c_core\ninsmod /r/lib/modules/v/kernel/a/mc.ko \ninsmod /r/lib/modules/v/kernel/b/vivid.ko n_devs=1\n"
	got, err := parseShowDepends(out)
	if err != nil || strings.Join(got, ",") != "/r/lib/modules/v/kernel/a/mc.ko,/r/lib/modules/v/kernel/b/vivid.ko" {
		t.Fatalf("got %q, %v", got, err)
	}
}

func TestVersionLess(t *testing.T) {
	if !versionLess("6.1.0-9-amd64", "6.1.0-56-amd64") || versionLess("6.1.0-56-amd64", "6.1.0-9-amd64") {
		t.Fatal("numeric parts must compare as numbers")
	}
	if !versionLess("6.1.0-56-amd64", "6.12.0-1-amd64") {
		t.Fatal("6.1 sorts before 6.12")
	}
}

func TestLoadOrderDeduplicates(t *testing.T) {
	k := &kernel{Chains: map[string][]string{
		"e1000": {"/e1000.ko"},
		"vivid": {"/mc.ko", "/videodev.ko", "/vivid.ko"},
		"vim2m": {"/mc.ko", "/videodev.ko", "/vim2m.ko"},
	}}
	got := strings.Join(k.loadOrder(), " ")
	if got != "/e1000.ko /mc.ko /videodev.ko /vivid.ko /vim2m.ko" {
		t.Fatalf("load order %q", got)
	}
	if k.modulePath("vivid") != "/vivid.ko" || k.modulePath("nope") != "" {
		t.Fatal("modulePath")
	}
}

// TestRunProtocol feeds runInput to a local busybox sh (as the guest's
// console shell runs it) and parses the output like Run, with background
// noise on the same console.
func TestRunProtocol(t *testing.T) {
	need.Tool(t, busyboxPath)
	script := strings.Repeat("# padding so the script spans several base64 lines\n", 40) +
		"echo 'out'\necho err >&2\nexit 7\n"
	input := runInput("t-1", script)
	for _, line := range strings.Split(input, "\n") {
		if len(line) > 1000 {
			t.Fatalf("console line of %d bytes", len(line))
		}
	}
	if strings.Contains(input, "@@VM-BEGIN") || strings.Contains(input, "@@VM-END") {
		t.Fatal("markers appear literally in the input, an echo would fake them")
	}
	// Local stand-ins for the guest's /run paths.
	dir := t.TempDir()
	input = strings.NewReplacer(cmdB64, dir+"/c.b64", cmdFile, dir+"/c.sh").Replace(input)
	cmd := exec.Command(busyboxPath, "sh")
	cmd.Stdin = strings.NewReader(input)
	raw, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("sh: %v\n%s", err, raw)
	}
	c := newConsole(nil)
	c.Write([]byte("noise from a daemon\r\n"))
	c.Write([]byte(strings.ReplaceAll(string(raw), "\n", "\r\n"))) // the tty's onlcr
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	m, err := c.waitFor(ctx, 0, runOutput("t-1"))
	if err != nil {
		t.Fatalf("%v in %q", err, c.String())
	}
	out, status, err := parseRun(m)
	if err != nil || status != 7 || out != "out\nerr\n" {
		t.Fatalf("got %q, status %d, %v", out, status, err)
	}
}

func TestWaitForEndsWithQemu(t *testing.T) {
	c := newConsole(nil)
	go func() {
		// Not synchronisation: the pause makes qemu likely to exit while
		// waitFor waits (the case under test), and waitFor must fail in
		// either order.
		time.Sleep(10 * time.Millisecond)
		c.end(nil)
	}()
	if _, err := c.waitFor(context.Background(), 0, runOutput("never")); err == nil {
		t.Fatal("waitFor returned no error after qemu exited")
	}
}

// TestInstallModuleDecompresses covers kernels that ship .ko.xz/.ko.gz
// (Debian's 6.12 does): the cache keeps plain .ko files under the guest path.
func TestInstallModuleDecompresses(t *testing.T) {
	sysroot, tree := t.TempDir(), t.TempDir()
	dir := filepath.Join(sysroot, "lib", "modules", "v", "kernel")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	plain := filepath.Join(dir, "m.ko")
	if err := os.WriteFile(plain, []byte("\x7fELF module"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, ext := range []string{"", ".xz", ".gz"} {
		t.Run("ko"+ext, func(t *testing.T) {
			switch ext {
			case ".xz":
				need.Tool(t, "xz")
				if out, err := exec.Command("xz", "-k", plain).CombinedOutput(); err != nil {
					t.Fatalf("xz: %v %s", err, out)
				}
			case ".gz":
				if out, err := exec.Command("gzip", "-k", plain).CombinedOutput(); err != nil {
					t.Fatalf("gzip: %v %s", err, out)
				}
			}
			guest, err := installModule(sysroot, plain+ext, tree)
			if err != nil {
				t.Fatal(err)
			}
			if guest != "/lib/modules/v/kernel/m.ko" {
				t.Fatalf("%s: guest path %q", ext, guest)
			}
			b, err := os.ReadFile(filepath.Join(tree, guest))
			if err != nil || string(b) != "\x7fELF module" {
				t.Fatalf("%s: content %q, %v", ext, b, err)
			}
		})
	}
}
