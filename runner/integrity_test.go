package runner

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"strings"
	"testing"

	"github.com/planb-backup/planb/providers/store"
)

// failingObject is an archive whose reads beyond an offset fail, as a
// store that loses its connection does.
type failingObject struct {
	data  []byte
	after int64
}

func (f *failingObject) ReadAt(p []byte, off int64) (int, error) {
	if off+int64(len(p)) > f.after {
		return 0, errors.New("connection reset by peer")
	}
	return bytes.NewReader(f.data).ReadAt(p, off)
}
func (f *failingObject) Read(p []byte) (int, error) { return 0, io.EOF }
func (f *failingObject) Size() int64                { return int64(len(f.data)) }
func (f *failingObject) Close() error               { return nil }

// damage returns a copy of an archive with one byte flipped where a check
// notices: in an entry's data, not in a field no check reads.
func damage(t *testing.T, archive []byte) []byte {
	t.Helper()
	ref := store.Ref{Kind: store.KindApplications, Name: "A"}
	for off := len(archive) / 4; off < len(archive); off++ {
		b := bytes.Clone(archive)
		b[off] ^= 1
		if _, err := checkObject(context.Background(), "t", ref, "A_2026-11-25-08-00-00.zip", &failingObject{data: b, after: int64(len(b))}); err != nil {
			return b
		}
	}
	t.Fatal("no flipped byte is noticed")
	return nil
}

func TestCheckObjectTellsDamagedFromUnreadable(t *testing.T) {
	good, _ := sealedArchive(t)
	ctx := context.Background()
	ref := store.Ref{Kind: store.KindApplications, Name: "A"}
	name := "A_2026-11-25-08-00-00.zip"

	if _, err := checkObject(ctx, "node", ref, name, &failingObject{data: good, after: int64(len(good))}); err != nil {
		t.Fatalf("a good archive: %v", err)
	}
	flipped := damage(t, good)
	_, err := checkObject(ctx, "node", ref, name, &failingObject{data: flipped, after: int64(len(flipped))})
	var d *DamagedError
	if !errors.As(err, &d) || !strings.Contains(err.Error(), "archive applications/A/"+name+" in store.node is damaged") {
		t.Errorf("a flipped byte: %v, want a *DamagedError naming the archive", err)
	}
	_, err = checkObject(ctx, "node", ref, name, &failingObject{data: good, after: int64(len(good)) / 2})
	var u *UnreadableError
	if !errors.As(err, &u) || !strings.Contains(err.Error(), "could not be read: connection reset by peer") {
		t.Errorf("a failing read: %v, want an *UnreadableError with the store's error", err)
	}
	if errors.As(err, &d) {
		t.Errorf("a failing read is reported as damage: %v", err)
	}
}

func TestCheckServerCopyDeletesABadCopy(t *testing.T) {
	good, _ := sealedArchive(t)
	ctx := context.Background()
	ref := store.Ref{Kind: store.KindApplications, Name: "A"}
	name := "A_2026-11-25-08-00-00.zip"
	put := func(st store.Store, data []byte) {
		t.Helper()
		up, err := st.Create(ctx, ref, name)
		if err != nil {
			t.Fatal(err)
		}
		defer up.Abort()
		if _, err := up.Write(data); err != nil {
			t.Fatal(err)
		}
		if err := up.Commit(ctx); err != nil {
			t.Fatal(err)
		}
	}
	src, err := store.NewLocal("src", t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	put(src, good)
	source, err := checkArchive(ctx, src, ref, name)
	if err != nil {
		t.Fatal(err)
	}

	dst, err := store.NewLocal("dst", t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	put(dst, good)
	if err := checkServerCopy(ctx, dst, ref, name, source); err != nil {
		t.Fatalf("a good copy: %v", err)
	}

	bad, err := store.NewLocal("bad", t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	put(bad, damage(t, good))
	err = checkServerCopy(ctx, bad, ref, name, source)
	if err == nil || !strings.Contains(err.Error(), "is damaged") || !strings.Contains(err.Error(), "the copy was deleted") {
		t.Fatalf("a damaged copy: %v", err)
	}
	if _, err := bad.Open(ctx, ref, name); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the damaged copy is still there: %v", err)
	}
}
