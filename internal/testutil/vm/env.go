package vm

import (
	"bytes"
	"debug/elf"
	"errors"
	"flowcam/internal/testutil/need"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// busyboxPath is where Debian's busybox-static installs its binary (with
// usrmerge /bin is /usr/bin). The dynamic "busybox" package installs the
// same path, which is why Available checks that the file is static.
const busyboxPath = "/bin/busybox"

// Available reports why a VM cannot be booted here, or nil when it can.
// It does not download anything; when no kernel is cached yet it checks
// that the Debian mirror answers on TCP, since the first Boot fetches one.
func Available() error {
	if runtime.GOOS != "linux" || runtime.GOARCH != "amd64" {
		return fmt.Errorf("vm: needs linux/amd64 (the guest is an x86_64 Debian kernel running test binaries built for the host), this is %s/%s", runtime.GOOS, runtime.GOARCH)
	}
	for _, tool := range []string{"qemu-system-x86_64", "cpio"} {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Errorf("vm: %s not found (apt-get install qemu-system-x86 busybox-static cpio kmod): %w", tool, err)
		}
	}
	if err := checkStatic(busyboxPath); err != nil {
		return fmt.Errorf("vm: the guest needs a static busybox (apt-get install busybox-static): %w", err)
	}
	return kernelAvailable()
}

// kernelAvailable succeeds when Boot would find its kernel: in the cache, or
// fetchable with the Debian tools from a mirror that answers.
func kernelAvailable() error {
	root, err := cacheRoot()
	if err != nil {
		return err
	}
	version, err := wantedVersion()
	if err == nil && isCached(root, version) {
		return nil
	}
	if err != nil {
		if len(cachedVersions(root)) > 0 {
			return nil // Boot falls back to the cached kernel.
		}
		return fmt.Errorf("vm: no kernel cached in %s and cannot tell which to fetch: %w", root, err)
	}
	for _, tool := range []string{"apt-get", "dpkg", "depmod", "modprobe"} {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Errorf("vm: kernel %s not cached in %s and %s is missing to fetch it (apt-get install kmod): %w", version, root, tool, err)
		}
	}
	if err := mirrorReachable(version); err != nil {
		return fmt.Errorf("vm: kernel %s not cached in %s and cannot be fetched: %w", version, root, err)
	}
	return nil
}

// mirrorReachable dials the host apt would download the kernel package from.
// apt-get --print-uris only resolves the URL; it transfers nothing.
func mirrorReachable(version string) error {
	dir, err := os.MkdirTemp("", "vm-uris-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	cmd := exec.Command("apt-get", "download", "--print-uris", "linux-image-"+version)
	cmd.Dir = dir // apt prints nothing for a package already present in the cwd
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("apt-get download --print-uris: %w: %s", err, bytes.TrimSpace(out))
	}
	raw, _, _ := strings.Cut(strings.TrimSpace(string(out)), " ")
	u, err := url.Parse(strings.Trim(raw, "'"))
	if err != nil || u.Host == "" {
		return fmt.Errorf("apt-get download --print-uris gave no URL: %q", out)
	}
	host := u.Host
	if u.Port() == "" {
		port := "80"
		if u.Scheme == "https" {
			port = "443"
		}
		host = net.JoinHostPort(u.Hostname(), port)
	}
	conn, err := net.DialTimeout("tcp", host, 5*time.Second)
	if err != nil {
		return fmt.Errorf("no network to the package mirror: %w", err)
	}
	return conn.Close()
}

// Require skips t when no VM can be booted here, except in CI (CI=true),
// where a silently skipped VM test would hide a broken runner, so it fails.
func Require(t testing.TB) {
	t.Helper()
	err := Available()
	if err == nil {
		return
	}
	need.Skip(t, "VM test: %v", err)
}

// BuildStatic builds the Go package pkg (e.g. "./cmd/flowcamd") into out as
// a statically linked binary the busybox guest can run (it has no libc):
//
//	CGO_ENABLED=1 go build -trimpath -tags netgo,osusergo -ldflags '-extldflags -static' -o OUT PKG
//
// run from the repository root. cgo stays on because the daemon links
// libjpeg-turbo; netgo and osusergo keep glibc's NSS (which cannot be linked
// statically) out. The result is checked to have no ELF interpreter.
func BuildStatic(pkg, out string) error {
	root, err := repoRoot()
	if err != nil {
		return err
	}
	if !filepath.IsAbs(out) {
		if out, err = filepath.Abs(out); err != nil {
			return err
		}
	}
	cmd := exec.Command("go", "build", "-trimpath", "-tags", "netgo,osusergo",
		"-ldflags", "-extldflags -static", "-o", out, pkg)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=1")
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("vm: static build of %s: %w: %s", pkg, err, bytes.TrimSpace(b))
	}
	if err := checkStatic(out); err != nil {
		return fmt.Errorf("vm: static build of %s: %w", pkg, err)
	}
	return nil
}

// checkStatic fails when path is not an ELF file or asks for a dynamic
// loader, which the initramfs does not have.
func checkStatic(path string) error {
	f, err := elf.Open(path)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return fmt.Errorf("%s is dynamically linked", path)
		}
	}
	return nil
}

// repoRoot is the folder holding go.mod, found by walking up from the
// working directory (go test runs in the package folder), then by asking go.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d, nil
		}
		if filepath.Dir(d) == d {
			break
		}
	}
	out, err := exec.Command("go", "env", "GOMOD").Output()
	gomod := strings.TrimSpace(string(out))
	if err != nil || gomod == "" || gomod == os.DevNull {
		return "", errors.New("vm: no go.mod above " + dir + " and `go env GOMOD` names none")
	}
	return filepath.Dir(gomod), nil
}

// cacheRoot is where kernels and initramfs parts are kept between runs:
// $FLOWCAM_VM_CACHE if set, else <repo root>/.cache/vm (git-ignored).
func cacheRoot() (string, error) {
	if dir := os.Getenv("FLOWCAM_VM_CACHE"); dir != "" {
		return filepath.Abs(dir)
	}
	root, err := repoRoot()
	if err != nil {
		return "", err
	}
	return filepath.Join(root, ".cache", "vm"), nil
}
