package auth

import (
	"crypto/md5"
	"crypto/sha256"
	"crypto/subtle"
	"hash"
	"strconv"
	"strings"
)

// Status codes Check answers with (the same in RTSP and HTTP).
const (
	StatusUnauthorized = 401
	StatusForbidden    = 403
)

// Check decides whether r may proceed.
func (a *Authenticator) Check(r Request) Decision {
	if a.fails.blocked(r.Remote) {
		return Decision{Status: StatusForbidden, Reason: "address blocked after repeated failed attempts"}
	}
	if r.Authorization == "" {
		return a.challenge(r, false, "no credentials")
	}
	cred, err := ParseAuthorization(r.Authorization)
	if err != nil {
		return a.fail(r, "", err.Error())
	}
	var v verdict
	switch cred.Scheme {
	case "Basic":
		if !r.TLS {
			// Not a wrong password: the client must not send it in clear at all.
			return a.challenge(r, false, "Basic refused without TLS")
		}
		v = a.basic(cred)
	default:
		v = a.digest(r, cred)
	}
	switch {
	case v.stale:
		return a.challenge(r, true, "stale nonce")
	case !v.ok:
		return a.fail(r, v.user, v.reason)
	case !a.users[v.user].may(r.Path):
		a.log.Warn("access denied", "remote", r.Remote.String(), "user", v.user, "path", r.Path)
		return Decision{User: v.user, Status: StatusForbidden, Reason: "user may not watch " + r.Path}
	}
	return Decision{User: v.user}
}

type verdict struct {
	user   string
	ok     bool
	stale  bool
	reason string
}

func (a *Authenticator) basic(c Credentials) verdict {
	u, known := a.users[c.User]
	want := u.SHA256
	if !known {
		want = strings.Repeat("0", 2*sha256.Size) // same work for unknown users
	}
	got := digestHash(sha256.New(), c.User, a.cfg.Realm, c.Pass)
	if subtle.ConstantTimeCompare([]byte(got), []byte(want)) != 1 || !known {
		return verdict{user: c.User, reason: "wrong user or password (Basic)"}
	}
	return verdict{user: c.User, ok: true}
}

func (a *Authenticator) digest(r Request, c Credentials) verdict {
	p := c.Params
	name := p["username"]
	u, known := a.users[name]
	newHash, ha1 := hashFor(p["algorithm"], u)
	switch {
	case newHash == nil:
		return verdict{user: name, reason: "unsupported algorithm " + strconv.Quote(p["algorithm"])}
	case p["realm"] != a.cfg.Realm:
		return verdict{user: name, reason: "wrong realm"}
	case p["uri"] != r.URI:
		return verdict{user: name, reason: "digest uri does not match the request"}
	}
	valid, stale := a.nonces.check(p["nonce"], binding(r))
	if !valid {
		return verdict{user: name, reason: "nonce not issued to this connection"}
	}
	qop, nc := p["qop"], uint64(0)
	switch qop {
	case "auth":
		var err error
		if nc, err = strconv.ParseUint(p["nc"], 16, 32); err != nil || len(p["nc"]) != 8 || p["cnonce"] == "" {
			return verdict{user: name, reason: "qop=auth without a valid nc and cnonce"}
		}
	case "":
		if r.Binding == "" {
			return verdict{user: name, reason: "qop=auth is required here"}
		}
	default:
		return verdict{user: name, reason: "unsupported qop " + strconv.Quote(qop)}
	}
	if !known {
		ha1 = strings.Repeat("0", 2*newHash().Size()) // same work for unknown users
	}
	ha2 := digestHash(newHash(), r.Method, p["uri"])
	parts := []string{ha1, p["nonce"], ha2}
	if qop == "auth" {
		parts = []string{ha1, p["nonce"], p["nc"], p["cnonce"], qop, ha2}
	}
	want := digestHash(newHash(), parts...)
	if subtle.ConstantTimeCompare([]byte(want), []byte(strings.ToLower(p["response"]))) != 1 || !known {
		return verdict{user: name, reason: "wrong user or password"}
	}
	if stale {
		return verdict{user: name, stale: true}
	}
	if qop == "auth" && !a.nonces.count(p["nonce"], nc) {
		return verdict{user: name, reason: "replayed request (nonce count did not increase)"}
	}
	return verdict{user: name, ok: true}
}

func hashFor(alg string, u User) (func() hash.Hash, string) {
	switch strings.ToUpper(alg) {
	case "", "MD5":
		return md5.New, u.MD5
	case "SHA-256":
		return sha256.New, u.SHA256
	}
	return nil, ""
}

func binding(r Request) string { return r.Remote.String() + "|" + r.Binding }

// challenge asks for credentials: SHA-256 first (RFC 7616 lists the
// preferred one first), MD5 last because ffmpeg and GStreamer keep only the
// last Digest challenge they read and know only MD5; Basic only over TLS.
func (a *Authenticator) challenge(r Request, stale bool, reason string) Decision {
	nonce := a.nonces.issue(binding(r))
	common := "realm=" + quote(a.cfg.Realm) + `, qop="auth", nonce=` + quote(nonce)
	if stale {
		common += ", stale=true"
	}
	ch := []string{"Digest " + common + ", algorithm=SHA-256", "Digest " + common + ", algorithm=MD5"}
	if r.TLS {
		ch = append(ch, "Basic realm="+quote(a.cfg.Realm))
	}
	return Decision{Status: StatusUnauthorized, Challenges: ch, Reason: reason}
}

// fail counts a wrong answer against the address, logs it, and blocks the
// address once it has used up its attempts.
func (a *Authenticator) fail(r Request, user, reason string) Decision {
	n := a.fails.add(r.Remote)
	a.log.Warn("authentication failed", "remote", r.Remote.String(), "user", user, "reason", reason, "failures", n)
	if n >= a.cfg.MaxFailures {
		a.log.Warn("address blocked after repeated failed attempts", "remote", r.Remote.String(),
			"for", a.cfg.FailureWindow.String())
		return Decision{Status: StatusForbidden, Reason: reason}
	}
	return a.challenge(r, false, reason)
}
