// Package buildinfo says how this binary was built: the version and commit
// the Makefile stamps in, and what the Go toolchain recorded (target, cgo,
// build tags) plus whether the executable is statically linked. Both
// binaries print it for --version so a file copied onto a board can be
// identified without the build machine.
package buildinfo

import (
	"debug/buildinfo"
	"debug/elf"
	"fmt"
	"os"
	"runtime"
	"strings"
)

// Set with -ldflags "-X flowcam/internal/buildinfo.version=... -X ...commit=...".
var (
	version = "dev"
	commit  = "unknown"
)

// Info describes one build.
type Info struct {
	Version, Commit string
	Go              string // toolchain version
	Target          string // GOOS/GOARCH, with the ARM level for 32-bit ARM
	CGO             bool
	Tags            string // -tags, comma separated
	// Linking is "static", "dynamic", or "unknown" when the executable
	// cannot be read (deleted, or a platform without ELF).
	Linking string
}

// Version is the stamped version, "dev" for a plain go build.
func Version() string { return version }

// Read describes the running binary.
func Read() Info {
	path, err := os.Executable()
	if err != nil {
		path = ""
	}
	return read(path)
}

func read(exe string) Info {
	info := Info{Version: version, Commit: commit, Go: runtime.Version(),
		Target: runtime.GOOS + "/" + runtime.GOARCH, Linking: linking(exe)}
	bi, err := buildinfo.ReadFile(exe)
	if err != nil {
		return info
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "CGO_ENABLED":
			info.CGO = s.Value == "1"
		case "-tags":
			info.Tags = s.Value
		case "GOARM":
			info.Target += "v" + strings.TrimSuffix(s.Value, ",softfloat")
		}
	}
	return info
}

// linking reads the ELF program headers: a dynamically linked executable
// names its loader in PT_INTERP, a static one has none.
func linking(exe string) string {
	f, err := elf.Open(exe)
	if err != nil {
		return "unknown"
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return "dynamic"
		}
	}
	return "static"
}

// String is the build line of --version.
func (i Info) String() string {
	cgo := "cgo"
	if !i.CGO {
		cgo = "no cgo"
	}
	s := fmt.Sprintf("%s (commit %s) %s %s, %s, %s", i.Version, i.Commit, i.Go, i.Target, cgo, i.Linking)
	if i.Tags != "" {
		s += ", tags " + i.Tags
	}
	return s
}
