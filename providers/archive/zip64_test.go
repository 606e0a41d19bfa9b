package archive

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// TestZip64ManyEntries writes more entries than the classic end record can count.
func TestZip64ManyEntries(t *testing.T) {
	const n = 70_000
	path := filepath.Join(t.TempDir(), "many.zip")
	out, err := os.Create(path)
	must(t, err)
	w := NewWriter(out, WriterOptions{})
	var wg sync.WaitGroup
	for g := range 2 {
		wg.Go(func() {
			for i := g; i < n; i += 2 {
				if _, err := w.AddBytes(fmt.Sprintf("files/%03d/%d.txt", i%500, i), fmt.Appendf(nil, "entry %d\n", i), time.Time{}); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	must(t, w.Close(&Manifest{Kind: "persistence"}))
	must(t, out.Close())

	unzipTest(t, path)
	r := openFile(t, path)
	if got := len(r.Entries()); got != n+1 {
		t.Fatalf("%d entries, want %d", got, n+1)
	}
	must(t, r.Verify(context.Background()))
}

// TestZip64LargeEntry streams a 4.1 GiB entry (zeros, which deflate fast) and checks that
// Info-ZIP and the Reader accept the ZIP64 sizes: analysis schemas grow past 4 GiB. It takes
// about 25 s on 2 cores.
func TestZip64LargeEntry(t *testing.T) {
	const size = 4<<30 + 100<<20
	path := filepath.Join(t.TempDir(), "large.zip")
	out, err := os.Create(path)
	must(t, err)
	w := NewWriter(out, WriterOptions{TempDir: t.TempDir()})
	e, err := w.AddStream(context.Background(), "schemas/huge.cssbackup", 0o600, time.Time{}, func(dst io.Writer) error {
		_, err := io.CopyBuffer(dst, io.LimitReader(zeroReader{}, size), make([]byte, 1<<20))
		return err
	})
	must(t, err)
	if e.Size != size {
		t.Fatalf("entry size %d, want %d", e.Size, size)
	}
	_, err = w.AddBytes("options.xml", []byte("<options/>"), time.Time{})
	must(t, err)
	must(t, w.Close(nil))
	must(t, out.Close())

	unzipTest(t, path)
	r := openFile(t, path)
	for _, info := range r.Entries() {
		if info.Name == "schemas/huge.cssbackup" && info.Size != size {
			t.Errorf("central directory size %d, want %d", info.Size, size)
		}
	}
	must(t, r.Verify(context.Background()))
}
