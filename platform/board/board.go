// Package board identifies the single-board computer (Raspberry Pi, NVIDIA
// Jetson, or a generic machine) flowcamd runs on, from the device tree and DMI
// files the kernel exposes. It owns only identification; what to do with the
// answer (which camera stack, which encoder) is decided by its callers.
package board

import (
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"unicode"
	"unicode/utf8"
)

// maxRead caps every file read: the files we want are a few dozen bytes, and
// a cap keeps a bogus or hostile mount (or a test fixture) from costing memory.
const maxRead = 4 << 10

// unknownModel is reported rather than "" so logs always show a value.
const unknownModel = "unknown"

// deviceTreeRoots lists where the flattened device tree may be visible.
// /proc/device-tree is normally a symlink to the sysfs copy, but containers
// and minimal images sometimes have only one of the two.
var deviceTreeRoots = []string{
	"proc/device-tree",
	"sys/firmware/devicetree/base",
}

// Kind is the family of board; it decides which hardware paths are worth
// trying, so anything not specially supported is Generic.
type Kind int

const (
	// Generic is the zero value so an unidentified board gets no special
	// treatment.
	Generic Kind = iota
	RaspberryPi
	Jetson
)

func (k Kind) String() string {
	switch k {
	case Generic:
		return "generic"
	case RaspberryPi:
		return "raspberrypi"
	case Jetson:
		return "jetson"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// Info describes the board as far as the kernel tells us.
type Info struct {
	Kind Kind
	// Model is the human-readable model, e.g. "Raspberry Pi 4 Model B Rev 1.4"
	// or, on DMI machines, "<sys_vendor> <product_name>"; never empty.
	Model string
	// SoC is the SoC's device-tree compatible string, e.g. "brcm,bcm2711",
	// or "" when there is no device tree.
	SoC string
}

// String is meant for a single startup log line.
func (i Info) String() string {
	if i.SoC == "" {
		return fmt.Sprintf("%s: %s", i.Kind, i.Model)
	}
	return fmt.Sprintf("%s: %s (%s)", i.Kind, i.Model, i.SoC)
}

// Local identifies the machine this process runs on.
func Local() Info { return Detect(os.DirFS("/")) }

// Detect identifies the board from a filesystem rooted at "/". Taking an
// fs.FS lets tests replay trees recorded on real boards. Unreadable or odd
// files are treated as absent, so Detect always returns a usable Info.
func Detect(fsys fs.FS) Info {
	if fsys == nil {
		return Info{Model: unknownModel}
	}
	model := firstString(readDeviceTree(fsys, "model"))
	compat := splitNUL(readDeviceTree(fsys, "compatible"))
	info := Info{
		Kind:  kindOf(fsys, model, compat),
		Model: model,
		SoC:   socOf(compat),
	}
	if info.Model == "" {
		info.Model = dmiModel(fsys)
	}
	if info.Model == "" {
		info.Model = unknownModel
	}
	return info
}

// kindOf trusts the device tree over nv_tegra_release: the release file
// belongs to the root filesystem, which may be an L4T container image running
// on something else, while the device tree describes the actual hardware.
func kindOf(fsys fs.FS, model string, compat []string) Kind {
	switch {
	case anyHasPrefix(compat, "nvidia,tegra"):
		return Jetson
	case strings.HasPrefix(model, "Raspberry Pi"), anyHasPrefix(compat, "raspberrypi,"):
		return RaspberryPi
	case exists(fsys, "etc/nv_tegra_release"):
		return Jetson
	}
	return Generic
}

// socOf relies on the device-tree convention of listing the most specific
// entry first, so the SoC is usually last. A Tegra entry wins wherever it is
// so a Jetson tree that breaks the convention still reports its SoC.
func socOf(compat []string) string {
	for _, c := range compat {
		if strings.HasPrefix(c, "nvidia,tegra") {
			return c
		}
	}
	if len(compat) == 0 {
		return ""
	}
	return compat[len(compat)-1]
}

// dmiModel covers x86 and UEFI machines, which describe themselves through
// SMBIOS instead of a device tree.
func dmiModel(fsys fs.FS) string {
	var parts []string
	for _, name := range []string{"sys_vendor", "product_name"} {
		if s := firstString(readFile(fsys, "sys/class/dmi/id/"+name)); s != "" {
			parts = append(parts, s)
		}
	}
	return strings.Join(parts, " ")
}

// readDeviceTree returns the first non-empty copy of a device-tree property.
func readDeviceTree(fsys fs.FS, prop string) []byte {
	for _, root := range deviceTreeRoots {
		if b := readFile(fsys, root+"/"+prop); len(b) > 0 {
			return b
		}
	}
	return nil
}

// readFile returns nil on any error, including a partial read, because half
// a property is more misleading than none.
func readFile(fsys fs.FS, name string) []byte {
	f, err := fsys.Open(name)
	if err != nil {
		return nil
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxRead))
	if err != nil {
		return nil
	}
	return b
}

func exists(fsys fs.FS, name string) bool {
	_, err := fs.Stat(fsys, name)
	return err == nil
}

// firstString reads a NUL-terminated property (or a newline-terminated sysfs
// file, which has no NULs) as one string.
func firstString(b []byte) string {
	if s := splitNUL(b); len(s) > 0 {
		return s[0]
	}
	return ""
}

// splitNUL splits a device-tree string list, dropping entries that are empty
// once cleaned so stray or doubled NULs cannot produce blank values.
func splitNUL(b []byte) []string {
	var out []string
	for _, field := range bytes.Split(b, []byte{0}) {
		if s := clean(field); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// clean makes bytes safe to log and compare: invalid UTF-8 and control
// characters are dropped and any whitespace becomes a plain space, so
// garbage cannot inject newlines or terminal escapes into log output.
func clean(b []byte) string {
	s := strings.Map(func(r rune) rune {
		switch {
		case r == utf8.RuneError:
			return -1
		case unicode.IsSpace(r):
			return ' '
		case !unicode.IsPrint(r):
			return -1
		}
		return r
	}, string(b))
	return strings.TrimSpace(s)
}

func anyHasPrefix(list []string, prefix string) bool {
	for _, s := range list {
		if strings.HasPrefix(s, prefix) {
			return true
		}
	}
	return false
}
