package store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io/fs"
	"strings"
	"testing"
	"time"
)

// Packs round-trip in both kinds of store: ranged reads, idempotent
// writes, listing that leaves out everything but complete packs, and a
// missing pack is fs.ErrNotExist.
func TestPacks(t *testing.T) {
	local, err := NewLocal("node", t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	s3, _ := newS3(t)
	data := []byte(strings.Repeat("pack content ", 1000))
	sum := sha256.Sum256(data)
	id := hex.EncodeToString(sum[:])
	for _, st := range []interface {
		Store
		Packs
	}{local, s3} {
		t.Run(st.String(), func(t *testing.T) {
			ctx := context.Background()
			if _, err := st.StatPack(ctx, id); !errors.Is(err, fs.ErrNotExist) {
				t.Fatalf("stat of a missing pack: %v, want fs.ErrNotExist", err)
			}
			if _, err := st.ReadPack(ctx, id, 0, 4); !errors.Is(err, fs.ErrNotExist) {
				t.Fatalf("read of a missing pack: %v, want fs.ErrNotExist", err)
			}
			for range 2 {
				if err := st.PutPack(ctx, id, bytes.NewReader(data), int64(len(data))); err != nil {
					t.Fatal(err)
				}
			}
			got, err := st.ReadPack(ctx, id, 13, 20)
			if err != nil || !bytes.Equal(got, data[13:33]) {
				t.Fatalf("ReadPack = %q (%v), want %q", got, err, data[13:33])
			}
			if _, err := st.ReadPack(ctx, id, int64(len(data))-2, 10); err == nil {
				t.Fatal("a read past the end of a pack succeeded")
			}
			if n, err := st.StatPack(ctx, id); err != nil || n != int64(len(data)) {
				t.Fatalf("StatPack = %d (%v), want %d", n, err, len(data))
			}
			packs, err := st.ListPacks(ctx)
			if err != nil || len(packs) != 1 || packs[0].ID != id || packs[0].Size != int64(len(data)) {
				t.Fatalf("ListPacks = %+v (%v), want the one pack", packs, err)
			}
			// A touched pack is young again, whatever its age. S3 keeps
			// whole seconds: the pack was written more than a second
			// before the touch, so its old time is before the touch's
			// second.
			time.Sleep(1100 * time.Millisecond)
			touched := time.Now().Truncate(time.Second)
			if packs[0].ModTime.Compare(touched) >= 0 {
				t.Fatalf("pack written at %s, not before %s", packs[0].ModTime, touched)
			}
			if err := st.(PackToucher).TouchPack(ctx, id); err != nil {
				t.Fatal(err)
			}
			if packs, err := st.ListPacks(ctx); err != nil || len(packs) != 1 || packs[0].ModTime.Before(touched) {
				t.Fatalf("ListPacks after TouchPack = %+v (%v), want a time from %s on", packs, err, touched)
			}
			if err := st.(PackToucher).TouchPack(ctx, strings.Repeat("0", 64)); !errors.Is(err, fs.ErrNotExist) {
				t.Fatalf("touch of a missing pack: %v, want fs.ErrNotExist", err)
			}
			// Writing a pack that is there renews it too.
			time.Sleep(1100 * time.Millisecond)
			rewritten := time.Now().Truncate(time.Second)
			if err := st.PutPack(ctx, id, bytes.NewReader(data), int64(len(data))); err != nil {
				t.Fatal(err)
			}
			if packs, err := st.ListPacks(ctx); err != nil || len(packs) != 1 || packs[0].ModTime.Before(rewritten) {
				t.Fatalf("ListPacks after a second PutPack = %+v (%v), want a time from %s on", packs, err, rewritten)
			}
			if got, err := st.ReadPack(ctx, id, 0, int64(len(data))); err != nil || !bytes.Equal(got, data) {
				t.Fatalf("ReadPack after TouchPack: %v", err)
			}
			if list, err := st.List(ctx); err != nil || len(list) != 0 {
				t.Fatalf("List with a pack only: %v (%v), want nothing", list, err)
			}
			if err := st.PutPack(ctx, "../x", bytes.NewReader(nil), 0); err == nil {
				t.Fatal("a pack id that is not a hash was accepted")
			}
			if err := st.DeletePack(ctx, id); err != nil {
				t.Fatal(err)
			}
			if err := st.DeletePack(ctx, id); err != nil {
				t.Fatalf("second delete: %v", err)
			}
			if packs, err := st.ListPacks(ctx); err != nil || len(packs) != 0 {
				t.Fatalf("ListPacks after delete = %+v (%v)", packs, err)
			}
		})
	}
}
