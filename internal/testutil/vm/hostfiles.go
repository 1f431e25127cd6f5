package vm

import (
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
)

// HostFiles returns Options.Files entries that carry dynamically linked host
// programs into the guest at their host paths: each path given (a file, or
// a folder taken whole, e.g. a plugin or IPA module folder), and for every
// ELF file among them the shared libraries ldd resolves and the dynamic
// loader. Symbolic links are copied as the files they point to. The guest
// has no ld.so.cache, so programs find their libraries by the loader's
// default folders, which on Debian include the multiarch ones ldd names.
func HostFiles(paths ...string) (map[string]string, error) {
	files := map[string]string{}
	for _, p := range paths {
		err := filepath.WalkDir(p, func(q string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() {
				return nil
			}
			return addWithLibraries(files, q)
		})
		if err != nil {
			return nil, fmt.Errorf("vm: host files: %w", err)
		}
	}
	return files, nil
}

// lddLine matches "libx.so.1 => /lib/.../libx.so.1 (0x...)" and the
// loader's "/lib64/ld-linux-x86-64.so.2 (0x...)".
var lddLine = regexp.MustCompile(`(?m)^\s*(?:\S+ => )?(/\S+) \(0x`)

func addWithLibraries(files map[string]string, path string) error {
	if _, seen := files[path]; seen {
		return nil
	}
	files[path] = path
	if !isELF(path) {
		return nil
	}
	out, err := exec.Command("ldd", path).CombinedOutput()
	if bytes.Contains(out, []byte("not found")) {
		return fmt.Errorf("ldd %s: a library is missing:\n%s", path, out)
	}
	if err != nil {
		return nil // static, or not a program ldd can read: nothing to add
	}
	for _, m := range lddLine.FindAllSubmatch(out, -1) {
		lib := string(m[1])
		files[guestPath(lib, bytes.Contains(m[0], []byte("=>")))] = lib
	}
	return nil
}

// guestPath places a library at its folder's real path. On a merged-/usr
// host ldd prints /lib/x86_64-linux-gnu/..., and /lib is a link to usr/lib;
// the guest's /lib is a real folder, and libraries that find their plugins
// relative to where they are loaded from (GStreamer) must be loaded from
// /usr/lib there, as on the host. The dynamic loader itself (no "=>") stays
// where programs name it.
func guestPath(lib string, resolved bool) string {
	if !resolved {
		return lib
	}
	dir, err := filepath.EvalSymlinks(filepath.Dir(lib))
	if err != nil {
		return lib
	}
	return filepath.Join(dir, filepath.Base(lib))
}

func isELF(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	magic := make([]byte, 4)
	_, err = io.ReadFull(f, magic)
	return err == nil && string(magic) == "\x7fELF"
}
