package selfsigned

import (
	"crypto/x509"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestGenerateOnceThenLoad(t *testing.T) {
	dir := t.TempDir()
	cert, key := filepath.Join(dir, "tls", "rtsps.crt"), filepath.Join(dir, "tls", "rtsps.key")
	c, made, err := Load(cert, key, true, []string{"127.0.0.1", "cam.local"})
	if err != nil || !made {
		t.Fatalf("first start: made=%v err=%v", made, err)
	}
	leaf, err := x509.ParseCertificate(c.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := leaf.VerifyHostname("cam.local"); err != nil {
		t.Error(err)
	}
	if err := leaf.VerifyHostname("127.0.0.1"); err != nil {
		t.Error(err)
	}
	if st, _ := os.Stat(key); st.Mode().Perm() != 0o600 {
		t.Errorf("key mode %v", st.Mode().Perm())
	}
	again, made, err := Load(cert, key, true, nil)
	if err != nil || made || string(again.Certificate[0]) != string(c.Certificate[0]) {
		t.Fatalf("second start must load the same pair: made=%v err=%v", made, err)
	}
}

func TestErrorsNameTheFiles(t *testing.T) {
	dir := t.TempDir()
	cert, key := filepath.Join(dir, "a.crt"), filepath.Join(dir, "a.key")
	if _, _, err := Load(cert, key, false, nil); err == nil || !contains(err.Error(), cert) {
		t.Errorf("missing files without generate: %v", err)
	}
	os.WriteFile(cert, []byte("not pem"), 0o644)
	if _, _, err := Load(cert, key, true, nil); err == nil || !contains(err.Error(), cert) {
		t.Errorf("one file present (never overwritten): %v", err)
	}
	if b, _ := os.ReadFile(cert); string(b) != "not pem" {
		t.Error("an existing certificate was overwritten")
	}
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }
