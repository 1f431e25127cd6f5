package auth

import (
	"reflect"
	"testing"
)

// FuzzParseAuthorization: any header value parses or fails cleanly, and
// what parses survives a round trip through String.
func FuzzParseAuthorization(f *testing.F) {
	for _, s := range []string{
		`Digest username="alice", realm="flowcam", nonce="abc", uri="rtsp://h/cam", response="0123", algorithm=MD5, qop=auth, nc=00000001, cnonce="x"`,
		`Digest username="a\"b", realm="r"`,
		`Basic YWxpY2U6czNjcmV0`,
		`Digest realm="flowcam", qop="auth", nonce="n", algorithm=SHA-256, stale=true`,
		`digest   username = x ,, realm=y`,
		``, `Digest`, `Basic`, `Bearer x`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		c, err := ParseAuthorization(v)
		if err != nil {
			return
		}
		if len(c.String()) > maxHeader {
			return // quoting every value may push a maximal header past the cap
		}
		again, err := ParseAuthorization(c.String())
		if err != nil {
			t.Fatalf("%q -> %q does not parse: %v", v, c.String(), err)
		}
		if !reflect.DeepEqual(c, again) && !(len(c.Params) == 0 && len(again.Params) == 0 && c.Scheme == again.Scheme) {
			t.Fatalf("round trip changed %#v into %#v", c, again)
		}
	})
}
