// Package golden compares what a test made with what was recorded before:
// protocol bytes as hex written into the test itself, longer texts in
// files under testdata. Recorded output is what a reviewer reads when a
// wire format or a metric changes, so a test run with -update prints or
// rewrites it instead of comparing, and the diff shows in review.
package golden

import (
	"bytes"
	"encoding/hex"
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "print recorded bytes and rewrite golden files instead of comparing")

// Hex fails the test unless got is the bytes that want spells in hex.
// With -update it logs got, to review and paste into the test.
func Hex(t testing.TB, name string, got []byte, want string) {
	t.Helper()
	if *update {
		t.Logf("%s: %x", name, got)
		return
	}
	w, err := hex.DecodeString(want)
	if err != nil {
		t.Fatalf("%s: recorded hex: %v", name, err)
	}
	if !bytes.Equal(got, w) {
		t.Fatalf("%s bytes changed:\n got %x\nwant %x", name, got, w)
	}
}

// File fails the test unless got equals the file at path. With -update it
// writes got there.
func File(t testing.TB, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run the test with -update to record it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s changed (run the test with -update to record the new output):\n%s", path, lineDiff(want, got))
	}
}

// lineDiff lists the lines only one side has, enough to see a renamed or
// dropped line without an external diff tool.
func lineDiff(want, got []byte) string {
	count := map[string]int{}
	for _, l := range bytes.Split(want, []byte("\n")) {
		count[string(l)]++
	}
	var b bytes.Buffer
	for _, l := range bytes.Split(got, []byte("\n")) {
		if count[string(l)] > 0 {
			count[string(l)]--
			continue
		}
		b.WriteString("+ " + string(l) + "\n")
	}
	for _, l := range bytes.Split(want, []byte("\n")) {
		if count[string(l)] > 0 {
			count[string(l)]--
			b.WriteString("- " + string(l) + "\n")
		}
	}
	return b.String()
}
