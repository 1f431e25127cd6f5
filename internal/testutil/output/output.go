// Package output holds what a test's child process writes, for the test
// to read while the process runs.
package output

import (
	"strings"
	"sync"
)

// Buffer is an io.Writer safe to read while it is written.
type Buffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

// String is everything written so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// Count counts the occurrences of s so far.
func (b *Buffer) Count(s string) int { return strings.Count(b.String(), s) }
