package v4l2_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"flowcam/internal/testutil/need"
	"flowcam/internal/testutil/vm"
)

// TestM2MInAVM runs test/v4l2/m2mcheck against the kernel's virtual
// mem2mem driver vim2m in a qemu guest (the vm package builds vim2m out of
// tree for Debian's kernel, which lacks it): platform/m2m must find it by
// capability but refuse it as a JPEG encoder, and push 200 frames through
// two buffers per queue with every output byte as vim2m converts it.
func TestM2MInAVM(t *testing.T) {
	vm.Require(t)
	bin := filepath.Join(t.TempDir(), "m2mcheck")
	buildPure(t, "./test/v4l2/m2mcheck", bin)
	began := time.Now()
	g := vm.Start(t, vm.Options{Binaries: map[string]string{"/bin/m2mcheck": bin}})
	if g.ModulePath("vim2m") == "" {
		need.Skip(t, "the guest kernel has no vim2m: %s", g.MissingReason("vim2m"))
	}
	t.Logf("kernel %s with vim2m booted in %v", g.KernelVersion(), g.BootTime().Round(time.Millisecond))
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	out, err := g.Run(ctx, "m2mcheck -frames 200 2>&1")
	t.Logf("m2mcheck in the guest:\n%s", out)
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^RESULT (.*)$`).FindStringSubmatch(out)
	if m == nil {
		t.Fatal("m2mcheck printed no RESULT line")
	}
	res := map[string]int{}
	for _, kv := range strings.Fields(m[1]) {
		k, v, _ := strings.Cut(kv, "=")
		if n, err := strconv.Atoi(v); err == nil {
			res[k] = n
		}
	}
	// 200 + 20 + 10 frames and 2 after the refusals, through 2+2 buffers
	// allocated once per negotiation: recycled, never reallocated.
	if res["frames"] != 232 || res["output_buffers"] != 2 || res["capture_buffers"] != 2 ||
		res["negotiations"] != 4 || res["allocations"] != 8 || res["mmaps"] != 16 {
		t.Fatalf("unexpected counters %v", res)
	}
	t.Logf("%d frames through 2+2 buffers (8 REQBUFS, 16 mmaps over 4 negotiations) in %d ms in the guest; whole test %v",
		res["frames"], res["elapsed_ms"], time.Since(began).Round(time.Millisecond))
}

// buildPure builds a pure-Go guest program statically (no cgo, so no libc
// to link).
func buildPure(t *testing.T, pkg, out string) {
	t.Helper()
	cmd := exec.Command("go", "build", "-trimpath", "-o", out, pkg)
	cmd.Dir = "../.."
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building %s: %v\n%s", pkg, err, b)
	}
}
