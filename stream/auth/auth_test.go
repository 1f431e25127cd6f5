package auth

import (
	"crypto/md5"
	"crypto/sha256"
	"fmt"
	"hash"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"
)

// clock is a settable time source.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

func newTest(t *testing.T) (*Authenticator, *clock) {
	t.Helper()
	clk := &clock{t: time.Unix(1_700_000_000, 0)}
	aliceSHA, aliceMD5 := HashPassword("alice", "flowcam", "s3cret")
	bobSHA, bobMD5 := HashPassword("bob", "flowcam", "hunter2")
	a, err := New(Config{Realm: "flowcam", Now: clk.now, Users: []User{
		{Name: "alice", SHA256: aliceSHA, MD5: aliceMD5},
		{Name: "bob", SHA256: bobSHA, MD5: bobMD5, Paths: []string{"/cam"}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	return a, clk
}

// client answers a challenge the way a player does.
type client struct {
	user, pass, alg, qop string
	nc                   int
}

func (c *client) answer(t *testing.T, challenges []string, method, uri string) string {
	t.Helper()
	var p map[string]string
	for _, ch := range challenges {
		cr, err := ParseAuthorization(ch)
		if err != nil {
			t.Fatalf("challenge %q: %v", ch, err)
		}
		if cr.Scheme == "Digest" && strings.EqualFold(cr.Params["algorithm"], c.alg) {
			p = cr.Params
		}
	}
	if p == nil {
		t.Fatalf("no %s challenge in %q", c.alg, challenges)
	}
	h := map[string]func() hash.Hash{"MD5": md5.New, "SHA-256": sha256.New}[c.alg]
	ha1 := digestHash(h(), c.user, p["realm"], c.pass)
	ha2 := digestHash(h(), method, uri)
	out := map[string]string{"username": c.user, "realm": p["realm"], "nonce": p["nonce"], "uri": uri, "algorithm": c.alg}
	if c.qop == "auth" {
		c.nc++
		nc := fmt.Sprintf("%08x", c.nc)
		out["qop"], out["nc"], out["cnonce"] = "auth", nc, "0a4f113b"
		out["response"] = digestHash(h(), ha1, p["nonce"], nc, "0a4f113b", "auth", ha2)
	} else {
		out["response"] = digestHash(h(), ha1, p["nonce"], ha2)
	}
	return Credentials{Scheme: "Digest", Params: out}.String()
}

var (
	home  = netip.MustParseAddr("192.0.2.10")
	other = netip.MustParseAddr("192.0.2.99")
)

func req(method, path, authz string) Request {
	return Request{Method: method, URI: "rtsp://cam.local:8554" + path, Path: path, Authorization: authz,
		Remote: home, Binding: "conn-1"}
}

func TestDigestAnswers(t *testing.T) {
	cases := []struct {
		name string
		c    client
		mod  func(*Request)
		want int
	}{
		{"MD5 with qop", client{user: "alice", pass: "s3cret", alg: "MD5", qop: "auth"}, nil, 0},
		{"SHA-256 with qop", client{user: "alice", pass: "s3cret", alg: "SHA-256", qop: "auth"}, nil, 0},
		{"MD5 without qop on a connection (GStreamer)", client{user: "alice", pass: "s3cret", alg: "MD5"}, nil, 0},
		{"without qop over HTTP", client{user: "alice", pass: "s3cret", alg: "MD5"}, func(r *Request) { r.Binding = "" }, 401},
		{"wrong password", client{user: "alice", pass: "guess", alg: "MD5", qop: "auth"}, nil, 401},
		{"unknown user", client{user: "mallory", pass: "s3cret", alg: "SHA-256", qop: "auth"}, nil, 401},
		{"path not allowed", client{user: "bob", pass: "hunter2", alg: "MD5", qop: "auth"}, func(r *Request) { r.Path = "/yard" }, 403},
		{"path allowed", client{user: "bob", pass: "hunter2", alg: "MD5", qop: "auth"}, nil, 0},
		{"nonce from another connection", client{user: "alice", pass: "s3cret", alg: "MD5", qop: "auth"}, func(r *Request) { r.Binding = "conn-2" }, 401},
		{"nonce from another address", client{user: "alice", pass: "s3cret", alg: "MD5", qop: "auth"}, func(r *Request) { r.Remote = other }, 401},
		{"uri of another request", client{user: "alice", pass: "s3cret", alg: "MD5", qop: "auth"}, func(r *Request) { r.URI += "/trackID=0" }, 401},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a, _ := newTest(t)
			first := a.Check(req("DESCRIBE", "/cam", ""))
			if first.Status != 401 || len(first.Challenges) != 2 {
				t.Fatalf("without credentials: %+v", first)
			}
			r := req("DESCRIBE", "/cam", c.c.answer(t, first.Challenges, "DESCRIBE", "rtsp://cam.local:8554/cam"))
			if c.mod != nil {
				c.mod(&r)
			}
			if d := a.Check(r); d.Status != c.want {
				t.Fatalf("status %d (%s), want %d", d.Status, d.Reason, c.want)
			}
		})
	}
}

func TestReplayedNonceCount(t *testing.T) {
	a, _ := newTest(t)
	c := client{user: "alice", pass: "s3cret", alg: "SHA-256", qop: "auth"}
	ch := a.Check(req("DESCRIBE", "/cam", "")).Challenges
	first := c.answer(t, ch, "DESCRIBE", "rtsp://cam.local:8554/cam")
	if d := a.Check(req("DESCRIBE", "/cam", first)); !d.OK() {
		t.Fatalf("first use: %+v", d)
	}
	if d := a.Check(req("DESCRIBE", "/cam", first)); d.Status != 401 || !strings.Contains(d.Reason, "replayed") {
		t.Fatalf("replay: %+v", d)
	}
	next := c.answer(t, ch, "DESCRIBE", "rtsp://cam.local:8554/cam") // nc 2 on the same nonce
	if d := a.Check(req("DESCRIBE", "/cam", next)); !d.OK() {
		t.Fatalf("the next count on the same nonce: %+v", d)
	}
}

func TestStaleNonceAsksAgainWithoutCounting(t *testing.T) {
	a, clk := newTest(t)
	c := client{user: "alice", pass: "s3cret", alg: "MD5", qop: "auth"}
	ch := a.Check(req("DESCRIBE", "/cam", "")).Challenges
	clk.add(6 * time.Minute)
	for i := 0; i < 10; i++ { // more than MaxFailures: stale answers are not failures
		d := a.Check(req("DESCRIBE", "/cam", c.answer(t, ch, "DESCRIBE", "rtsp://cam.local:8554/cam")))
		if d.Status != 401 || !strings.Contains(d.Challenges[0], "stale=true") {
			t.Fatalf("stale answer %d: %+v", i, d)
		}
	}
	fresh := a.Check(req("DESCRIBE", "/cam", "")).Challenges
	if d := a.Check(req("DESCRIBE", "/cam", c.answer(t, fresh, "DESCRIBE", "rtsp://cam.local:8554/cam"))); !d.OK() {
		t.Fatalf("after a fresh challenge: %+v", d)
	}
}

func TestBasicOnlyOverTLS(t *testing.T) {
	a, _ := newTest(t)
	basic := Credentials{Scheme: "Basic", User: "alice", Pass: "s3cret"}.String()
	if d := a.Check(req("DESCRIBE", "/cam", basic)); d.Status != 401 || len(d.Challenges) != 2 {
		t.Fatalf("Basic in clear: %+v", d)
	}
	r := req("DESCRIBE", "/cam", basic)
	r.TLS = true
	if d := a.Check(r); !d.OK() || d.User != "alice" {
		t.Fatalf("Basic over TLS: %+v", d)
	}
	r.Authorization = Credentials{Scheme: "Basic", User: "alice", Pass: "nope"}.String()
	if d := a.Check(r); d.Status != 401 || len(d.Challenges) != 3 {
		t.Fatalf("wrong Basic over TLS: %+v", d)
	}
}

func TestFailuresBlockTheAddress(t *testing.T) {
	a, clk := newTest(t)
	wrong := client{user: "alice", pass: "guess", alg: "MD5", qop: "auth"}
	var d Decision
	for i := 1; i <= 5; i++ {
		ch := a.Check(req("DESCRIBE", "/cam", "")).Challenges
		d = a.Check(req("DESCRIBE", "/cam", wrong.answer(t, ch, "DESCRIBE", "rtsp://cam.local:8554/cam")))
	}
	if d.Status != 403 {
		t.Fatalf("fifth failure: %+v", d)
	}
	if d := a.Check(req("DESCRIBE", "/cam", "")); d.Status != 403 {
		t.Fatalf("blocked address asking again: %+v", d)
	}
	r := req("DESCRIBE", "/cam", "")
	r.Remote = other
	if d := a.Check(r); d.Status != 401 {
		t.Fatalf("another address is not blocked: %+v", d)
	}
	clk.add(61 * time.Second)
	right := client{user: "alice", pass: "s3cret", alg: "MD5", qop: "auth"}
	ch := a.Check(req("DESCRIBE", "/cam", "")).Challenges
	if d := a.Check(req("DESCRIBE", "/cam", right.answer(t, ch, "DESCRIBE", "rtsp://cam.local:8554/cam"))); !d.OK() {
		t.Fatalf("after the window: %+v", d)
	}
}

func TestMalformedAuthorizationIsAFailure(t *testing.T) {
	a, _ := newTest(t)
	for _, v := range []string{"Digest", "Bearer abc", "Digest username=", `Digest username="a", username="b"`,
		"Basic !!!", strings.Repeat("x", 5000)} {
		if d := a.Check(req("DESCRIBE", "/cam", v)); d.OK() {
			t.Errorf("%q accepted", v)
		}
	}
}

func TestNewRefusesBadAccounts(t *testing.T) {
	sha, md := HashPassword("alice", "flowcam", "pw")
	for name, users := range map[string][]User{
		"empty name":  {{Name: "", SHA256: sha, MD5: md}},
		"colon":       {{Name: "a:b", SHA256: sha, MD5: md}},
		"short hash":  {{Name: "alice", SHA256: "abcd", MD5: md}},
		"no md5":      {{Name: "alice", SHA256: sha}},
		"duplicate":   {{Name: "alice", SHA256: sha, MD5: md}, {Name: "alice", SHA256: sha, MD5: md}},
		"bad path":    {{Name: "alice", SHA256: sha, MD5: md, Paths: []string{"cam"}}},
		"no accounts": nil,
	} {
		if _, err := New(Config{Realm: "flowcam", Users: users}); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := New(Config{Users: []User{{Name: "alice", SHA256: sha, MD5: md}}}); err == nil {
		t.Error("empty realm accepted")
	}
}

// TestRFC7616Example checks the hashing against the worked example of RFC
// 7616 section 3.9.1 (Mufasa, "Circle of Life"), for both algorithms.
func TestRFC7616Example(t *testing.T) {
	const (
		nonce  = "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v"
		cnonce = "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ"
	)
	sha, md := HashPassword("Mufasa", "http-auth@example.org", "Circle of Life")
	for _, c := range []struct {
		ha1  string
		h    func() hash.Hash
		want string
	}{
		{md, md5.New, "8ca523f5e9506fed4657c9700eebdbec"},
		{sha, sha256.New, "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"},
	} {
		ha2 := digestHash(c.h(), "GET", "/dir/index.html")
		if got := digestHash(c.h(), c.ha1, nonce, "00000001", cnonce, "auth", ha2); got != c.want {
			t.Errorf("response %s, want %s", got, c.want)
		}
	}
}
