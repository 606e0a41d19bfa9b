package runner

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/planb-backup/planb/providers/archive"
)

// sealedArchive writes a small archive through a sealWriter.
func sealedArchive(t *testing.T) ([]byte, *sealWriter) {
	t.Helper()
	var buf bytes.Buffer
	sw := newSealWriter(&buf)
	w := archive.NewWriter(sw, archive.WriterOptions{TempDir: t.TempDir()})
	if _, err := w.AddBytes("options.xml", []byte(strings.Repeat("<option/>", 100)), time.Now()); err != nil {
		t.Fatal(err)
	}
	if _, err := w.AddStream(context.Background(), "schemas/a.cssbackup", 0o600, time.Now(), func(out io.Writer) error {
		_, err := io.WriteString(out, strings.Repeat("COPY a FROM stdin;\n", 1000))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(&archive.Manifest{FormatVersion: archive.FormatVersion, Resource: "application.A"}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), sw
}

func TestCheckWritten(t *testing.T) {
	good, sent := sealedArchive(t)
	ctx := context.Background()
	if err := checkWritten(ctx, bytes.NewReader(good), int64(len(good)), sent, true); err != nil {
		t.Fatalf("a good archive fails the check: %v", err)
	}
	flipped := bytes.Clone(good)
	flipped[len(flipped)/4] ^= 1
	cases := map[string]struct {
		data      []byte
		hashBytes bool
		want      string
	}{
		"a flipped byte":           {flipped, true, "the stored bytes differ from the bytes written"},
		"a truncated archive":      {good[:len(good)-10], false, "bytes stored"},
		"no end of central record": {append(bytes.Clone(good[:len(good)-22]), make([]byte, 22)...), false, "open archive"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			err := checkWritten(ctx, bytes.NewReader(c.data), int64(len(c.data)), sent, c.hashBytes)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want %q", err, c.want)
			}
		})
	}
}
