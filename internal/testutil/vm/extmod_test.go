package vm

import (
	"slices"
	"testing"
)

func TestKernelSeries(t *testing.T) {
	cases := []struct{ version, want string }{
		{"6.1.0-56-amd64", "6.1"},
		{"6.12.38+deb12-amd64", "6.12"}, // bookworm-backports names
		{"6.12.0-0.deb12.1-amd64", "6.12"},
		{"amd64", ""},
	}
	for _, c := range cases {
		got, err := kernelSeries(c.version)
		if got != c.want || (err != nil) != (c.want == "") {
			t.Errorf("kernelSeries(%q) = %q, %v; want %q", c.version, got, err, c.want)
		}
	}
}

func TestParseHeaderDepends(t *testing.T) {
	// apt-cache depends linux-headers-6.1.0-56-amd64 on Debian 12.
	out := `linux-headers-6.1.0-56-amd64
  Depends: linux-headers-6.1.0-56-common
  Depends: linux-kbuild-6.1
  Depends: linux-compiler-gcc-12-x86
`
	pkgs, cc, err := parseHeaderDepends("linux-headers-6.1.0-56-amd64", out)
	want := []string{"linux-headers-6.1.0-56-amd64", "linux-headers-6.1.0-56-common", "linux-kbuild-6.1"}
	if err != nil || !slices.Equal(pkgs, want) || cc != "gcc-12" {
		t.Fatalf("got %v %q %v, want %v gcc-12", pkgs, cc, err, want)
	}
	if _, _, err := parseHeaderDepends("linux-headers-x", "linux-headers-x\n"); err == nil {
		t.Fatal("no dependencies: want an error")
	}
}

func TestKbuild(t *testing.T) {
	got := kbuild(append(outOfTree["vim2m"], outOfTree["vimc"]...))
	want := "obj-m += v4l2-mem2mem.o\nobj-m += vim2m.o\nobj-m += vimc.o\n" +
		"vimc-y := vimc-core.o vimc-common.o vimc-streamer.o vimc-capture.o vimc-debayer.o vimc-scaler.o vimc-sensor.o vimc-lens.o\n"
	if got != want {
		t.Fatalf("Kbuild:\n%s\nwant:\n%s", got, want)
	}
}
