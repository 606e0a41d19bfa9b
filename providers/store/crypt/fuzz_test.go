package crypt

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"filippo.io/age"
)

// FuzzOpen feeds arbitrary bytes to what reads encrypted objects from a
// store — CheckHeader, HeaderSize with PlainSize, and Open with an identity
// — and reads everything Open gives. None may panic; what does not open
// fails with ErrTampered or ErrWrongIdentity, and what opens has the size
// PlainSize computes. The seeds are objects encrypted to the identity, so
// the fuzzer mutates valid headers and chunks.
func FuzzOpen(f *testing.F) {
	id, err := age.GenerateX25519Identity()
	if err != nil {
		f.Fatal(err)
	}
	file := filepath.Join(f.TempDir(), "key.txt")
	if err := os.WriteFile(file, []byte(id.String()+"\n"), 0o600); err != nil {
		f.Fatal(err)
	}
	keys, err := NewKeys([]string{id.Recipient().String()}, file)
	if err != nil {
		f.Fatal(err)
	}
	for _, n := range []int{0, 1, 100, 64 << 10, 64<<10 + 3} {
		sealed, err := keys.Seal(bytes.Repeat([]byte{'x'}, n))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(sealed)
	}
	f.Add([]byte(Magic))
	f.Add([]byte("PK\x03\x04"))
	f.Fuzz(func(t *testing.T, data []byte) {
		size := int64(len(data))
		headerErr := CheckHeader(bytes.NewReader(data), size)
		header, herr := HeaderSize(bytes.NewReader(data), size)
		ra, plain, err := keys.Open(bytes.NewReader(data), size)
		if err != nil {
			if !errors.Is(err, ErrTampered) && !errors.Is(err, ErrWrongIdentity) {
				t.Fatalf("Open: %v, want ErrTampered or ErrWrongIdentity", err)
			}
			return
		}
		if headerErr != nil || herr != nil {
			t.Fatalf("opened, but CheckHeader: %v, HeaderSize: %v", headerErr, herr)
		}
		if p, ok := PlainSize(size, header); !ok || p != plain {
			t.Fatalf("opened %d plain bytes, PlainSize says %d, %v", plain, p, ok)
		}
		if _, err := io.Copy(io.Discard, io.NewSectionReader(ra, 0, plain)); err != nil && !errors.Is(err, ErrTampered) {
			t.Fatalf("read: %v", err)
		}
	})
}
