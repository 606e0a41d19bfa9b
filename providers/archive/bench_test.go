package archive

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// Benchmark inputs, generated once per process: a tree of 5,000 source-like files and a
// 200 MiB file of pg_dump-like COPY data.
var (
	fixtureOnce sync.Once
	fixtureDir  string
	fixtureErr  error
)

const (
	benchTreeFiles = 5000
	benchDumpSize  = 200 << 20
)

func benchFixture(b *testing.B) (tree, dump string, treeBytes int64) {
	b.Helper()
	fixtureOnce.Do(func() {
		fixtureDir, fixtureErr = os.MkdirTemp("", "planb-archive-bench-")
		if fixtureErr != nil {
			return
		}
		rng := rand.New(rand.NewPCG(7, 8))
		for i := range benchTreeFiles {
			p := filepath.Join(fixtureDir, "tree", fmt.Sprintf("V%d", i%3), fmt.Sprintf("mod%02d", i%40), fmt.Sprintf("prog%04d.cob", i))
			if fixtureErr = os.MkdirAll(filepath.Dir(p), 0o755); fixtureErr != nil {
				return
			}
			if fixtureErr = os.WriteFile(p, sourceText(rng, 500+rng.IntN(16_000)), 0o644); fixtureErr != nil {
				return
			}
		}
		f, err := os.Create(filepath.Join(fixtureDir, "dump.cssbackup"))
		if err != nil {
			fixtureErr = err
			return
		}
		defer f.Close()
		fixtureErr = dumpText(f, rng, benchDumpSize)
	})
	if fixtureErr != nil {
		b.Fatal(fixtureErr)
	}
	tree = filepath.Join(fixtureDir, "tree")
	must(b, filepath.Walk(tree, func(_ string, info os.FileInfo, err error) error {
		if err == nil && info.Mode().IsRegular() {
			treeBytes += info.Size()
		}
		return err
	}))
	return tree, filepath.Join(fixtureDir, "dump.cssbackup"), treeBytes
}

func TestMain(m *testing.M) {
	code := m.Run()
	if fixtureDir != "" {
		os.RemoveAll(fixtureDir)
	}
	os.Exit(code)
}

// writeArchive runs one archive build into a file in dir and returns its size.
func writeArchive(b *testing.B, dir string, opts WriterOptions, add func(w *Writer) error) int64 {
	b.Helper()
	path := filepath.Join(dir, "out.zip")
	out, err := os.Create(path)
	must(b, err)
	defer os.Remove(path)
	w := NewWriter(out, opts)
	must(b, add(w))
	must(b, w.Close(nil))
	info, err := out.Stat()
	must(b, err)
	must(b, out.Close())
	return info.Size()
}

func addStreamFile(w *Writer, name, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = w.AddStream(context.Background(), name, 0o600, time.Time{}, func(dst io.Writer) error {
		_, err := io.Copy(dst, f)
		return err
	})
	return err
}

// BenchmarkWriterTree archives the 5,000-file tree with AddTree (compare with
// BenchmarkZipBaseline/tree).
func BenchmarkWriterTree(b *testing.B) {
	tree, _, n := benchFixture(b)
	for _, level := range []int{1, 5} {
		b.Run(fmt.Sprintf("L%d", level), func(b *testing.B) {
			b.SetBytes(n)
			var size int64
			for b.Loop() {
				size = writeArchive(b, b.TempDir(), WriterOptions{Level: level}, func(w *Writer) error {
					_, err := w.AddTree(context.Background(), "delivery", tree, TreeOptions{})
					return err
				})
			}
			b.ReportMetric(float64(size)/float64(n)*100, "%size")
		})
	}
}

// BenchmarkWriterStream archives 200 MiB of pg_dump-like data with AddStream (compare with
// BenchmarkZipBaseline/stream).
func BenchmarkWriterStream(b *testing.B) {
	_, dump, _ := benchFixture(b)
	for _, level := range []int{1, 5} {
		b.Run(fmt.Sprintf("L%d", level), func(b *testing.B) {
			b.SetBytes(benchDumpSize)
			var size int64
			for b.Loop() {
				size = writeArchive(b, b.TempDir(), WriterOptions{Level: level}, func(w *Writer) error {
					return addStreamFile(w, "schemas/x.cssbackup", dump)
				})
			}
			b.ReportMetric(float64(size)/benchDumpSize*100, "%size")
		})
	}
}

// BenchmarkZipBaseline runs Info-ZIP's zip (default level 6, one core) on the same inputs.
func BenchmarkZipBaseline(b *testing.B) {
	requireTool(b, "zip")
	tree, dump, n := benchFixture(b)
	cases := map[string]struct {
		dir, arg string
		bytes    int64
	}{
		"tree":   {filepath.Dir(tree), filepath.Base(tree), n},
		"stream": {filepath.Dir(dump), filepath.Base(dump), benchDumpSize},
	}
	for name, tc := range cases {
		b.Run(name, func(b *testing.B) {
			b.SetBytes(tc.bytes)
			out := filepath.Join(b.TempDir(), "out.zip")
			var size int64
			for b.Loop() {
				os.Remove(out)
				cmd := exec.Command("zip", "-qr", out, tc.arg)
				cmd.Dir = tc.dir
				if msg, err := cmd.CombinedOutput(); err != nil {
					b.Fatalf("zip: %v\n%s", err, msg)
				}
				info, err := os.Stat(out)
				must(b, err)
				size = info.Size()
			}
			b.ReportMetric(float64(size)/float64(tc.bytes)*100, "%size")
		})
	}
}
