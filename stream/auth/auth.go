// Package auth decides who may watch what: users with per-path permissions,
// checked with HTTP Digest (RFC 7616: SHA-256, and MD5 for the players that
// know nothing else) and, over TLS only, Basic. RTSP and HTTP share it: both
// carry the challenge in WWW-Authenticate and the answer in Authorization.
// Passwords are never stored, only the Digest hashes H(user:realm:password).
package auth

import (
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"
)

// User is one account. SHA256 and MD5 are the hex Digest hashes of
// "name:realm:password"; HashPassword makes them.
type User struct {
	Name   string
	SHA256 string
	MD5    string
	// Paths the user may watch; empty or "*" means every path.
	Paths []string
	// Password, when given, is the password itself: WS-UsernameToken
	// (ONVIF) digests are over it, so no stored hash can check them.
	Password string
}

// Config is the account list and the rules around it.
type Config struct {
	Realm string
	Users []User
	// NonceLifetime is how long a challenge's nonce is accepted; 5 min.
	NonceLifetime time.Duration
	// MaxFailures wrong answers from one address within FailureWindow
	// block that address for the rest of the window; 5 per minute.
	MaxFailures   int
	FailureWindow time.Duration
	// NonceKey signs nonces; 32 random bytes when nil. Passing the same key
	// to the Authenticator that replaces this one on a reload keeps the
	// nonces players hold valid.
	NonceKey []byte
	Now      func() time.Time // time.Now by default
	Logger   *slog.Logger
}

// Request is what Check needs to know of a request.
type Request struct {
	Method string // RTSP or HTTP method
	URI    string // the request target, as the digest-uri must repeat it
	Path   string // the stream path the permission is checked against; "" for none
	// Authorization is the header value, "" when absent.
	Authorization string
	Remote        netip.Addr
	// Binding ties nonces to one connection (RTSP: one per player), so a
	// captured answer cannot be replayed from another one. "" for HTTP.
	Binding string
	TLS     bool // Basic is accepted only over TLS
}

// Decision is Check's verdict.
type Decision struct {
	User string
	// Status is 0 when the request may proceed, else 401 (ask again, with
	// Challenges) or 403 (known user without permission, or an address
	// blocked after repeated failures).
	Status     int
	Challenges []string // WWW-Authenticate values, strongest first
	Reason     string   // for the log; never sent to the client
}

// OK reports whether the request may proceed.
func (d Decision) OK() bool { return d.Status == 0 }

// Authenticator checks requests against a Config. It is safe for
// concurrent use.
type Authenticator struct {
	cfg    Config
	users  map[string]User
	nonces *nonces
	fails  *failures
	tokens seenTokens
	log    *slog.Logger
}

// Errors from New name what is wrong with an account.
var (
	ErrNoRealm  = errors.New("auth: the realm must not be empty")
	ErrBadUser  = errors.New("auth: bad user")
	ErrNoUsers  = errors.New("auth: no users")
	errNoSecret = errors.New("auth: cannot read random bytes for the nonce key")
)

// New checks the accounts and returns an Authenticator.
func New(cfg Config) (*Authenticator, error) {
	if cfg.Realm == "" {
		return nil, ErrNoRealm
	}
	if len(cfg.Users) == 0 {
		return nil, ErrNoUsers
	}
	setDefaults(&cfg)
	cfg.Users = slices.Clone(cfg.Users) // filled in below, the caller's left alone
	a := &Authenticator{cfg: cfg, users: map[string]User{}, log: cfg.Logger}
	for i, u := range cfg.Users {
		if u.Password != "" && u.SHA256 == "" && u.MD5 == "" {
			u.SHA256, u.MD5 = HashPassword(u.Name, cfg.Realm, u.Password)
			cfg.Users[i] = u
		}
		if err := checkUser(u, cfg.Realm); err != nil {
			return nil, fmt.Errorf("users[%d]: %w", i, err)
		}
		if _, dup := a.users[u.Name]; dup {
			return nil, fmt.Errorf("users[%d]: %w: %q is listed twice", i, ErrBadUser, u.Name)
		}
		a.users[u.Name] = u
	}
	n, err := newNonces(cfg.NonceKey, cfg.NonceLifetime, cfg.Now)
	if err != nil {
		return nil, err
	}
	a.nonces = n
	a.fails = &failures{max: cfg.MaxFailures, window: cfg.FailureWindow, now: cfg.Now, by: map[netip.Addr]*failWindow{}}
	return a, nil
}

// Defaults for Config fields left zero.
const (
	DefaultNonceLifetime = 5 * time.Minute
	DefaultMaxFailures   = 5
	DefaultFailureWindow = time.Minute
)

func setDefaults(c *Config) {
	if c.NonceLifetime <= 0 {
		c.NonceLifetime = DefaultNonceLifetime
	}
	if c.MaxFailures <= 0 {
		c.MaxFailures = DefaultMaxFailures
	}
	if c.FailureWindow <= 0 {
		c.FailureWindow = DefaultFailureWindow
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

func checkUser(u User, realm string) error {
	if u.Name == "" || strings.ContainsAny(u.Name, ":\"\\\r\n") {
		return fmt.Errorf("%w: name %q must be non-empty without : \" \\ or line breaks", ErrBadUser, u.Name)
	}
	for _, h := range []struct {
		name, val string
		size      int
	}{{"sha256", u.SHA256, sha256.Size}, {"md5", u.MD5, md5.Size}} {
		if b, err := hex.DecodeString(h.val); err != nil || len(b) != h.size {
			return fmt.Errorf("%w: %s of %q must be %d hex digits (flowcamd hash-password makes it)", ErrBadUser, h.name, u.Name, 2*h.size)
		}
	}
	if u.Password != "" {
		if sha, md := HashPassword(u.Name, realm, u.Password); sha != u.SHA256 || md != u.MD5 {
			return fmt.Errorf("%w: the password of %q does not match its sha256 and md5: they must be the same password's", ErrBadUser, u.Name)
		}
	}
	for _, p := range u.Paths {
		if p != "*" && !strings.HasPrefix(p, "/") {
			return fmt.Errorf("%w: path %q of %q must start with / (or be *)", ErrBadUser, p, u.Name)
		}
	}
	return nil
}

// HashPassword returns the SHA-256 and MD5 Digest hashes to store for a
// user: H(name:realm:password). They change with the realm.
func HashPassword(name, realm, password string) (sha, md string) {
	return digestHash(sha256.New(), name, realm, password), digestHash(md5.New(), name, realm, password)
}

func digestHash(h hash.Hash, parts ...string) string {
	io.WriteString(h, strings.Join(parts, ":"))
	return hex.EncodeToString(h.Sum(nil))
}

// may reports whether u may watch path.
func (u User) may(path string) bool {
	if len(u.Paths) == 0 || path == "" {
		return true
	}
	return slices.Contains(u.Paths, "*") || slices.Contains(u.Paths, "/"+strings.Trim(path, "/"))
}

// failures counts wrong answers per address.
type failures struct {
	mu     sync.Mutex
	max    int
	window time.Duration
	now    func() time.Time
	by     map[netip.Addr]*failWindow
}

type failWindow struct {
	since time.Time
	count int
}

// blocked reports whether addr has used up its attempts.
func (f *failures) blocked(addr netip.Addr) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	w := f.by[addr]
	return w != nil && f.now().Sub(w.since) < f.window && w.count >= f.max
}

// add records a failure and reports whether it used up the last attempt.
func (f *failures) add(addr netip.Addr) (count int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	now := f.now()
	if len(f.by) > 10000 { // a flood from many addresses must not grow memory forever
		for a, w := range f.by {
			if now.Sub(w.since) >= f.window {
				delete(f.by, a)
			}
		}
	}
	w := f.by[addr]
	if w == nil || now.Sub(w.since) >= f.window {
		w = &failWindow{since: now}
		f.by[addr] = w
	}
	w.count++
	return w.count
}
