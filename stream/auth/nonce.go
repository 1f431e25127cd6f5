package auth

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"sync"
	"time"
)

// nonces issues server nonces that carry their own issue time and are
// bound, by an HMAC under a per-process key, to the address and connection
// they were issued to: nothing is stored per challenge, a forged or
// borrowed nonce fails the MAC, an old one is stale. For answers with
// qop=auth the nonce count must rise with every use (RFC 7616 3.4), which
// is what makes a captured answer useless even on its own connection.
type nonces struct {
	key  []byte
	life time.Duration
	now  func() time.Time

	mu   sync.Mutex
	used map[string]usedNonce
}

type usedNonce struct {
	nc      uint64
	expires time.Time
}

const nonceMAC = 16

func newNonces(key []byte, life time.Duration, now func() time.Time) (*nonces, error) {
	if len(key) == 0 {
		key = make([]byte, 32)
		if _, err := rand.Read(key); err != nil {
			return nil, errNoSecret
		}
	}
	return &nonces{key: key, life: life, now: now, used: map[string]usedNonce{}}, nil
}

func (n *nonces) mac(issued []byte, binding string) []byte {
	m := hmac.New(sha256.New, n.key)
	m.Write(issued)
	m.Write([]byte(binding))
	return m.Sum(nil)[:nonceMAC]
}

// issue makes a nonce for binding.
func (n *nonces) issue(binding string) string {
	raw := make([]byte, 8, 8+nonceMAC)
	binary.BigEndian.PutUint64(raw, uint64(n.now().UnixNano()))
	raw = append(raw, n.mac(raw, binding)...)
	return base64.RawURLEncoding.EncodeToString(raw)
}

// check reports whether nonce was issued by us for binding, and whether it
// has outlived its lifetime.
func (n *nonces) check(nonce, binding string) (valid, stale bool) {
	raw, err := base64.RawURLEncoding.DecodeString(nonce)
	if err != nil || len(raw) != 8+nonceMAC {
		return false, false
	}
	if !hmac.Equal(raw[8:], n.mac(raw[:8], binding)) {
		return false, false
	}
	issued := time.Unix(0, int64(binary.BigEndian.Uint64(raw[:8])))
	age := n.now().Sub(issued)
	return true, age > n.life || age < -time.Minute
}

// count accepts nc for nonce only if it is higher than any count seen
// with that nonce before.
func (n *nonces) count(nonce string, nc uint64) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	now := n.now()
	if len(n.used) > 4096 {
		for k, u := range n.used {
			if now.After(u.expires) {
				delete(n.used, k)
			}
		}
	}
	u, seen := n.used[nonce]
	if seen && nc <= u.nc {
		return false
	}
	n.used[nonce] = usedNonce{nc: nc, expires: now.Add(n.life + time.Minute)}
	return true
}
