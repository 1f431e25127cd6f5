package auth

import (
	"crypto/sha1"
	"encoding/base64"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// token makes a client's UsernameToken for password at created.
func token(user, password, nonce string, created time.Time) UsernameToken {
	c := created.UTC().Format(time.RFC3339Nano)
	h := sha1.New()
	h.Write([]byte(nonce))
	h.Write([]byte(c))
	h.Write([]byte(password))
	return UsernameToken{User: user, Digest: base64.StdEncoding.EncodeToString(h.Sum(nil)),
		Nonce: base64.StdEncoding.EncodeToString([]byte(nonce)), Created: c}
}

func TestCheckToken(t *testing.T) {
	now := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	sha, md := HashPassword("hashonly", "flowcam", "pw")
	a, err := New(Config{Realm: "flowcam", Now: func() time.Time { return now }, MaxFailures: 100, Users: []User{
		{Name: "nvr", Password: "s3cret"},
		{Name: "yard", Password: "hunter2", Paths: []string{"/yard"}},
		{Name: "hashonly", SHA256: sha, MD5: md},
	}})
	if err != nil {
		t.Fatal(err)
	}
	remote := netip.MustParseAddr("192.0.2.7")
	for _, c := range []struct {
		name   string
		tok    UsernameToken
		path   string
		status int
		reason string
	}{
		{"right", token("nvr", "s3cret", "nonce-0001", now), "", 0, ""},
		{"client clock a minute off", token("nvr", "s3cret", "nonce-0002", now.Add(-time.Minute)), "/cam", 0, ""},
		{"replayed", token("nvr", "s3cret", "nonce-0001", now), "", 401, "replayed"},
		{"wrong password", token("nvr", "guess", "nonce-0003", now), "", 401, "wrong user or password"},
		{"unknown user", token("nobody", "s3cret", "nonce-0004", now), "", 401, "wrong user or password"},
		{"stale", token("nvr", "s3cret", "nonce-0005", now.Add(-time.Hour)), "", 401, "5 minutes"},
		{"hashes only", token("hashonly", "pw", "nonce-0006", now), "", 401, "auth.users[].password"},
		{"other path", token("yard", "hunter2", "nonce-0007", now), "/cam", 403, "may not watch"},
		{"own path", token("yard", "hunter2", "nonce-0008", now), "/yard", 0, ""},
		{"bad nonce", UsernameToken{User: "nvr", Digest: "x", Nonce: "!!", Created: now.Format(time.RFC3339)}, "", 401, "Base64"},
		{"no credentials", UsernameToken{}, "", 401, "no credentials"},
	} {
		d := a.CheckToken(remote, c.tok, c.path)
		if d.Status != c.status || !strings.Contains(d.Reason, c.reason) {
			t.Errorf("%s: %+v, want status %d and %q", c.name, d, c.status, c.reason)
		}
	}
	// The same nonce spelled another way (a line break inside its
	// Base64) is still a replay.
	tok := token("nvr", "s3cret", "nonce-0009", now)
	a.CheckToken(remote, tok, "")
	tok.Nonce = tok.Nonce[:4] + "\n" + tok.Nonce[4:]
	if d := a.CheckToken(remote, tok, ""); d.OK() {
		t.Error("a nonce spelled differently was accepted twice")
	}
	if _, err := New(Config{Realm: "flowcam", Users: []User{{Name: "x", SHA256: sha, MD5: md, Password: "other"}}}); err == nil {
		t.Error("a password that does not match its hashes was accepted")
	}
}

// TestTokenOfHashOnlyUserBlocksNothing: an NVR set up with a user that has
// hashes only is refused by ONVIF, but its address stays free for RTSP.
func TestTokenOfHashOnlyUserBlocksNothing(t *testing.T) {
	sha, md := HashPassword("alice", "flowcam", "pw")
	a, err := New(Config{Realm: "flowcam", MaxFailures: 2, Users: []User{{Name: "alice", SHA256: sha, MD5: md}}})
	if err != nil {
		t.Fatal(err)
	}
	remote := netip.MustParseAddr("192.0.2.8")
	for i := range 5 {
		if d := a.CheckToken(remote, token("alice", "pw", fmt.Sprintf("nonce-%04d", i), time.Now()), ""); d.Status != 401 {
			t.Fatalf("attempt %d: %+v", i, d)
		}
	}
	if a.fails.blocked(remote) {
		t.Error("the address was blocked for a configuration gap")
	}
}
