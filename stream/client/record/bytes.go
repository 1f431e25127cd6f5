package record

import (
	"fmt"
	"strconv"
	"strings"
)

// Bytes is a size in bytes, written with an optional K, M, G or T (powers
// of 1024), as retention limits are given: --keep-bytes 20G.
type Bytes int64

// UnmarshalText reads "20G", "512M" or a plain number of bytes.
func (b *Bytes) UnmarshalText(t []byte) error {
	s := strings.ToUpper(strings.TrimSuffix(strings.TrimSpace(string(t)), "B"))
	mult := int64(1)
	if i := strings.IndexAny(s, "KMGT"); i >= 0 && i == len(s)-1 {
		mult = 1 << (10 * (1 + strings.IndexByte("KMGT", s[i])))
		s = s[:i]
	}
	n, err := strconv.ParseFloat(s, 64)
	if err != nil || n < 0 || n*float64(mult) > 1<<62 {
		return fmt.Errorf("%q: a size such as 20G, 512M or 1000000 (bytes)", t)
	}
	*b = Bytes(n * float64(mult))
	return nil
}

// MarshalText writes the size in bytes.
func (b Bytes) MarshalText() ([]byte, error) { return []byte(strconv.FormatInt(int64(b), 10)), nil }
