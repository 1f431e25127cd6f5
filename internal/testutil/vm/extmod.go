package vm

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
)

// koUnit is one loadable module to build: the .ko name and the files it is
// made of, as paths in the kernel tree (headers included, so that the
// flattened build folder has them). One .c of the same name is a plain
// object; anything else is a composite (name-y := a.o b.o ...).
type koUnit struct {
	name  string
	files []string
	// dkms names the Debian DKMS package whose /usr/src/NAME-VERSION/
	// holds the files, for a module that is not in the kernel tree at
	// all; "" means linux-source.
	dkms string
}

// outOfTree is how to build each optional module the kernel package lacks,
// from Debian's linux-source tarball, in load order. Debian's amd64 6.1
// kernel has neither vim2m nor the v4l2-mem2mem core it needs
// (CONFIG_V4L2_MEM2MEM_DEV is only selected by M2M drivers, none of which
// it builds), nor vimc, the media-controller camera libcamera drives;
// everything else they use (mc, videodev, videobuf2-*, v4l2-tpg) is in the
// package, loaded for vivid anyway. v4l2loopback is in no kernel tree.
var outOfTree = map[string][]koUnit{
	"vim2m": {
		{name: "v4l2-mem2mem", files: []string{"drivers/media/v4l2-core/v4l2-mem2mem.c"}},
		{name: "vim2m", files: []string{"drivers/media/test-drivers/vim2m.c"}},
	},
	"vimc": {{name: "vimc", files: prefixed("drivers/media/test-drivers/vimc/",
		"vimc-core.c", "vimc-common.c", "vimc-streamer.c", "vimc-capture.c",
		"vimc-debayer.c", "vimc-scaler.c", "vimc-sensor.c", "vimc-lens.c",
		"vimc-common.h", "vimc-streamer.h")}},
	// v4l2loopback is a camera whatever a guest program writes to its
	// output side becomes, in any format, H.264 included: the only way to
	// have a V4L2 camera that gives H.264 without the hardware.
	"v4l2loopback": {{name: "v4l2loopback", files: []string{"v4l2loopback.c", "v4l2loopback_formats.h"}, dkms: "v4l2loopback-dkms"}},
}

func prefixed(dir string, names ...string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = dir + n
	}
	return out
}

// buildOutOfTree builds each optional module the unpacked kernel in
// sysroot lacks and installs it under lib/modules/VERSION/updates, before
// depmod runs. The sources are fetched once for all of them. A failure
// only records why in k.Why: vivid tests must not depend on it, and the
// module's own test then skips (or fails in CI) quoting the reason. Delete
// the cached kernel folder to retry.
func buildOutOfTree(ctx context.Context, k *kernel, work, sysroot, imageDeb string) {
	need := map[string][]koUnit{} // the kernel may have the core but not the driver
	var files []string
	for name, units := range outOfTree {
		if hasModule(sysroot, k.Version, name) {
			continue
		}
		for _, u := range units {
			if !hasModule(sysroot, k.Version, u.name) {
				need[name] = append(need[name], u)
				if u.dkms == "" {
					files = append(files, u.files...)
				}
			}
		}
	}
	if len(need) == 0 {
		return
	}
	src, headers, fetchErr := fetchSources(ctx, k.Version, work, imageDeb, files)
	for name, units := range need {
		err := fetchErr
		for _, u := range units {
			if err == nil && u.dkms != "" {
				err = extractDKMS(ctx, work, u, src)
			}
		}
		if err == nil {
			err = compileModules(ctx, headers, src, filepath.Join(work, "build-"+name), sysroot, k.Version, units)
		}
		if err != nil {
			k.Why[name] = fmt.Sprintf("building %s out of tree for %s: %v", name, k.Version, err)
		}
	}
}

// hasModule reports whether the kernel ships a module file for name.
func hasModule(sysroot, version, name string) bool {
	found := false
	alt := strings.ReplaceAll(name, "-", "_")
	filepath.WalkDir(filepath.Join(sysroot, "lib", "modules", version), func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			base, _, _ := strings.Cut(d.Name(), ".ko")
			if strings.Contains(d.Name(), ".ko") && (base == name || base == alt) {
				found = true
			}
		}
		return nil
	})
	return found
}

// fetchSources fetches the kernel's source, headers and kbuild packages at
// the image package's exact version (module symbol CRCs must match), and
// extracts the given source files into a flat folder. It returns that
// folder and the headers tree to run Kbuild with:
//
//	make -C <headers>/usr/src/linux-headers-VERSION M=<dir> modules
//
// The packages are unpacked with dpkg -x into work, never installed.
func fetchSources(ctx context.Context, version, work, imageDeb string, files []string) (src, headers string, err error) {
	if runtime.GOARCH != "amd64" {
		return "", "", fmt.Errorf("only built on amd64 hosts")
	}
	pkgVersion, err := debField(imageDeb, "Version")
	if err != nil {
		return "", "", err
	}
	series, err := kernelSeries(version)
	if err != nil {
		return "", "", err
	}
	hdrPkgs, compiler, err := headerPackages(ctx, version)
	if err != nil {
		return "", "", err
	}
	for _, tool := range []string{"make", compiler, "tar", "xz"} {
		if _, err := exec.LookPath(tool); err != nil {
			return "", "", fmt.Errorf("%s is missing (apt-get install make %s xz-utils): %w", tool, compiler, err)
		}
	}
	dl := filepath.Join(work, "build-debs")
	if err := os.MkdirAll(dl, 0o755); err != nil {
		return "", "", err
	}
	pkgs := []string{"linux-source-" + series + "=" + pkgVersion}
	for _, p := range hdrPkgs {
		pkgs = append(pkgs, p+"="+pkgVersion)
	}
	if err := run(ctx, dl, "apt-get", append([]string{"download"}, pkgs...)...); err != nil {
		return "", "", err
	}
	if headers, err = unpackHeaders(ctx, work, dl, version); err != nil {
		return "", "", err
	}
	src = filepath.Join(work, "build-sources")
	return src, headers, extractSources(ctx, dl, work, series, src, files)
}

// kernelSeries turns "6.1.0-56-amd64" into "6.1", the linux-source suffix.
func kernelSeries(version string) (string, error) {
	m := regexp.MustCompile(`^(\d+\.\d+)[.-]`).FindStringSubmatch(version)
	if m == nil {
		return "", fmt.Errorf("cannot tell the kernel series of %q", version)
	}
	return m[1], nil
}

// headerPackages lists what linux-headers-VERSION depends on (its -common
// part and linux-kbuild-X.Y) besides itself, and the compiler its
// linux-compiler-gcc-N-ARCH dependency names; that package only pulls in
// gcc-N, which must be on the host.
func headerPackages(ctx context.Context, version string) (pkgs []string, compiler string, err error) {
	top := "linux-headers-" + version
	out, err := exec.CommandContext(ctx, "apt-cache", "depends", top).CombinedOutput()
	if err != nil {
		return nil, "", fmt.Errorf("apt-cache depends %s: %w: %s", top, err, bytes.TrimSpace(out))
	}
	return parseHeaderDepends(top, string(out))
}

func parseHeaderDepends(top, out string) ([]string, string, error) {
	pkgs := []string{top}
	compiler := "gcc"
	for _, line := range strings.Split(out, "\n") {
		dep, ok := strings.CutPrefix(strings.TrimSpace(line), "Depends: ")
		if !ok {
			continue
		}
		switch {
		case strings.HasPrefix(dep, "linux-compiler-"):
			if m := regexp.MustCompile(`^linux-compiler-(gcc-\d+)-`).FindStringSubmatch(dep); m != nil {
				compiler = m[1]
			}
		case strings.HasPrefix(dep, "linux-headers-"), strings.HasPrefix(dep, "linux-kbuild-"):
			pkgs = append(pkgs, dep)
		}
	}
	if len(pkgs) == 1 {
		return nil, "", fmt.Errorf("apt-cache depends %s names no headers or kbuild package: %q", top, out)
	}
	return pkgs, compiler, nil
}

// unpackHeaders dpkg -x'es the header and kbuild packages into one tree
// and points the arch Makefile, which includes the -common one by its
// installed absolute path, at the unpacked copy. The scripts/ and tools/
// symlinks are relative and already resolve inside the tree.
func unpackHeaders(ctx context.Context, work, dl, version string) (string, error) {
	root := filepath.Join(work, "headers")
	debs, _ := filepath.Glob(filepath.Join(dl, "linux-*.deb"))
	for _, deb := range debs {
		if strings.Contains(filepath.Base(deb), "linux-source-") {
			continue
		}
		if err := run(ctx, work, "dpkg", "-x", deb, root); err != nil {
			return "", err
		}
	}
	dir := filepath.Join(root, "usr", "src", "linux-headers-"+version)
	mk := filepath.Join(dir, "Makefile")
	b, err := os.ReadFile(mk)
	if err != nil {
		return "", fmt.Errorf("headers package: %w", err)
	}
	fixed := regexp.MustCompile(`(?m)^include /usr/src/`).ReplaceAllString(string(b), "include "+filepath.Join(root, "usr", "src")+"/")
	return dir, os.WriteFile(mk, []byte(fixed), 0o644)
}

// extractSources takes only the needed files out of the ~140 MB source
// tarball inside the linux-source package.
func extractSources(ctx context.Context, dl, work, series, dst string, sources []string) error {
	debs, _ := filepath.Glob(filepath.Join(dl, "linux-source-"+series+"_*.deb"))
	if len(debs) != 1 {
		return fmt.Errorf("apt-get download left %d linux-source packages", len(debs))
	}
	inner := "./usr/src/linux-source-" + series + ".tar.xz"
	unpacked := filepath.Join(work, "source")
	if err := os.MkdirAll(unpacked, 0o755); err != nil {
		return err
	}
	script := `dpkg-deb --fsys-tarfile "$1" | tar -x -C "$2" "$3"`
	if err := run(ctx, work, "sh", "-c", script, "sh", debs[0], unpacked, inner); err != nil {
		return err
	}
	members := make([]string, len(sources))
	for i, s := range sources {
		members[i] = "linux-source-" + series + "/" + s
	}
	tarball := filepath.Join(unpacked, inner)
	if err := run(ctx, work, "tar", append([]string{"-xJf", tarball, "-C", unpacked}, members...)...); err != nil {
		return err
	}
	os.Remove(tarball)
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return err
	}
	for _, m := range members {
		if err := copyFile(filepath.Join(unpacked, m), filepath.Join(dst, filepath.Base(m)), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// extractDKMS downloads u's DKMS package and copies its files into src.
func extractDKMS(ctx context.Context, work string, u koUnit, src string) error {
	dl := filepath.Join(work, "build-dkms")
	if err := os.MkdirAll(dl, 0o755); err != nil {
		return err
	}
	if err := run(ctx, dl, "apt-get", "download", u.dkms); err != nil {
		return err
	}
	debs, _ := filepath.Glob(filepath.Join(dl, u.dkms+"_*.deb"))
	if len(debs) != 1 {
		return fmt.Errorf("apt-get download left %d %s packages", len(debs), u.dkms)
	}
	x := filepath.Join(dl, "x")
	if err := run(ctx, dl, "dpkg", "-x", debs[0], x); err != nil {
		return err
	}
	if err := os.MkdirAll(src, 0o755); err != nil {
		return err
	}
	for _, f := range u.files {
		found, _ := filepath.Glob(filepath.Join(x, "usr", "src", "*", f))
		if len(found) != 1 {
			return fmt.Errorf("%s holds %d copies of %s", u.dkms, len(found), f)
		}
		if err := copyFile(found[0], filepath.Join(src, f), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// compileModules copies one module's files from src into its own build
// folder, runs Kbuild there and installs the .ko files into the kernel's
// module tree.
func compileModules(ctx context.Context, headers, src, dir, sysroot, version string, units []koUnit) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, u := range units {
		for _, f := range u.files {
			if err := copyFile(filepath.Join(src, filepath.Base(f)), filepath.Join(dir, filepath.Base(f)), 0o644); err != nil {
				return err
			}
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "Kbuild"), []byte(kbuild(units)), 0o644); err != nil {
		return err
	}
	if err := run(ctx, dir, "make", "-j4", "-C", headers, "M="+dir, "modules"); err != nil {
		return err
	}
	dst := filepath.Join(sysroot, "lib", "modules", version, "updates")
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return err
	}
	for _, u := range units {
		ko := u.name + ".ko"
		if err := copyFile(filepath.Join(dir, ko), filepath.Join(dst, ko), 0o644); err != nil {
			return fmt.Errorf("installing %s: %w", ko, err)
		}
	}
	return nil
}

// kbuild is the Kbuild file for units: a plain object for a module made of
// the one .c of its name, a composite otherwise.
func kbuild(units []koUnit) string {
	var b strings.Builder
	for _, u := range units {
		var objs []string
		for _, f := range u.files {
			if strings.HasSuffix(f, ".c") {
				objs = append(objs, strings.TrimSuffix(filepath.Base(f), ".c")+".o")
			}
		}
		fmt.Fprintf(&b, "obj-m += %s.o\n", u.name)
		if len(objs) != 1 || objs[0] != u.name+".o" {
			fmt.Fprintf(&b, "%s-y := %s\n", u.name, strings.Join(objs, " "))
		}
	}
	return b.String()
}

// debField reads one control field of a .deb.
func debField(deb, field string) (string, error) {
	out, err := exec.Command("dpkg-deb", "-f", deb, field).Output()
	if err != nil || len(bytes.TrimSpace(out)) == 0 {
		return "", fmt.Errorf("dpkg-deb -f %s %s: %v", filepath.Base(deb), field, err)
	}
	return string(bytes.TrimSpace(out)), nil
}
