// Package tail keeps the end of a child process's output, for the error
// message of a command that failed.
package tail

import (
	"bytes"
	"sync"
)

// Buffer keeps the last Limit bytes written to it. It is safe for
// concurrent use.
type Buffer struct {
	// Limit is how many bytes are kept.
	Limit int

	mu        sync.Mutex
	buf       []byte
	truncated bool
}

// New returns a Buffer that keeps the last limit bytes.
func New(limit int) *Buffer { return &Buffer{Limit: limit} }

// Write keeps the end of what was written so far; it never fails.
func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	if over := len(b.buf) - b.Limit; over > 0 {
		b.buf = append(b.buf[:0], b.buf[over:]...)
		b.truncated = true
	}
	return len(p), nil
}

// Bytes returns the kept output, prefixed with "…" when older output was
// dropped.
func (b *Buffer) Bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.truncated {
		return append([]byte("…"), b.buf...)
	}
	return bytes.Clone(b.buf)
}

// String is Bytes as a string.
func (b *Buffer) String() string { return string(b.Bytes()) }
