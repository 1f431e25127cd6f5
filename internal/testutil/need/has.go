package need

import (
	"os"
	"os/exec"
	"testing"
)

// Has reports whether the named program is on PATH, for a test that runs
// without it but covers more with it (fuzz seeds a tool makes, say). In
// CI, where every tool is installed, a missing one fails t, as Tool does.
func Has(t testing.TB, name string) bool {
	t.Helper()
	if _, err := exec.LookPath(name); err == nil {
		return true
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("cannot run in CI: %s is not installed (run .ci/deps test)", name)
	}
	t.Logf("%s is not installed: doing without it (run .ci/deps test)", name)
	return false
}
