package child

import (
	"errors"
	"strings"
)

// ErrQuote is an unterminated quote or a trailing backslash.
var ErrQuote = errors.New("unterminated quote or escape")

// SplitCommand splits a command line into words the way a POSIX shell
// splits them (whitespace between words, 'single' and "double" quotes,
// backslash escapes) without anything else a shell does: no variables,
// globs, pipes or redirections, since the command is never given to a
// shell. A pipeline such as gst-launch's "a ! b" is just more words.
func SplitCommand(s string) ([]string, error) {
	var words []string
	var w strings.Builder
	inWord := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n':
			if inWord {
				words, inWord = append(words, w.String()), false
				w.Reset()
			}
			continue
		case c == '\\':
			if i++; i == len(s) {
				return nil, ErrQuote
			}
			if s[i] == '\n' { // a line continuation, as in a YAML block
				continue
			}
			w.WriteByte(s[i])
		case c == '\'':
			end := strings.IndexByte(s[i+1:], '\'')
			if end < 0 {
				return nil, ErrQuote
			}
			w.WriteString(s[i+1 : i+1+end])
			i += 1 + end
		case c == '"':
			n, ok := doubleQuoted(s[i+1:], &w)
			if !ok {
				return nil, ErrQuote
			}
			i += n
		default:
			w.WriteByte(c)
		}
		inWord = true
	}
	if inWord {
		words = append(words, w.String())
	}
	return words, nil
}

// doubleQuoted copies a double-quoted string's body (s starts after the
// opening quote) and returns how many bytes it took, closing quote
// included. Inside, a backslash escapes only $ ` " \ and newline.
func doubleQuoted(s string, w *strings.Builder) (int, bool) {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"':
			return i + 1, true
		case c == '\\' && i+1 < len(s) && strings.IndexByte("$`\"\\\n", s[i+1]) >= 0:
			i++
			w.WriteByte(s[i])
		default:
			w.WriteByte(c)
		}
	}
	return 0, false
}

// QuoteCommand writes words so that SplitCommand (or a shell) gives them
// back: for logs and the status page.
func QuoteCommand(words []string) string {
	out := make([]string, len(words))
	for i, w := range words {
		if w != "" && strings.IndexFunc(w, func(r rune) bool { return strings.ContainsRune(" \t\n'\"\\$`!*?()[]{};&|<>#~", r) }) < 0 {
			out[i] = w
			continue
		}
		out[i] = "'" + strings.ReplaceAll(w, "'", `'\''`) + "'"
	}
	return strings.Join(out, " ")
}
