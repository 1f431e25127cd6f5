package daemon

import (
	"os"
	"path/filepath"
	"testing"
)

// StartConfig is Start for a test: the daemon (Binary) runs with config
// written to a flowcamd.yaml of its own and args, and stops when t ends.
// Any failure ends t.
func StartConfig(t testing.TB, config string, args ...string) *Daemon {
	t.Helper()
	dir := t.TempDir()
	bin, err := Binary(dir)
	if err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(dir, "flowcamd.yaml")
	if err := os.WriteFile(conf, []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	d, err := Start(bin, append([]string{"--config", conf}, args...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Stop() })
	return d
}
