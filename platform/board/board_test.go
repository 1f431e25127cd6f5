package board

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
	"unicode/utf8"
)

// TestDetectFixtures replays trees recorded from real boards, laid out as
// they appear under "/", so the same paths Local uses are exercised.
func TestDetectFixtures(t *testing.T) {
	tests := []struct {
		dir  string
		want Info
	}{
		{"rpi4", Info{RaspberryPi, "Raspberry Pi 4 Model B Rev 1.4", "brcm,bcm2711"}},
		{"rpi5", Info{RaspberryPi, "Raspberry Pi 5 Model B Rev 1.0", "brcm,bcm2712"}},
		{"rpi-zero-2-w", Info{RaspberryPi, "Raspberry Pi Zero 2 W Rev 1.0", "brcm,bcm2837"}},
		{"jetson-nano", Info{Jetson, "NVIDIA Jetson Nano Developer Kit", "nvidia,tegra210"}},
		{"jetson-orin-nano", Info{Jetson, "NVIDIA Jetson Orin Nano Developer Kit", "nvidia,tegra234"}},
		{"jetson-release-only", Info{Jetson, "unknown", ""}},
		{"rock-5b", Info{Generic, "Radxa ROCK 5B", "rockchip,rk3588"}},
		{"x86-pc", Info{Generic, "Dell Inc. OptiPlex 7090", ""}},
		{"sysfs-fallback", Info{RaspberryPi, "Raspberry Pi 3 Model B Plus Rev 1.3", "brcm,bcm2837"}},
		{"empty", Info{Generic, "unknown", ""}},
	}
	for _, tt := range tests {
		t.Run(tt.dir, func(t *testing.T) {
			got := Detect(os.DirFS(filepath.Join("testdata", tt.dir)))
			if got != tt.want {
				t.Errorf("Detect = %#v, want %#v", got, tt.want)
			}
		})
	}
}

// TestFixturesKeepNULs guards the fixtures themselves: an editor that strips
// the NUL terminators would leave the tests passing on unrealistic input.
func TestFixturesKeepNULs(t *testing.T) {
	err := filepath.WalkDir("testdata", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !isDeviceTreeFixture(path) {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if !bytes.HasSuffix(b, []byte{0}) {
			t.Errorf("%s: lost its NUL terminator: %q", path, b)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func isDeviceTreeFixture(path string) bool {
	path = filepath.ToSlash(path)
	return strings.Contains(path, "/proc/device-tree/") ||
		strings.Contains(path, "/sys/firmware/devicetree/base/")
}

// TestDetectEdgeCases covers layouts that are legal but not recorded from a
// board: precedence between sources and malformed-but-meaningful content.
func TestDetectEdgeCases(t *testing.T) {
	tests := []struct {
		name string
		fsys fstest.MapFS
		want Info
	}{
		{
			name: "pi device tree beats l4t container release file",
			fsys: fstest.MapFS{
				"proc/device-tree/model":      file("Raspberry Pi 4 Model B Rev 1.4\x00"),
				"proc/device-tree/compatible": file("raspberrypi,4-model-b\x00brcm,bcm2711\x00"),
				"etc/nv_tegra_release":        file("# R32 (release)\n"),
			},
			want: Info{RaspberryPi, "Raspberry Pi 4 Model B Rev 1.4", "brcm,bcm2711"},
		},
		{
			name: "pi recognised by model alone",
			fsys: fstest.MapFS{
				"proc/device-tree/model": file("Raspberry Pi Compute Module 4 Rev 1.0\x00"),
			},
			want: Info{RaspberryPi, "Raspberry Pi Compute Module 4 Rev 1.0", ""},
		},
		{
			name: "pi recognised by compatible alone",
			fsys: fstest.MapFS{
				"proc/device-tree/compatible": file("raspberrypi,4-model-b\x00brcm,bcm2711\x00"),
			},
			want: Info{RaspberryPi, "unknown", "brcm,bcm2711"},
		},
		{
			name: "tegra entry preferred over a trailing entry",
			fsys: fstest.MapFS{
				"proc/device-tree/model":      file("NVIDIA Jetson Nano Developer Kit\x00"),
				"proc/device-tree/compatible": file("nvidia,jetson-nano\x00nvidia,tegra210\x00nvidia,p3450-0000\x00"),
			},
			want: Info{Jetson, "NVIDIA Jetson Nano Developer Kit", "nvidia,tegra210"},
		},
		{
			name: "device tree model wins over DMI",
			fsys: fstest.MapFS{
				"proc/device-tree/model":      file("NVIDIA Jetson Orin Nano Developer Kit\x00"),
				"proc/device-tree/compatible": file("nvidia,p3767-0005\x00nvidia,tegra234\x00"),
				"sys/class/dmi/id/sys_vendor": file("NVIDIA\n"),
			},
			want: Info{Jetson, "NVIDIA Jetson Orin Nano Developer Kit", "nvidia,tegra234"},
		},
		{
			name: "empty proc model falls back to sysfs",
			fsys: fstest.MapFS{
				"proc/device-tree/model":                  file(""),
				"sys/firmware/devicetree/base/model":      file("Radxa ROCK 5B\x00"),
				"sys/firmware/devicetree/base/compatible": file("radxa,rock-5b\x00rockchip,rk3588\x00"),
			},
			want: Info{Generic, "Radxa ROCK 5B", "rockchip,rk3588"},
		},
		{
			name: "model that is a directory is ignored",
			fsys: fstest.MapFS{
				"proc/device-tree/model/oops":        file("x"),
				"sys/firmware/devicetree/base/model": file("Radxa ROCK 5B\x00"),
			},
			want: Info{Generic, "Radxa ROCK 5B", ""},
		},
		{
			name: "DMI vendor only",
			fsys: fstest.MapFS{
				"sys/class/dmi/id/sys_vendor": file("QEMU\n"),
			},
			want: Info{Generic, "QEMU", ""},
		},
		{
			name: "doubled and padded NULs",
			fsys: fstest.MapFS{
				"proc/device-tree/model":      file("\x00 Raspberry Pi 5 Model B Rev 1.0 \x00\x00"),
				"proc/device-tree/compatible": file("\x00raspberrypi,5-model-b\x00\x00brcm,bcm2712\x00\x00\x00"),
			},
			want: Info{RaspberryPi, "Raspberry Pi 5 Model B Rev 1.0", "brcm,bcm2712"},
		},
		{
			name: "NUL-only and blank files",
			fsys: fstest.MapFS{
				"proc/device-tree/model":        file("\x00\x00\x00"),
				"proc/device-tree/compatible":   file(" \n\x00"),
				"sys/class/dmi/id/sys_vendor":   file("\n"),
				"sys/class/dmi/id/product_name": file(""),
			},
			want: Info{Generic, "unknown", ""},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Detect(tt.fsys); got != tt.want {
				t.Errorf("Detect = %#v, want %#v", got, tt.want)
			}
		})
	}
}

// TestDetectHostileContent only asserts invariants: the exact result for
// garbage does not matter, but it must not panic, must stay bounded, and must
// be safe to print on one log line.
func TestDetectHostileContent(t *testing.T) {
	binary := make([]byte, 3*maxRead)
	for i := range binary {
		binary[i] = byte(i * 131)
	}
	huge := bytes.Repeat([]byte("A"), 1<<20)
	hugeList := bytes.Repeat([]byte("vendor,thing\x00"), 1<<16)

	tests := []struct {
		name string
		fsys fstest.MapFS
	}{
		{"binary model", fstest.MapFS{"proc/device-tree/model": {Data: binary}}},
		{"binary compatible", fstest.MapFS{"proc/device-tree/compatible": {Data: binary}}},
		{"binary DMI", fstest.MapFS{
			"sys/class/dmi/id/sys_vendor":   {Data: binary},
			"sys/class/dmi/id/product_name": {Data: binary},
		}},
		{"huge model", fstest.MapFS{"proc/device-tree/model": {Data: huge}}},
		{"huge compatible", fstest.MapFS{"proc/device-tree/compatible": {Data: hugeList}}},
		{"huge DMI", fstest.MapFS{
			"sys/class/dmi/id/sys_vendor":   {Data: huge},
			"sys/class/dmi/id/product_name": {Data: huge},
		}},
		{"invalid UTF-8 only", fstest.MapFS{"proc/device-tree/model": file("\xff\xfe\xc3\x00")}},
		{"escape sequences", fstest.MapFS{"proc/device-tree/model": file("\x1b[31mred\r\nline\x00")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Detect(tt.fsys)
			checkPrintable(t, got)
			// Two DMI files may each contribute up to maxRead plus a separator.
			if len(got.Model) > 2*maxRead+1 || len(got.SoC) > maxRead {
				t.Errorf("unbounded result: len(Model)=%d len(SoC)=%d", len(got.Model), len(got.SoC))
			}
		})
	}
}

func checkPrintable(t *testing.T, got Info) {
	t.Helper()
	if got.Model == "" {
		t.Error("Model is empty")
	}
	for _, s := range []string{got.Model, got.SoC, got.String()} {
		if !utf8.ValidString(s) || strings.ContainsAny(s, "\x00\x1b\r\n\t") {
			t.Errorf("not a clean single line: %q", s)
		}
	}
}

func TestDetectNilFS(t *testing.T) {
	if got, want := Detect(nil), (Info{Generic, "unknown", ""}); got != want {
		t.Errorf("Detect(nil) = %#v, want %#v", got, want)
	}
}

// TestLocal is a smoke test: whatever machine runs the tests, the answer must
// be usable.
func TestLocal(t *testing.T) {
	got := Local()
	checkPrintable(t, got)
	t.Logf("local board: %v", got)
}

func TestKindString(t *testing.T) {
	tests := []struct {
		kind Kind
		want string
	}{
		{Generic, "generic"},
		{RaspberryPi, "raspberrypi"},
		{Jetson, "jetson"},
		{Kind(42), "Kind(42)"},
	}
	for _, tt := range tests {
		if got := tt.kind.String(); got != tt.want {
			t.Errorf("Kind(%d).String() = %q, want %q", int(tt.kind), got, tt.want)
		}
	}
}

func TestInfoString(t *testing.T) {
	tests := []struct {
		info Info
		want string
	}{
		{
			Info{RaspberryPi, "Raspberry Pi 4 Model B Rev 1.4", "brcm,bcm2711"},
			"raspberrypi: Raspberry Pi 4 Model B Rev 1.4 (brcm,bcm2711)",
		},
		{
			Info{Generic, "Dell Inc. OptiPlex 7090", ""},
			"generic: Dell Inc. OptiPlex 7090",
		},
	}
	for _, tt := range tests {
		if got := tt.info.String(); got != tt.want {
			t.Errorf("String() = %q, want %q", got, tt.want)
		}
	}
}

func file(s string) *fstest.MapFile { return &fstest.MapFile{Data: []byte(s)} }
