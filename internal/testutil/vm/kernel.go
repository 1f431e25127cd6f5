package vm

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"syscall"
)

// Modules the guest loads at boot, in this order, each after the chain of
// modules it depends on. e1000 is the NIC qemu emulates; vivid is the
// virtual camera. Optional ones are loaded when the kernel builds them:
// Debian 12's kernels (6.1 and the 6.12 backport) leave CONFIG_VIDEO_VIM2M
// and CONFIG_VIDEO_VIMC unset, so vim2m (and the v4l2-mem2mem core it
// needs) and vimc (the media-controller camera libcamera drives) are built
// out of tree from Debian's linux-source package, and v4l2loopback (a
// camera that gives what a guest program writes, H.264 included) from its
// DKMS package, when the kernel is cached (see extmod.go); if that fails, Guest.ModulePath reports "" and
// Guest.MissingReason says why.
var (
	requiredModules = []string{"e1000", "vivid"}
	optionalModules = []string{"vim2m", "vimc", "v4l2loopback"}
)

// metaPackage names the kernel the tests use: whatever Debian's default
// amd64 kernel currently is.
const metaPackage = "linux-image-amd64"

// kernel is one kernel version extracted into the cache: the vmlinuz and
// only the module files the guest loads, laid out at their guest paths.
type kernel struct {
	Version string `json:"version"`
	// Chains maps each loaded module to the guest paths insmod takes,
	// dependencies first, as `modprobe --show-depends` printed them.
	Chains map[string][]string `json:"chains"`
	// Missing lists optional modules this kernel does not build and that
	// could not be built out of tree; Why says why, per module.
	Missing []string          `json:"missing,omitempty"`
	Why     map[string]string `json:"why,omitempty"`
	// Layout is the cache format; a cache of another layout is fetched again.
	Layout int `json:"layout"`

	dir string
}

func (k *kernel) vmlinuz() string { return filepath.Join(k.dir, "vmlinuz") }

// tree holds the module files at their guest paths (lib/modules/...).
func (k *kernel) tree() string { return filepath.Join(k.dir, "tree") }

// loadOrder is every module path to insmod at boot, each once.
func (k *kernel) loadOrder() []string {
	seen := map[string]bool{}
	var order []string
	for _, m := range append(append([]string{}, requiredModules...), optionalModules...) {
		for _, p := range k.Chains[m] {
			if !seen[p] {
				seen[p] = true
				order = append(order, p)
			}
		}
	}
	return order
}

// modulePath is the guest path of module name itself (last in its chain).
func (k *kernel) modulePath(name string) string {
	chain := k.Chains[name]
	if len(chain) == 0 {
		return ""
	}
	return chain[len(chain)-1]
}

// resolveKernel returns the cached kernel Debian currently names, fetching
// and extracting it first if needed. When apt cannot name one (no package
// lists, e.g. offline) the newest cached kernel is used, so a warm cache
// boots without apt or network.
func resolveKernel(ctx context.Context) (*kernel, error) {
	root, err := cacheRoot()
	if err != nil {
		return nil, err
	}
	version, err := wantedVersion()
	if err != nil {
		cached := cachedVersions(root)
		if len(cached) == 0 {
			return nil, fmt.Errorf("vm: nothing cached in %s and %w", root, err)
		}
		return loadKernel(root, cached[len(cached)-1])
	}
	if isCached(root, version) {
		return loadKernel(root, version)
	}
	return fetchKernel(ctx, root, version)
}

// wantedVersion asks apt which kernel linux-image-amd64 depends on, e.g.
// "6.1.0-56-amd64". It reads local package lists only.
func wantedVersion() (string, error) {
	out, err := exec.Command("apt-cache", "depends", metaPackage).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("apt-cache depends %s: %w: %s", metaPackage, err, bytes.TrimSpace(out))
	}
	return parseDepends(string(out))
}

// parseDepends picks the kernel version out of `apt-cache depends` output.
func parseDepends(out string) (string, error) {
	for _, line := range strings.Split(out, "\n") {
		dep, ok := strings.CutPrefix(strings.TrimSpace(line), "Depends: linux-image-")
		if ok && dep != "" {
			return dep, nil
		}
	}
	return "", fmt.Errorf("apt-cache depends %s names no linux-image package: %q", metaPackage, out)
}

// cacheLayout is bumped when what a cached kernel holds changes, so that
// older caches are rebuilt once: 2 added the out-of-tree vim2m, 3 vimc,
// 4 v4l2loopback.
const cacheLayout = 4

// isCached reports a complete cache of the current layout.
func isCached(root, version string) bool {
	k, err := loadKernel(root, version)
	return err == nil && k.Layout == cacheLayout
}

// isUsable reports a complete cache of any layout, which Boot can still
// fall back on when apt cannot name a kernel (offline).
func isUsable(root, version string) bool {
	_, err := os.Stat(filepath.Join(root, version, "kernel.json"))
	return err == nil
}

// cachedVersions lists complete cached kernels, oldest version first.
func cachedVersions(root string) []string {
	entries, _ := os.ReadDir(root)
	var versions []string
	for _, e := range entries {
		if e.IsDir() && isUsable(root, e.Name()) {
			versions = append(versions, e.Name())
		}
	}
	sort.Slice(versions, func(i, j int) bool { return versionLess(versions[i], versions[j]) })
	return versions
}

// versionLess orders "6.1.0-9-amd64" before "6.1.0-56-amd64": numeric runs
// compare as numbers.
func versionLess(a, b string) bool {
	for a != "" && b != "" {
		na, ra := leadingNumber(a)
		nb, rb := leadingNumber(b)
		if na >= 0 && nb >= 0 {
			if na != nb {
				return na < nb
			}
			a, b = ra, rb
			continue
		}
		if a[0] != b[0] {
			return a[0] < b[0]
		}
		a, b = a[1:], b[1:]
	}
	return len(a) < len(b)
}

// leadingNumber returns the decimal number s starts with and the rest, or -1.
func leadingNumber(s string) (int, string) {
	n, i := 0, 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		n = n*10 + int(s[i]-'0')
		i++
	}
	if i == 0 {
		return -1, s
	}
	return n, s[i:]
}

func loadKernel(root, version string) (*kernel, error) {
	dir := filepath.Join(root, version)
	b, err := os.ReadFile(filepath.Join(dir, "kernel.json"))
	if err != nil {
		return nil, fmt.Errorf("vm: reading cached kernel: %w", err)
	}
	k := &kernel{dir: dir}
	if err := json.Unmarshal(b, k); err != nil {
		return nil, fmt.Errorf("vm: cached kernel %s is corrupt (delete the folder): %w", dir, err)
	}
	return k, nil
}

// fetchKernel downloads and extracts a kernel into the cache. A file lock
// serialises concurrent test processes (go test runs packages in
// parallel); the work happens in a temporary folder renamed into place at
// the end, so an interrupted run leaves no half cache behind.
func fetchKernel(ctx context.Context, root, version string) (*kernel, error) {
	if err := os.MkdirAll(root, 0o755); err != nil {
		return nil, fmt.Errorf("vm: creating cache: %w", err)
	}
	unlock, err := lockFile(filepath.Join(root, ".lock"))
	if err != nil {
		return nil, err
	}
	defer unlock()
	if isCached(root, version) { // another process finished it meanwhile
		return loadKernel(root, version)
	}
	work, err := os.MkdirTemp(root, ".tmp-"+version+"-")
	if err != nil {
		return nil, fmt.Errorf("vm: %w", err)
	}
	defer os.RemoveAll(work)
	stage := filepath.Join(work, "kernel")
	k, err := extractKernel(ctx, work, stage, version)
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(root, version)
	_ = os.RemoveAll(dir) // an incomplete folder without kernel.json
	if err := os.Rename(stage, dir); err != nil {
		return nil, fmt.Errorf("vm: moving kernel into the cache: %w", err)
	}
	k.dir = dir
	return k, nil
}

// extractKernel fetches linux-image-VERSION into work and keeps, in stage,
// vmlinuz, the module chains and kernel.json.
func extractKernel(ctx context.Context, work, stage, version string) (*kernel, error) {
	// apt drops privileges to _apt for downloads when it can read the folder.
	if err := os.Chmod(work, 0o755); err != nil {
		return nil, err
	}
	if err := run(ctx, work, "apt-get", "download", "linux-image-"+version); err != nil {
		return nil, err
	}
	debs, _ := filepath.Glob(filepath.Join(work, "linux-image-*.deb"))
	if len(debs) != 1 {
		return nil, fmt.Errorf("vm: apt-get download left %d .deb files in %s", len(debs), work)
	}
	sysroot := filepath.Join(work, "root")
	if err := run(ctx, work, "dpkg", "-x", debs[0], sysroot); err != nil {
		return nil, err
	}
	k := &kernel{Version: version, Chains: map[string][]string{}, Why: map[string]string{}, Layout: cacheLayout}
	// Built before depmod, so that modprobe resolves their chains too.
	buildOutOfTree(ctx, k, work, sysroot, debs[0])
	// The package ships no modules.dep: it is generated by a postinst hook.
	if err := run(ctx, work, "depmod", "-b", sysroot, version); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(stage, 0o755); err != nil {
		return nil, err
	}
	if err := copyFile(filepath.Join(sysroot, "boot", "vmlinuz-"+version), filepath.Join(stage, "vmlinuz"), 0o644); err != nil {
		return nil, fmt.Errorf("vm: kernel image: %w", err)
	}
	if err := collectModules(ctx, k, sysroot, filepath.Join(stage, "tree")); err != nil {
		return nil, err
	}
	b, err := json.MarshalIndent(k, "", "  ")
	if err != nil {
		return nil, err
	}
	return k, os.WriteFile(filepath.Join(stage, "kernel.json"), b, 0o644)
}

// collectModules resolves each module's chain with modprobe and copies the
// files into tree at their guest paths.
func collectModules(ctx context.Context, k *kernel, sysroot, tree string) error {
	for _, name := range append(append([]string{}, requiredModules...), optionalModules...) {
		hostPaths, err := showDepends(ctx, sysroot, k.Version, name)
		if errors.Is(err, errNoModule) && !slices.Contains(requiredModules, name) {
			k.Missing = append(k.Missing, name)
			if k.Why[name] == "" {
				k.Why[name] = err.Error()
			}
			continue
		}
		if err != nil {
			return err
		}
		for _, hp := range hostPaths {
			gp, err := installModule(sysroot, hp, tree)
			if err != nil {
				return err
			}
			k.Chains[name] = append(k.Chains[name], gp)
		}
	}
	return nil
}

var errNoModule = errors.New("module not found")

// showDepends returns the host paths of name's chain, dependencies first.
func showDepends(ctx context.Context, sysroot, version, name string) ([]string, error) {
	cmd := exec.CommandContext(ctx, "modprobe", "-d", sysroot, "-S", version, "--show-depends", name)
	out, err := cmd.CombinedOutput()
	if err != nil {
		if bytes.Contains(out, []byte("not found")) {
			return nil, fmt.Errorf("vm: kernel %s has no %s (%s): %w", version, name, bytes.TrimSpace(out), errNoModule)
		}
		return nil, fmt.Errorf("vm: modprobe --show-depends %s: %w: %s", name, err, bytes.TrimSpace(out))
	}
	return parseShowDepends(string(out))
}

// parseShowDepends keeps the paths of "insmod PATH [params]" lines; built-in
// dependencies ("builtin NAME") need no loading.
func parseShowDepends(out string) ([]string, error) {
	var paths []string
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 && f[0] == "insmod" {
			paths = append(paths, f[1])
		}
	}
	if len(paths) == 0 {
		return nil, fmt.Errorf("vm: modprobe --show-depends printed no insmod line: %q", out)
	}
	return paths, nil
}

// unpackers store a compressed module (.ko.xz, .ko.zst, .ko.gz, as newer
// Debian kernels ship) decompressed, so the guest's busybox insmod needs no
// decompressor support.
var unpackers = map[string]func(src, dst string) error{
	".xz":  func(src, dst string) error { return decompressFile(dst, "xz", "-dc", src) },
	".zst": func(src, dst string) error { return decompressFile(dst, "zstd", "-dc", src) },
	".gz":  gunzipFile,
}

// installModule copies a module file below tree and returns its guest path.
func installModule(sysroot, hostPath, tree string) (string, error) {
	rel, err := filepath.Rel(sysroot, hostPath)
	if err != nil || strings.HasPrefix(rel, "..") {
		return "", fmt.Errorf("vm: module %s is outside %s", hostPath, sysroot)
	}
	guest := "/" + rel
	unpack := unpackers[filepath.Ext(guest)]
	if unpack != nil {
		guest = strings.TrimSuffix(guest, filepath.Ext(guest))
	}
	dst := filepath.Join(tree, guest)
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return "", err
	}
	if unpack == nil {
		err = copyFile(hostPath, dst, 0o644)
	} else {
		err = unpack(hostPath, dst)
	}
	if err != nil {
		return "", fmt.Errorf("vm: module %s: %w", hostPath, err)
	}
	return guest, nil
}

// decompressFile writes the standard output of a decompressor to dst.
func decompressFile(dst, name string, args ...string) error {
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	defer out.Close()
	var stderr bytes.Buffer
	cmd := exec.Command(name, args...)
	cmd.Stdout, cmd.Stderr = out, &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, bytes.TrimSpace(stderr.Bytes()))
	}
	return out.Close()
}

func gunzipFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	zr, err := gzip.NewReader(in)
	if err != nil {
		return err
	}
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	defer out.Close()
	if _, err := io.Copy(out, zr); err != nil {
		return err
	}
	return out.Close()
}

func copyFile(src, dst string, mode os.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, mode)
	if err != nil {
		return err
	}
	defer out.Close()
	if _, err := io.Copy(out, in); err != nil {
		return err
	}
	return out.Close()
}

// lockFile takes an exclusive flock on path, blocking until it is free.
func lockFile(path string) (unlock func(), err error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("vm: cache lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("vm: cache lock %s: %w", path, err)
	}
	return func() { f.Close() }, nil // closing releases the lock
}

// run runs a host command in dir, quoting its output in the error.
func run(ctx context.Context, dir, name string, args ...string) error {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("vm: %s %s: %w: %s", name, strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return nil
}
