package archive

import (
	"bytes"
	"context"
	"io"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/flate"
)

// TestWriterStaysBelowMaxRatio writes what deflates best — zeros, one repeated short line —
// at every level and in writes of every size: readers must accept every entry the writer
// makes, so none may exceed the ratio CheckSafe refuses as a zip bomb.
func TestWriterStaysBelowMaxRatio(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	nullColumn := []byte(strings.Repeat("\\N\n", 1<<20))
	random := randomBytes(rng, 512<<10)
	inputs := map[string]func(w io.Writer) error{
		"1 MiB of zeros at once": func(w io.Writer) error { _, err := w.Write(make([]byte, 1<<20)); return err },
		"9 MiB of zeros in 100-byte writes": func(w io.Writer) error {
			b := make([]byte, 100)
			for range (9 << 20) / 100 {
				if _, err := w.Write(b); err != nil {
					return err
				}
			}
			return nil
		},
		"a column of NULLs": func(w io.Writer) error { _, err := w.Write(nullColumn); return err },
		"random, then 8 MiB of zeros": func(w io.Writer) error {
			if _, err := w.Write(random); err != nil {
				return err
			}
			_, err := io.CopyN(w, zeroReader{}, 8<<20)
			return err
		},
	}
	for _, level := range []int{1, 5, 9} {
		var buf bytes.Buffer
		w := NewWriter(&buf, WriterOptions{Level: level, TempDir: t.TempDir()})
		for name, produce := range inputs {
			_, err := w.AddStream(context.Background(), name, 0o644, time.Now(), produce)
			must(t, err)
		}
		must(t, w.Close(&Manifest{Resource: "application.X", Kind: "application", Name: "X"}))
		r, err := Open(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
		must(t, err)
		if err := r.CheckSafe(SafetyOptions{}); err != nil {
			t.Errorf("level %d: %v", level, err)
		}
		must(t, r.Verify(context.Background()))
		for _, e := range r.Entries() {
			if e.Size >= DefaultRatioMinSize {
				t.Logf("level %d: %s: %.0f:1", level, e.Name, float64(e.Size)/float64(e.CompressedSize))
			}
		}
	}
}

// TestWriterRatioGuardCostsNothingOnText checks that ordinary data is deflated as one
// stream would be: the guard flushes only what compresses implausibly well.
func TestWriterRatioGuardCostsNothingOnText(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	text := sourceText(rng, 8<<20)
	var plain bytes.Buffer
	fw, err := flate.NewWriter(&plain, DefaultLevel)
	must(t, err)
	_, err = fw.Write(text)
	must(t, err)
	must(t, fw.Close())

	var buf bytes.Buffer
	w := NewWriter(&buf, WriterOptions{})
	e, err := w.AddBytes("text.cob", text, time.Now())
	must(t, err)
	must(t, w.Close(nil))
	if diff := e.CompressedSize - int64(plain.Len()); diff < -64 || diff > 64 {
		t.Errorf("compressed to %d bytes, one deflate stream takes %d", e.CompressedSize, plain.Len())
	}
}
