package daemon

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"reflect"
	"sync/atomic"

	"flowcam/platform/selfsigned"
	"flowcam/stream/auth"
)

// access holds the current account checker so a reload can swap it under
// running connections. No users: everyone may watch.
type access struct {
	log  *slog.Logger
	key  []byte // nonce key, kept across reloads so players keep their nonces
	cur  atomic.Pointer[auth.Authenticator]
	conf AuthConfig
}

func newAccess(cfg *Config, log *slog.Logger) (*access, error) {
	a := &access{log: log, key: make([]byte, 32)}
	if _, err := rand.Read(a.key); err != nil {
		return nil, fmt.Errorf("auth: nonce key: %w", err)
	}
	return a, a.set(cfg)
}

func (a *access) set(cfg *Config) error {
	au, err := cfg.authenticator(a.key, a.log)
	if err != nil {
		return err
	}
	a.cur.Store(au)
	a.conf = cfg.Auth
	return nil
}

// Check implements rtspserver.Authorizer.
func (a *access) Check(r auth.Request) auth.Decision {
	if au := a.cur.Load(); au != nil {
		return au.Check(r)
	}
	return auth.Decision{}
}

// CheckToken implements onvif.Authorizer: WS-UsernameToken against the
// same users.
func (a *access) CheckToken(remote netip.Addr, tok auth.UsernameToken, path string) auth.Decision {
	if au := a.cur.Load(); au != nil {
		return au.CheckToken(remote, tok, path)
	}
	return auth.Decision{}
}

// Allowed implements onvif.Authorizer.
func (a *access) Allowed(user, path string) bool {
	if au := a.cur.Load(); au != nil {
		return au.Allowed(user, path)
	}
	return true
}

// reloadAccess applies a changed auth section at once: new users, removed
// users and changed permissions count from the next request.
func (d *daemon) reloadAccess(next *Config) {
	if reflect.DeepEqual(d.access.conf, next.Auth) {
		return
	}
	if err := d.access.set(next); err != nil {
		d.log.Error("reload: auth section refused, the previous users stay", "err", err) // validated, so unexpected
		return
	}
	d.log.Info("users reloaded", "users", len(next.Auth.Users))
}

// listenRTSPS serves the same streams over TLS, media interleaved.
func (d *daemon) listenRTSPS() (net.Listener, error) {
	r := d.cfg.RTSPS
	if !r.Enabled {
		return nil, nil
	}
	certFile, keyFile := r.certFiles()
	cert, made, err := selfsigned.Load(certFile, keyFile, r.SelfSigned, localNames())
	if err != nil {
		return nil, fmt.Errorf("rtsps: %w", err)
	}
	if made {
		d.log.Info("self-signed certificate created", "cert", certFile, "key", keyFile)
	}
	ln, err := tls.Listen("tcp", r.Addr, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})
	if err != nil {
		return nil, fmt.Errorf("rtsps.addr %s: %w", r.Addr, err)
	}
	d.log.Info("rtsps listening", "addr", ln.Addr().String(), "cert_sha256", fingerprint(cert))
	go d.srv.Serve(ln)
	return ln, nil
}

// fingerprint lets a viewer pin a self-signed certificate.
func fingerprint(c tls.Certificate) string {
	if len(c.Certificate) == 0 {
		return ""
	}
	if leaf, err := x509.ParseCertificate(c.Certificate[0]); err == nil {
		sum := sha256.Sum256(leaf.Raw)
		return hex.EncodeToString(sum[:])
	}
	return ""
}

// localNames are what a self-signed certificate is issued for: the host
// name and every local address, so a viewer that checks names matches.
func localNames() []string {
	names := []string{"localhost"}
	if h, err := os.Hostname(); err == nil {
		names = append(names, h)
	}
	if addrs, err := net.InterfaceAddrs(); err == nil {
		for _, a := range addrs {
			if ip, ok := a.(*net.IPNet); ok {
				names = append(names, ip.IP.String())
			}
		}
	}
	return names
}
