package archive

import (
	"bytes"
	"errors"
	"hash/crc32"
	"io"
	"math"
	"strings"
	"testing"

	"github.com/klauspost/compress/flate"
	"github.com/klauspost/compress/zip"
)

type rawSizes struct {
	name         string
	data         []byte // compressed data as stored
	uncompressed uint64 // declared
	compressed   uint64 // declared
}

// declaredSizes writes entries whose central directory declares the given sizes, whatever
// their data holds (ZIP64 records where the sizes need them).
func declaredSizes(tb testing.TB, entries ...rawSizes) []byte {
	tb.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, e := range entries {
		fh := &zip.FileHeader{Name: e.name, Method: zip.Deflate,
			CRC32: crc32.ChecksumIEEE(nil), UncompressedSize64: e.uncompressed, CompressedSize64: e.compressed}
		fh.SetMode(0o644)
		w, err := zw.CreateRaw(fh)
		must(tb, err)
		_, err = w.Write(e.data)
		must(tb, err)
	}
	must(tb, zw.Close())
	return buf.Bytes()
}

func deflated(tb testing.TB, n int64) []byte {
	tb.Helper()
	var buf bytes.Buffer
	fw, err := flate.NewWriter(&buf, flate.BestCompression)
	must(tb, err)
	_, err = io.CopyN(fw, zeroReader{}, n)
	must(tb, err)
	must(tb, fw.Close())
	return buf.Bytes()
}

// hugeSizeSeeds are archives whose declared sizes only pass for small when added or compared
// as signed numbers.
func hugeSizeSeeds(tb testing.TB) map[string][]byte {
	bomb := deflated(tb, 4<<20)
	small := deflated(tb, 10)
	return map[string][]byte{
		// 2^63 and more is negative as an int64: the ratio check must still apply.
		"ratio": declaredSizes(tb, rawSizes{name: "bomb", data: bomb, uncompressed: 1<<63 + 4<<20, compressed: uint64(len(bomb))}),
		// Compressed sizes whose sum wraps around to less than the archive's size.
		"overlap": declaredSizes(tb,
			rawSizes{name: "a", data: small, uncompressed: 10, compressed: math.MaxUint64 - 100},
			rawSizes{name: "b", data: small, uncompressed: 10, compressed: 200}),
		// Uncompressed sizes whose sum wraps around to less than MaxTotalSize.
		"total": declaredSizes(tb,
			rawSizes{name: "a", data: small, uncompressed: math.MaxUint64 - 100, compressed: math.MaxUint64 / 1000},
			rawSizes{name: "b", data: small, uncompressed: 200, compressed: uint64(len(small))}),
	}
}

func TestHugeDeclaredSizes(t *testing.T) {
	want := map[string]string{"ratio": "compression ratio", "overlap": "overlap", "total": "exceed the limit"}
	for name, data := range hugeSizeSeeds(t) {
		var opts SafetyOptions
		if name == "total" {
			opts.MaxTotalSize = 1 << 30
		}
		t.Run(name, func(t *testing.T) {
			r, err := Open(bytes.NewReader(data), int64(len(data)))
			if err != nil {
				t.Skipf("the ZIP reader refuses it already: %v", err)
			}
			err = r.CheckSafe(opts)
			if !errors.Is(err, ErrUnsafe) || !strings.Contains(err.Error(), want[name]) {
				t.Fatalf("CheckSafe = %v, want ErrUnsafe with %q", err, want[name])
			}
		})
	}
}
