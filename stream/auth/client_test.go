package auth

import "testing"

// TestClientAgainstServer: our client's answer to our server's challenge
// is accepted, for each way a challenge list may be ordered.
func TestClientAgainstServer(t *testing.T) {
	a, _ := newTest(t)
	d := a.Check(req("DESCRIBE", "/cam", ""))
	for _, order := range [][]string{d.Challenges, {d.Challenges[1], d.Challenges[0]}} {
		ch, err := ChooseChallenge(order)
		if err != nil || ch.Algorithm != "SHA-256" || !ch.QOP {
			t.Fatalf("chose %+v, %v", ch, err)
		}
	}
	ch, _ := ChooseChallenge(d.Challenges)
	for nc := uint32(1); nc <= 3; nc++ {
		v := ch.Authorization("alice", "s3cret", "DESCRIBE", "rtsp://cam.local:8554/cam", nc, "abc")
		if got := a.Check(req("DESCRIBE", "/cam", v)); !got.OK() {
			t.Fatalf("use %d: %+v", nc, got)
		}
	}
	md5Only, _ := ChooseChallenge(d.Challenges[1:])
	if md5Only.Algorithm != "MD5" {
		t.Fatalf("%+v", md5Only)
	}
	if _, err := ChooseChallenge([]string{`Basic realm="x"`, `Digest realm="x", nonce="n", algorithm=SHA-512-256`}); err == nil {
		t.Error("no answerable challenge, yet one was chosen")
	}
}
