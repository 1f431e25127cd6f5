package netns

import (
	"flowcam/internal/testutil/need"
	"os/exec"
	"strings"
	"testing"
)

// Require skips t when namespaces are unavailable (not root, no ip netns, no
// nft), except in CI (CI=true), where a silently skipped network test would
// hide a broken runner, so it fails instead.
func Require(t testing.TB) {
	t.Helper()
	err := Available()
	if err == nil {
		return
	}
	need.Skip(t, "network namespace test: %v", err)
}

// NewForTest builds a topology for t (after Require) and registers its
// removal with t.Cleanup, followed by a check that no namespace survived.
func NewForTest(t testing.TB, prefix string) *Topology {
	t.Helper()
	Require(t)
	topo, err := NewTopology(prefix)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := topo.Close(); err != nil {
			t.Errorf("closing topology: %v", err)
		}
		if left := topo.Leftovers(); len(left) > 0 {
			t.Errorf("namespaces left behind: %v", left)
		}
	})
	return topo
}

// Leftovers lists this topology's namespaces that `ip netns list` still shows.
func (t *Topology) Leftovers() []string {
	out, _ := exec.Command("ip", "netns", "list").Output()
	var left []string
	for _, line := range strings.Split(string(out), "\n") {
		name, _, _ := strings.Cut(strings.TrimSpace(line), " ")
		for _, ns := range t.namespaces() {
			if name == ns {
				left = append(left, ns)
			}
		}
	}
	return left
}
