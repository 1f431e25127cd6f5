// Package need skips a test whose outside prerequisite (a tool, root, a
// VM) is missing, except in CI, where a skipped test would hide a broken
// runner: there it fails. CI is detected by the CI environment variable.
package need

import (
	"fmt"
	"os"
	"os/exec"
	"testing"
)

// Skip skips t with the reason, or fails it in CI.
func Skip(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if os.Getenv("CI") != "" {
		t.Fatalf("cannot run in CI: %s", msg)
	}
	t.Skip(msg)
}

// Tool skips (or in CI fails) t unless the named program is on PATH.
func Tool(t testing.TB, name string) {
	t.Helper()
	if _, err := exec.LookPath(name); err != nil {
		Skip(t, "%s is not installed (run .ci/deps test)", name)
	}
}

// Root skips (or in CI fails) t unless it runs as root; what says what
// needs it.
func Root(t testing.TB, what string) {
	t.Helper()
	if os.Geteuid() != 0 {
		Skip(t, "%s needs root", what)
	}
}

// PythonModule skips (or in CI fails) t unless the python interpreter can
// import module.
func PythonModule(t testing.TB, python, module string) {
	t.Helper()
	if err := exec.Command(python, "-c", "import "+module).Run(); err != nil {
		Skip(t, "%s cannot import %s (run .ci/deps test)", python, module)
	}
}
