package auth

import (
	"crypto/md5"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"strings"
)

// Challenge is a server's Digest challenge as a client keeps it between
// requests.
type Challenge struct {
	Realm, Nonce, Opaque string
	Algorithm            string // "MD5" or "SHA-256"
	QOP                  bool   // qop=auth offered
	Stale                bool
}

// ErrNoChallenge means none of the offered challenges can be answered.
var ErrNoChallenge = errors.New("no Digest challenge with MD5 or SHA-256")

// ChooseChallenge picks the strongest Digest challenge among
// WWW-Authenticate values: SHA-256 over MD5, whatever their order.
func ChooseChallenge(values []string) (Challenge, error) {
	var best Challenge
	for _, v := range values {
		c, err := ParseAuthorization(v)
		if err != nil || c.Scheme != "Digest" || c.Params["nonce"] == "" {
			continue
		}
		alg := strings.ToUpper(c.Params["algorithm"])
		if alg == "" {
			alg = "MD5"
		}
		if alg != "MD5" && alg != "SHA-256" || best.Algorithm == "SHA-256" {
			continue
		}
		best = Challenge{Realm: c.Params["realm"], Nonce: c.Params["nonce"], Opaque: c.Params["opaque"],
			Algorithm: alg, Stale: strings.EqualFold(c.Params["stale"], "true"),
			QOP: containsToken(c.Params["qop"], "auth")}
	}
	if best.Algorithm == "" {
		return Challenge{}, ErrNoChallenge
	}
	return best, nil
}

// Authorization answers the challenge for one request. nc counts the uses
// of this nonce from 1; cnonce is the client's random value.
func (ch Challenge) Authorization(user, pass, method, uri string, nc uint32, cnonce string) string {
	newHash := func() hash.Hash { return md5.New() }
	if ch.Algorithm == "SHA-256" {
		newHash = sha256.New
	}
	ha1 := digestHash(newHash(), user, ch.Realm, pass)
	ha2 := digestHash(newHash(), method, uri)
	p := map[string]string{"username": user, "realm": ch.Realm, "nonce": ch.Nonce, "uri": uri, "algorithm": ch.Algorithm}
	if ch.Opaque != "" {
		p["opaque"] = ch.Opaque
	}
	if ch.QOP {
		count := fmt.Sprintf("%08x", nc)
		p["qop"], p["nc"], p["cnonce"] = "auth", count, cnonce
		p["response"] = digestHash(newHash(), ha1, ch.Nonce, count, cnonce, "auth", ha2)
	} else {
		p["response"] = digestHash(newHash(), ha1, ch.Nonce, ha2)
	}
	return Credentials{Scheme: "Digest", Params: p}.String()
}

func containsToken(list, tok string) bool {
	for _, t := range strings.Split(list, ",") {
		if strings.EqualFold(strings.TrimSpace(t), tok) {
			return true
		}
	}
	return false
}
