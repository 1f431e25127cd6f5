// Package packaging_test checks the amd64 Debian package as a user would get
// it: its file list, modes and owners, the control fields and conffiles, that
// the binaries in it run and are static (the package declares no Depends),
// that systemd accepts the unit and rates its exposure at 2.0 or lower, and
// that the maintainer scripts create the flowcam user, inside a throwaway
// root rather than on the host.
//
// FLOWCAM_DEB names the .deb to check (`make test-packaging` sets it);
// without it the test builds one with `make deb-amd64` into a temporary
// folder.
package packaging_test

import (
	"bytes"
	"debug/elf"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"

	"flowcam/internal/testutil/need"
)

// maxExposure is the highest `systemd-analyze security` figure accepted.
const maxExposure = 2.0

// repo is the repository root; go test runs in the package's folder.
var repo = func() string {
	abs, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		panic(err)
	}
	return abs
}()

// entry is what the package must hold at a path: a file (with the repository
// file it must equal, when there is one) or a folder.
type entry struct {
	mode os.FileMode
	src  string // repository file with the same bytes; "" for binaries
}

// want is the complete file list: anything else in the package is an error,
// as is anything missing. Folders are checked separately.
var want = map[string]entry{
	"/usr/bin/flowcamd":                                      {0o755, ""},
	"/usr/bin/flowcam":                                       {0o755, ""},
	"/etc/flowcam/flowcamd.yaml":                             {0o640, "configs/flowcamd.yaml"},
	"/usr/lib/systemd/system/flowcamd.service":               {0o644, "systemd/flowcamd.service"},
	"/usr/lib/systemd/system/flowcamd.service.d/camera.conf": {0o644, "systemd/flowcamd.service.d/camera.conf"},
	"/usr/lib/systemd/system/flowcam-relay@.service":         {0o644, "systemd/flowcam-relay@.service"},
	"/etc/flowcam/relay/example.yaml":                        {0o640, "configs/flowcam-relay.yaml"},
	"/usr/lib/udev/rules.d/70-flowcam.rules":                 {0o644, "systemd/70-flowcam.rules"},
	"/usr/lib/sysusers.d/flowcam.conf":                       {0o644, "systemd/flowcam.sysusers"},
	"/usr/share/doc/flowcam/README.md":                       {0o644, "README.md"},
	"/usr/share/doc/flowcam/copyright":                       {0o644, "systemd/copyright"},
	"/usr/share/doc/flowcam/docs/architecture.md":            {0o644, "docs/architecture.md"},
	"/usr/share/doc/flowcam/docs/multiflow.md":               {0o644, "docs/multiflow.md"},
}

// deb is the package under test, found or built once for every test.
var deb = struct {
	once      sync.Once
	path, err string
	root      string // dpkg -x of it
	control   string // dpkg-deb -e of it
}{}

// pkg returns the package and the folders it was unpacked into.
func pkg(t *testing.T) (path, root, control string) {
	t.Helper()
	need.Tool(t, "dpkg-deb")
	deb.once.Do(func() {
		// Not t.TempDir: the folders outlive the first test that asks.
		dir, err := os.MkdirTemp("", "flowcam-packaging-")
		if err != nil {
			deb.err = err.Error()
			return
		}
		deb.path = os.Getenv("FLOWCAM_DEB")
		if deb.path == "" {
			out, err := run(repo, "make", "--no-print-directory", "deb-amd64", "DEB_DIR="+dir)
			if err != nil {
				deb.err = fmt.Sprintf("make deb-amd64: %v\n%s", err, out)
				return
			}
			found, _ := filepath.Glob(filepath.Join(dir, "flowcam_*_amd64.deb"))
			if len(found) != 1 {
				deb.err = fmt.Sprintf("make deb-amd64 made %v in %s, want one flowcam_*_amd64.deb", found, dir)
				return
			}
			deb.path = found[0]
		}
		deb.root = filepath.Join(dir, "root")
		deb.control = filepath.Join(dir, "DEBIAN")
		for _, args := range [][]string{{"dpkg-deb", "-x", deb.path, deb.root}, {"dpkg-deb", "-e", deb.path, deb.control}} {
			if out, err := run("", args...); err != nil {
				deb.err = fmt.Sprintf("%s: %v\n%s", strings.Join(args, " "), err, out)
				return
			}
		}
	})
	if deb.err != "" {
		t.Fatal(deb.err)
	}
	return deb.path, deb.root, deb.control
}

func run(dir string, args ...string) ([]byte, error) {
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Dir = dir
	return cmd.CombinedOutput()
}

func TestMain(m *testing.M) {
	// Re-executed as nobody by TestBindToDeviceUnprivileged.
	if os.Getenv("FLOWCAM_BINDTODEVICE_CHILD") != "" {
		os.Exit(bindToDeviceChild())
	}
	code := m.Run()
	if deb.root != "" {
		os.RemoveAll(filepath.Dir(deb.root))
	}
	os.Exit(code)
}

func TestLayout(t *testing.T) {
	path, root, _ := pkg(t)
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s: %d bytes", filepath.Base(path), st.Size())

	out, err := exec.Command("dpkg-deb", "-c", path).Output()
	if err != nil {
		t.Fatalf("dpkg-deb -c: %v", err)
	}
	// drwxr-xr-x root/root         0 2025-01-01 00:00 ./usr/bin/
	line := regexp.MustCompile(`^([-dl][rwxsStT-]{9}) (\S+)/(\S+) +(\d+) \S+ \S+ \.(/\S*)$`)
	got := map[string]bool{}
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		t.Log(l)
		m := line.FindStringSubmatch(l)
		if m == nil {
			t.Errorf("cannot read dpkg-deb -c line %q", l)
			continue
		}
		perm, owner, group, name := m[1], m[2], m[3], strings.TrimSuffix(m[5], "/")
		if owner != "root" || group != "root" {
			t.Errorf("%s is owned by %s/%s, want root/root", name, owner, group)
		}
		if perm[0] == 'd' {
			if perm != "drwxr-xr-x" {
				t.Errorf("folder %s has mode %s, want drwxr-xr-x", name, perm)
			}
			continue
		}
		got[name] = true
		w, ok := want[name]
		switch {
		case !ok:
			t.Errorf("unexpected file %s in the package", name)
			continue
		case perm != "-"+w.mode.String()[1:]:
			t.Errorf("%s has mode %s, want %s", name, perm, w.mode)
		}
		if w.src == "" {
			continue
		}
		// Stale packaging shows up as a difference from the repository.
		packaged, err := os.ReadFile(filepath.Join(root, name))
		if err != nil {
			t.Error(err)
			continue
		}
		source, err := os.ReadFile(filepath.Join(repo, w.src))
		if err != nil {
			t.Error(err)
			continue
		}
		if !bytes.Equal(packaged, source) {
			t.Errorf("%s differs from %s in the repository", name, w.src)
		}
	}
	for name := range want {
		if !got[name] {
			t.Errorf("%s is missing from the package", name)
		}
	}
}

func TestControl(t *testing.T) {
	path, _, control := pkg(t)
	out, err := exec.Command("dpkg-deb", "-f", path).Output()
	if err != nil {
		t.Fatalf("dpkg-deb -f: %v", err)
	}
	t.Logf("control:\n%s", out)
	fields := map[string]string{}
	for _, l := range strings.Split(string(out), "\n") {
		if k, v, ok := strings.Cut(l, ": "); ok && !strings.HasPrefix(l, " ") {
			fields[k] = v
		}
	}
	for k, v := range map[string]string{"Package": "flowcam", "Architecture": "amd64", "Section": "video"} {
		if fields[k] != v {
			t.Errorf("%s: %q, want %q", k, fields[k], v)
		}
	}
	if out, err := exec.Command("dpkg", "--validate-version", fields["Version"]).CombinedOutput(); err != nil {
		t.Errorf("Version %q: %s", fields["Version"], out)
	}
	// Static binaries need nothing at run time; ffmpeg is only suggested.
	for _, k := range []string{"Depends", "Pre-Depends", "Recommends"} {
		if v, ok := fields[k]; ok {
			t.Errorf("%s: %s; static binaries need nothing", k, v)
		}
	}

	conffiles, err := os.ReadFile(filepath.Join(control, "conffiles"))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(strings.Fields(string(conffiles)), " "); got != "/etc/flowcam/flowcamd.yaml /etc/flowcam/relay/example.yaml" {
		t.Errorf("conffiles lists %q, want exactly /etc/flowcam/flowcamd.yaml and /etc/flowcam/relay/example.yaml", got)
	}

	for _, script := range []string{"postinst", "prerm", "postrm"} {
		p := filepath.Join(control, script)
		st, err := os.Stat(p)
		if err != nil {
			t.Error(err)
			continue
		}
		if st.Mode().Perm() != 0o755 {
			t.Errorf("%s has mode %v, want 0755", script, st.Mode().Perm())
		}
		src, err := os.ReadFile(filepath.Join(repo, "systemd", script))
		if err != nil {
			t.Error(err)
		} else if b, _ := os.ReadFile(p); !bytes.Equal(b, src) {
			t.Errorf("%s in the package differs from systemd/%s", script, script)
		}
		// /bin/sh is dash on Debian; bash catches what dash lets through.
		for _, sh := range []string{"sh", "dash", "bash"} {
			if _, err := exec.LookPath(sh); err != nil {
				continue
			}
			if out, err := exec.Command(sh, "-n", p).CombinedOutput(); err != nil {
				t.Errorf("%s -n %s: %v\n%s", sh, script, err, out)
			}
		}
	}
}

func TestBinaries(t *testing.T) {
	_, root, _ := pkg(t)
	for _, name := range []string{"flowcamd", "flowcam"} {
		bin := filepath.Join(root, "usr/bin", name)
		// No Depends is only right if nothing is loaded at run time.
		f, err := elf.Open(bin)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range f.Progs {
			if p.Type == elf.PT_INTERP {
				t.Errorf("%s is dynamically linked (has an ELF interpreter); the package declares no Depends", name)
			}
		}
		if libs, _ := f.ImportedLibraries(); len(libs) > 0 {
			t.Errorf("%s needs shared libraries %v; the package declares no Depends", name, libs)
		}
		f.Close()

		out, err := exec.Command(bin, "--version").CombinedOutput()
		if err != nil {
			t.Errorf("%s --version: %v\n%s", name, err, out)
			continue
		}
		t.Logf("%s", bytes.TrimSpace(out))
		fields := strings.Fields(string(out))
		if len(fields) < 2 || fields[0] != name || fields[1] == "dev" {
			t.Errorf("%s --version printed %q, want %q and a version from git", name, out, name+" VERSION")
		}
	}
}

// TestArches checks the arm64 and armhf packages `make deb` leaves next to
// the amd64 one, when they are there: the same files, built for their
// architecture.
func TestArches(t *testing.T) {
	path, _, _ := pkg(t)
	machines := map[string]elf.Machine{"arm64": elf.EM_AARCH64, "armhf": elf.EM_ARM}
	for arch, machine := range machines {
		other := strings.TrimSuffix(path, "_amd64.deb") + "_" + arch + ".deb"
		if _, err := os.Stat(other); err != nil {
			t.Logf("no %s package next to the amd64 one (%s); `make deb` builds it", arch, filepath.Base(other))
			continue
		}
		if out, _ := exec.Command("dpkg-deb", "-f", other, "Architecture").Output(); strings.TrimSpace(string(out)) != arch {
			t.Errorf("%s: Architecture %q, want %s", filepath.Base(other), bytes.TrimSpace(out), arch)
		}
		root := t.TempDir()
		if out, err := exec.Command("dpkg-deb", "-x", other, root).CombinedOutput(); err != nil {
			t.Fatalf("dpkg-deb -x %s: %v\n%s", other, err, out)
		}
		for _, name := range []string{"flowcamd", "flowcam"} {
			f, err := elf.Open(filepath.Join(root, "usr/bin", name))
			if err != nil {
				t.Error(err)
				continue
			}
			if f.Machine != machine {
				t.Errorf("%s in the %s package is built for %v", name, arch, f.Machine)
			}
			for _, p := range f.Progs {
				if p.Type == elf.PT_INTERP {
					t.Errorf("%s in the %s package is dynamically linked", name, arch)
				}
			}
			f.Close()
		}
		for name := range want {
			if _, err := os.Stat(filepath.Join(root, name)); err != nil {
				t.Errorf("%s package: %v", arch, err)
			}
		}
	}
}

// TestUnit runs systemd-analyze on the unit as packaged.
func TestUnit(t *testing.T) {
	need.Tool(t, "systemd-analyze")
	_, root, _ := pkg(t)
	unit := filepath.Join(root, "usr/lib/systemd/system/flowcamd.service")

	t.Run("verify", func(t *testing.T) {
		// verify insists that ExecStart= names an executable that exists,
		// and --root= would need a whole systemd installation in the root
		// (sysinit.target, /bin/kill), so check a copy whose ExecStart
		// points at the unpacked binary, next to a copy of the drop-in:
		// verify reads drop-ins from the folder of a unit given by path.
		b, err := os.ReadFile(unit)
		if err != nil {
			t.Fatal(err)
		}
		const execStart = "ExecStart=/usr/bin/flowcamd "
		if !bytes.Contains(b, []byte("\n"+execStart)) {
			t.Fatalf("the unit has no %q line", execStart)
		}
		b = bytes.Replace(b, []byte("\n"+execStart), []byte("\nExecStart="+filepath.Join(root, "usr/bin/flowcamd")+" "), 1)
		dir := t.TempDir()
		copyUnit := filepath.Join(dir, "flowcamd.service")
		if err := os.WriteFile(copyUnit, b, 0o644); err != nil {
			t.Fatal(err)
		}
		dropin, err := os.ReadFile(filepath.Join(unit+".d", "camera.conf"))
		if err != nil {
			t.Fatal(err)
		}
		os.Mkdir(copyUnit+".d", 0o755)
		if err := os.WriteFile(filepath.Join(copyUnit+".d", "camera.conf"), dropin, 0o644); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command("systemd-analyze", "verify", copyUnit)
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		fmt.Printf("systemd-analyze verify: %v, output %q\n", exitStatus(err), out)
		t.Logf("systemd-analyze verify: %v, output %q", exitStatus(err), out)
		if err != nil || len(bytes.TrimSpace(out)) > 0 {
			t.Errorf("systemd-analyze verify is not clean: %v\n%s", err, out)
		}
	})

	t.Run("security", func(t *testing.T) { checkExposure(t, unit) })
}

// checkExposure runs systemd-analyze security on a unit file and holds it
// to maxExposure.
func checkExposure(t *testing.T, unit string) {
	out, err := exec.Command("systemd-analyze", "security", "--offline=yes", "--no-pager", unit).CombinedOutput()
	if err != nil {
		t.Fatalf("systemd-analyze security: %v\n%s", err, out)
	}
	m := regexp.MustCompile(`Overall exposure level for \S+: ([0-9.]+) (\S+)`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("no overall exposure in:\n%s", out)
	}
	exposure, err := strconv.ParseFloat(string(m[1]), 64)
	if err != nil {
		t.Fatal(err)
	}
	// Only the findings still open, so the log shows what is left.
	var open []string
	for _, l := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(l, "✗") {
			open = append(open, strings.Join(strings.Fields(l), " "))
		}
	}
	sort.Strings(open)
	fmt.Printf("systemd-analyze security --offline=yes %s: exposure %.1f %s (at most %.1f accepted)\n", filepath.Base(unit), exposure, m[2], maxExposure)
	t.Logf("exposure %.1f %s; open:\n  %s", exposure, m[2], strings.Join(open, "\n  "))
	if exposure > maxExposure {
		t.Errorf("exposure %.1f, want at most %.1f:\n%s", exposure, maxExposure, out)
	}
}

// TestRelayUnit checks the relay's template unit as an instance, the way
// TestUnit checks flowcamd's.
func TestRelayUnit(t *testing.T) {
	need.Tool(t, "systemd-analyze")
	_, root, _ := pkg(t)
	b, err := os.ReadFile(filepath.Join(root, "usr/lib/systemd/system/flowcam-relay@.service"))
	if err != nil {
		t.Fatal(err)
	}
	const execStart = "ExecStart=/usr/bin/flowcam "
	if !bytes.Contains(b, []byte("\n"+execStart)) {
		t.Fatalf("the unit has no %q line", execStart)
	}
	dir := t.TempDir()
	unit := filepath.Join(dir, "flowcam-relay@example.service")
	os.WriteFile(unit, bytes.Replace(b, []byte("\n"+execStart), []byte("\nExecStart="+filepath.Join(root, "usr/bin/flowcam")+" "), 1), 0o644)
	cmd := exec.Command("systemd-analyze", "verify", unit)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	fmt.Printf("systemd-analyze verify flowcam-relay@example: %v, output %q\n", exitStatus(err), out)
	if err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Errorf("systemd-analyze verify is not clean: %v\n%s", err, out)
	}
	checkExposure(t, unit)
}

func exitStatus(err error) string {
	if err == nil {
		return "exit 0"
	}
	return err.Error()
}

// TestMaintainerScripts runs postinst, prerm and postrm against a throwaway
// root through DPKG_ROOT (which the scripts honour as dpkg --root would set
// it), so the host's users and services are never touched.
func TestMaintainerScripts(t *testing.T) {
	_, root, control := pkg(t)
	fake := func(t *testing.T) string {
		r := t.TempDir()
		for _, d := range []string{"etc", "usr/lib/sysusers.d", "var/lib/flowcam", "etc/systemd/system/multi-user.target.wants"} {
			if err := os.MkdirAll(filepath.Join(r, d), 0o755); err != nil {
				t.Fatal(err)
			}
		}
		// The host's users and groups (world-readable) with empty shadow
		// files, so the new ids do not clash with real ones.
		for _, f := range []string{"passwd", "group", "login.defs"} {
			if b, err := os.ReadFile(filepath.Join("/etc", f)); err == nil {
				os.WriteFile(filepath.Join(r, "etc", f), b, 0o644)
			}
		}
		os.WriteFile(filepath.Join(r, "etc/shadow"), nil, 0o600)
		os.WriteFile(filepath.Join(r, "etc/gshadow"), nil, 0o600)
		b, err := os.ReadFile(filepath.Join(root, "usr/lib/sysusers.d/flowcam.conf"))
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(r, "usr/lib/sysusers.d/flowcam.conf"), b, 0o644)
		os.MkdirAll(filepath.Join(r, "etc/flowcam"), 0o755)
		os.WriteFile(filepath.Join(r, "etc/flowcam/flowcamd.yaml"), []byte("# config\n"), 0o644)
		os.MkdirAll(filepath.Join(r, "etc/flowcam/relay"), 0o755)
		os.WriteFile(filepath.Join(r, "etc/flowcam/relay/example.yaml"), []byte("# relay\n"), 0o644)
		return r
	}
	script := func(t *testing.T, r, path string, env []string, args ...string) {
		t.Helper()
		cmd := exec.Command("sh", append([]string{path}, args...)...)
		cmd.Env = append(append(os.Environ(), "DPKG_ROOT="+r), env...)
		out, err := cmd.CombinedOutput()
		t.Logf("%s %s: %s", filepath.Base(path), strings.Join(args, " "), bytes.TrimSpace(out))
		if err != nil {
			t.Fatalf("%s %s: %v\n%s", filepath.Base(path), strings.Join(args, " "), err, out)
		}
	}
	checkUser := func(t *testing.T, r string) {
		t.Helper()
		passwd, _ := os.ReadFile(filepath.Join(r, "etc/passwd"))
		if n := strings.Count("\n"+string(passwd), "\nflowcam:"); n != 1 {
			t.Fatalf("%d flowcam users in the root's /etc/passwd, want 1:\n%s", n, passwd)
		}
		for _, l := range strings.Split(string(passwd), "\n") {
			if f := strings.Split(l, ":"); len(f) == 7 && f[0] == "flowcam" {
				if uid, _ := strconv.Atoi(f[2]); uid == 0 || uid >= 1000 {
					t.Errorf("flowcam has uid %d, want a system uid", uid)
				}
				if f[5] != "/var/lib/flowcam" || !strings.HasSuffix(f[6], "nologin") {
					t.Errorf("flowcam entry %q: want home /var/lib/flowcam and a nologin shell", l)
				}
			}
		}
		group, _ := os.ReadFile(filepath.Join(r, "etc/group"))
		if !regexp.MustCompile(`(?m)^video:[^:]*:\d+:(.*,)?flowcam(,.*)?$`).Match(group) {
			t.Errorf("flowcam is not in the video group of the root's /etc/group")
		}
		// The configs hold password hashes and hub passwords: root and the
		// flowcam group only.
		for _, conf := range []string{"etc/flowcam/flowcamd.yaml", "etc/flowcam/relay/example.yaml"} {
			if st, err := os.Stat(filepath.Join(r, conf)); err != nil || st.Mode().Perm() != 0o640 {
				t.Errorf("%s mode after postinst: %v %v, want 0640", conf, st.Mode().Perm(), err)
			} else if gid := st.Sys().(*syscall.Stat_t).Gid; !regexp.MustCompile(`(?m)^flowcam:[^:]*:` + strconv.Itoa(int(gid)) + `:`).Match(group) {
				t.Errorf("%s group is gid %d, not flowcam's", conf, gid)
			}
		}
		// The host itself must be left alone.
		if host, _ := os.ReadFile("/etc/passwd"); bytes.Contains(host, []byte("\nflowcam:")) && !hostHadUser {
			t.Errorf("the host's /etc/passwd gained a flowcam user")
		}
	}
	postinst := filepath.Join(control, "postinst")

	t.Run("sysusers", func(t *testing.T) {
		need.Tool(t, "systemd-sysusers")
		r := fake(t)
		script(t, r, postinst, nil, "configure", "")
		checkUser(t, r)
		// An upgrade runs it again; nothing may be added twice.
		script(t, r, postinst, nil, "configure", "0.0.0~git20250101.0000000")
		checkUser(t, r)
	})

	t.Run("useradd", func(t *testing.T) {
		// Without systemd-sysusers (no systemd installed) the shadow tools
		// do it; useradd --prefix, which DPKG_ROOT needs, wants root.
		need.Root(t, "useradd --prefix")
		path := t.TempDir()
		for _, tool := range []string{"sh", "grep", "cut", "tr", "useradd", "usermod", "chgrp", "chmod"} {
			p, err := exec.LookPath(tool)
			if err != nil {
				need.Skip(t, "%s is not installed", tool)
			}
			os.Symlink(p, filepath.Join(path, tool))
		}
		r := fake(t)
		script(t, r, postinst, []string{"PATH=" + path}, "configure", "")
		checkUser(t, r)
	})

	t.Run("remove and purge", func(t *testing.T) {
		r := fake(t)
		state := filepath.Join(r, "var/lib/flowcam/cert.pem")
		wants := filepath.Join(r, "etc/systemd/system/multi-user.target.wants/flowcamd.service")
		os.WriteFile(state, []byte("x"), 0o600)
		os.Symlink("/usr/lib/systemd/system/flowcamd.service", wants)
		script(t, r, filepath.Join(control, "prerm"), nil, "remove")
		script(t, r, filepath.Join(control, "postrm"), nil, "remove")
		if _, err := os.Stat(state); err != nil {
			t.Errorf("remove deleted the state directory: %v", err)
		}
		if _, err := os.Lstat(wants); err != nil {
			t.Errorf("remove dropped the enablement: %v", err)
		}
		script(t, r, filepath.Join(control, "postrm"), nil, "purge")
		for _, p := range []string{state, wants} {
			if _, err := os.Lstat(p); err == nil {
				t.Errorf("purge left %s", strings.TrimPrefix(p, r))
			}
		}
	})
}

// hostHadUser: a host where flowcam is really installed has the user
// legitimately; only a user that appears during the test is an error.
var hostHadUser = func() bool {
	b, _ := os.ReadFile("/etc/passwd")
	return bytes.Contains(b, []byte("\nflowcam:"))
}()

// TestBindToDeviceUnprivileged backs the unit's empty CapabilityBoundingSet:
// per-interface flow sockets use SO_BINDTODEVICE, which Linux 5.7 and later
// allow without CAP_NET_RAW on a socket not yet bound to a device. The test
// binary re-runs itself as nobody with no capabilities and tries it on lo.
func TestBindToDeviceUnprivileged(t *testing.T) {
	need.Tool(t, "setpriv")
	need.Root(t, "switching to nobody")
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	// go test's build folder is private to root; nobody needs a readable
	// copy of the binary.
	dir := t.TempDir()
	os.Chmod(dir, 0o755)
	bin := filepath.Join(dir, "child")
	b, err := os.ReadFile(self)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, b, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups",
		"--inh-caps=-all", "--bounding-set=-all", bin)
	cmd.Env = append(os.Environ(), "FLOWCAM_BINDTODEVICE_CHILD=1")
	out, err := cmd.CombinedOutput()
	t.Logf("as nobody: %s", bytes.TrimSpace(out))
	if err != nil {
		release, _ := os.ReadFile("/proc/sys/kernel/osrelease")
		t.Errorf("SO_BINDTODEVICE as nobody failed (kernel %s): %v; the unit needs CAP_NET_RAW on this kernel",
			bytes.TrimSpace(release), err)
	}
}

// bindToDeviceChild does what platform/netif does for a flow socket: a UDP
// socket, SO_BINDTODEVICE, then bind. Exit status 0 means it worked.
func bindToDeviceChild() int {
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_DGRAM, 0)
	if err != nil {
		fmt.Println("socket:", err)
		return 1
	}
	defer syscall.Close(fd)
	if err := syscall.SetsockoptString(fd, syscall.SOL_SOCKET, syscall.SO_BINDTODEVICE, "lo"); err != nil {
		fmt.Printf("uid %d: SO_BINDTODEVICE lo: %v\n", os.Getuid(), err)
		return 1
	}
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		fmt.Println("bind:", err)
		return 1
	}
	// Moving a socket to another device is what still needs CAP_NET_RAW.
	again := syscall.SetsockoptString(fd, syscall.SOL_SOCKET, syscall.SO_BINDTODEVICE, "lo")
	fmt.Printf("uid %d: SO_BINDTODEVICE lo on a new socket: ok; again on the same socket: %v\n", os.Getuid(), again)
	return 0
}
