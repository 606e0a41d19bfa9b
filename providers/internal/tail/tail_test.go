package tail

import (
	"fmt"
	"testing"
)

func TestBufferKeepsTheEnd(t *testing.T) {
	b := New(8)
	fmt.Fprint(b, "0123")
	if b.String() != "0123" {
		t.Fatalf("got %q", b.String())
	}
	fmt.Fprint(b, "456789abc")
	if got := b.String(); got != "…56789abc" {
		t.Fatalf("got %q, want the last 8 bytes", got)
	}
	b.Bytes()[1] = 'x'
	if got := b.String(); got != "…56789abc" {
		t.Fatalf("changing what Bytes returned changed the buffer: %q", got)
	}
}
