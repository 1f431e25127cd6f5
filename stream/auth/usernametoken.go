package auth

import (
	"crypto/sha1"
	"crypto/subtle"
	"encoding/base64"
	"net/netip"
	"sync"
	"time"
)

// UsernameToken is a WS-Security UsernameToken with a PasswordDigest, as
// ONVIF clients send it: Digest = Base64(SHA-1(Nonce + Created + Password)),
// the nonce Base64 and Created an RFC 3339 time.
type UsernameToken struct {
	User, Digest, Nonce, Created string
}

// tokenSkew is how far a token's Created may be from the server's clock:
// clients correct for the device's time (GetSystemDateAndTime), so this
// covers their round trip and rounding, and bounds how long a captured
// token could be replayed.
const tokenSkew = 5 * time.Minute

// CheckToken checks a UsernameToken from remote for path ("" for
// requests about no stream). It needs the user's password itself (the
// digest is over it): a user configured with hashes only is refused, and
// the log says why. Failures count against the address as Digest's do,
// and a nonce is accepted once.
func (a *Authenticator) CheckToken(remote netip.Addr, tok UsernameToken, path string) Decision {
	r := Request{Remote: remote, Path: path}
	deny := func(reason string) Decision {
		d := a.fail(r, tok.User, reason)
		d.Challenges, d.Status = nil, StatusUnauthorized
		if a.fails.blocked(remote) {
			d.Status = StatusForbidden
		}
		return d
	}
	if a.fails.blocked(remote) {
		return Decision{Status: StatusForbidden, Reason: "address blocked after repeated failed attempts"}
	}
	u, known := a.users[tok.User]
	nonce, err := base64.StdEncoding.DecodeString(tok.Nonce)
	created, terr := time.Parse(time.RFC3339Nano, tok.Created)
	switch {
	case tok.User == "" || tok.Digest == "":
		return Decision{Status: StatusUnauthorized, Reason: "no credentials"}
	case err != nil || len(nonce) < 8 || len(nonce) > 64:
		return deny("UsernameToken nonce is not 8 to 64 bytes of Base64")
	case terr != nil:
		return deny("UsernameToken Created is not a time")
	case a.cfg.Now().Sub(created).Abs() > tokenSkew:
		return deny("UsernameToken Created is more than 5 minutes from this device's time")
	case known && u.Password == "":
		// A configuration gap, not a guessed password: it must not block
		// the address for RTSP and HTTP, which this user may use.
		a.log.Warn("onvif refused: the user has no password: for WS-UsernameToken (give auth.users[].password)",
			"remote", remote.String(), "user", tok.User)
		return Decision{User: tok.User, Status: StatusUnauthorized, Reason: "user has no password for WS-UsernameToken: give auth.users[].password"}
	}
	h := sha1.New()
	h.Write(nonce)
	h.Write([]byte(tok.Created))
	h.Write([]byte(u.Password))
	want := base64.StdEncoding.EncodeToString(h.Sum(nil))
	if subtle.ConstantTimeCompare([]byte(want), []byte(tok.Digest)) != 1 || !known {
		return deny("wrong user or password (WS-UsernameToken)")
	}
	// Keyed by the decoded bytes: Base64 spells the same bytes many ways.
	if !a.tokens.fresh(string(nonce), a.cfg.Now()) {
		return deny("replayed UsernameToken (nonce seen before)")
	}
	if !u.may(path) {
		return Decision{User: tok.User, Status: StatusForbidden, Reason: "user may not watch " + path}
	}
	return Decision{User: tok.User}
}

// Allowed reports whether user may watch path (for listing what a user
// may see).
func (a *Authenticator) Allowed(user, path string) bool {
	u, ok := a.users[user]
	return ok && u.may(path)
}

// seenTokens remembers token nonces for twice the skew, so none is
// accepted twice while its Created is still acceptable.
type seenTokens struct {
	mu   sync.Mutex
	seen map[string]time.Time
}

func (s *seenTokens) fresh(nonce string, now time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.seen == nil {
		s.seen = map[string]time.Time{}
	}
	if len(s.seen) > 10000 {
		for n, at := range s.seen {
			if now.Sub(at) > 2*tokenSkew {
				delete(s.seen, n)
			}
		}
	}
	if at, ok := s.seen[nonce]; ok && now.Sub(at) <= 2*tokenSkew {
		return false
	}
	s.seen[nonce] = now
	return true
}
