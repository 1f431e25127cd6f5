package auth

import (
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// maxHeader bounds the Authorization value we look at: real ones are a few
// hundred bytes, and parsing cost must not grow with what a peer sends.
const maxHeader = 4096

// ErrMalformed marks an Authorization value that does not parse.
var ErrMalformed = errors.New("malformed Authorization header")

// Credentials is a parsed Authorization header value (RFC 7235): a scheme
// and either its auth-params (Digest) or a token68 (Basic).
type Credentials struct {
	Scheme string            // "Digest" or "Basic", as sent
	Params map[string]string // Digest auth-params, keys lower-cased
	User   string            // Basic
	Pass   string            // Basic
}

// ParseAuthorization parses an Authorization (or WWW-Authenticate) value of
// the Basic or Digest scheme.
func ParseAuthorization(v string) (Credentials, error) {
	if len(v) > maxHeader {
		return Credentials{}, fmt.Errorf("%w: %d bytes", ErrMalformed, len(v))
	}
	scheme, rest, _ := strings.Cut(strings.TrimSpace(v), " ")
	switch {
	case strings.EqualFold(scheme, "Basic"):
		return parseBasic(strings.TrimSpace(rest))
	case strings.EqualFold(scheme, "Digest"):
		params, err := parseParams(rest)
		if err != nil {
			return Credentials{}, err
		}
		return Credentials{Scheme: "Digest", Params: params}, nil
	}
	return Credentials{}, fmt.Errorf("%w: scheme %q", ErrMalformed, scheme)
}

func parseBasic(token string) (Credentials, error) {
	raw, err := base64.StdEncoding.DecodeString(token)
	if err != nil {
		return Credentials{}, fmt.Errorf("%w: Basic token: %v", ErrMalformed, err)
	}
	user, pass, ok := strings.Cut(string(raw), ":")
	if !ok {
		return Credentials{}, fmt.Errorf("%w: Basic token has no colon", ErrMalformed)
	}
	return Credentials{Scheme: "Basic", User: user, Pass: pass}, nil
}

// parseParams reads comma-separated name=value pairs where a value is a
// token or a quoted-string with backslash escapes (RFC 7235 section 2.1).
// A repeated name is malformed: which copy would a verifier trust?
func parseParams(s string) (map[string]string, error) {
	params := map[string]string{}
	for {
		s = strings.TrimLeft(s, " \t,")
		if s == "" {
			return params, nil
		}
		eq := strings.IndexByte(s, '=')
		if eq <= 0 {
			return nil, fmt.Errorf("%w: auth-param without '='", ErrMalformed)
		}
		name := strings.ToLower(strings.TrimSpace(s[:eq]))
		if !isToken(name) {
			return nil, fmt.Errorf("%w: bad auth-param name %q", ErrMalformed, name)
		}
		value, rest, err := parseValue(strings.TrimLeft(s[eq+1:], " \t"))
		if err != nil {
			return nil, err
		}
		if _, dup := params[name]; dup {
			return nil, fmt.Errorf("%w: %s given twice", ErrMalformed, name)
		}
		params[name] = value
		s = strings.TrimLeft(rest, " \t")
		if s != "" && s[0] != ',' {
			return nil, fmt.Errorf("%w: expected ',' after %s", ErrMalformed, name)
		}
	}
}

func parseValue(s string) (value, rest string, err error) {
	if !strings.HasPrefix(s, `"`) {
		end := strings.IndexAny(s, ", \t")
		if end < 0 {
			end = len(s)
		}
		if end == 0 || !isToken(s[:end]) {
			return "", "", fmt.Errorf("%w: bad token value", ErrMalformed)
		}
		return s[:end], s[end:], nil
	}
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		switch c := s[i]; c {
		case '"':
			return b.String(), s[i+1:], nil
		case '\\':
			if i+1 == len(s) {
				return "", "", fmt.Errorf("%w: dangling escape", ErrMalformed)
			}
			i++
			fallthrough
		default:
			// quoted-pair may escape only what qdtext may hold (RFC 7230 3.2.6).
			if c := s[i]; c < 0x20 && c != '\t' || c == 0x7f {
				return "", "", fmt.Errorf("%w: control character in quoted string", ErrMalformed)
			}
			b.WriteByte(s[i])
		}
	}
	return "", "", fmt.Errorf("%w: unterminated quoted string", ErrMalformed)
}

func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`"(),/:;<=>?@[\]{}`, c) >= 0 {
			return false
		}
	}
	return true
}

// quote makes a quoted-string.
func quote(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

// String writes the credentials back as a header value; parsing it gives
// the same credentials.
func (c Credentials) String() string {
	if c.Scheme == "Basic" {
		return "Basic " + base64.StdEncoding.EncodeToString([]byte(c.User+":"+c.Pass))
	}
	names := make([]string, 0, len(c.Params))
	for k := range c.Params {
		names = append(names, k)
	}
	slices.Sort(names)
	parts := make([]string, len(names))
	for i, k := range names {
		parts[i] = k + "=" + quote(c.Params[k])
	}
	return "Digest " + strings.Join(parts, ", ")
}
