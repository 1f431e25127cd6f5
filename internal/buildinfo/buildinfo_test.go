package buildinfo

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"flowcam/internal/testutil/need"
)

// TestReadBuiltBinaries builds a tiny program both ways and checks that what
// Read reports matches how it was built, so --version cannot claim a static
// or cgo build it is not.
func TestReadBuiltBinaries(t *testing.T) {
	if testing.Short() {
		t.Skip("builds binaries") // -short asked for quick tests: not a missing prerequisite
	}
	dir := t.TempDir()
	main := filepath.Join(dir, "main.go")
	if err := os.WriteFile(main, []byte("package main\nimport _ \"os/user\"\nfunc main() {}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, cgo, tags string
		wantCGO         bool
		wantLinking     string
	}{
		{"pure-go", "0", "netgo", false, "static"},
		{"cgo", "1", "", true, "dynamic"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.cgo == "1" {
				need.Tool(t, "gcc") // for the cgo build
			}
			out := filepath.Join(dir, c.name)
			cmd := exec.Command("go", "build", "-tags="+c.tags, "-o", out, main)
			cmd.Dir = dir
			cmd.Env = append(os.Environ(), "CGO_ENABLED="+c.cgo, "GO111MODULE=off")
			if b, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("go build: %v\n%s", err, b)
			}
			got := read(out)
			if got.CGO != c.wantCGO || got.Linking != c.wantLinking || got.Tags != c.tags {
				t.Errorf("read = %+v, want cgo %v, linking %s, tags %q", got, c.wantCGO, c.wantLinking, c.tags)
			}
			if !strings.HasPrefix(got.Target, runtime.GOOS+"/"+runtime.GOARCH) {
				t.Errorf("target %q", got.Target)
			}
		})
	}
}

func TestReadMissingExecutable(t *testing.T) {
	got := read(filepath.Join(t.TempDir(), "gone"))
	if got.Linking != "unknown" || got.Version != version {
		t.Errorf("read(missing) = %+v", got)
	}
	if s := got.String(); !strings.Contains(s, "unknown") {
		t.Errorf("String() = %q", s)
	}
}
