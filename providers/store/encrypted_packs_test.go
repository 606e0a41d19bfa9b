package store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io/fs"
	"os"
	"testing"

	"github.com/planb-backup/planb/providers/store/crypt"
)

func packOf(n int) ([]byte, string) {
	data := make([]byte, n)
	for i := range data {
		data[i] = byte(i*31 + i/977)
	}
	sum := sha256.Sum256(data)
	return data, hex.EncodeToString(sum[:])
}

// Packs in an encrypted store: written with the recipients only, stored as
// age files under the plain pack's id, their plain sizes known without a
// key, read back at plain offsets with the identity, across chunk
// boundaries and for sizes on them.
func TestEncryptedPacks(t *testing.T) {
	id := newAgeKey(t)
	ctx := context.Background()
	s3, _ := newS3(t)
	for _, inner := range []Store{newLocal(t), s3} {
		t.Run(inner.String(), func(t *testing.T) {
			writer := NewEncrypted(inner, testKeys(t, id, false), EncryptedOptions{})
			reader := NewEncrypted(inner, testKeys(t, id, true), EncryptedOptions{})
			for _, n := range []int{0, 1, 64 << 10, 64<<10 + 1, 200_000, 3<<20 + 5} {
				data, pid := packOf(n)
				for range 2 {
					if err := writer.PutPack(ctx, pid, bytes.NewReader(data), int64(n)); err != nil {
						t.Fatalf("PutPack of %d bytes: %v", n, err)
					}
				}
				if got, err := writer.StatPack(ctx, pid); err != nil || got != int64(n) {
					t.Fatalf("StatPack of %d bytes without a key: %d, %v", n, got, err)
				}
				raw, err := inner.(Packs).ReadPack(ctx, pid, 0, 22)
				if err != nil || !crypt.IsEncrypted(raw) {
					t.Fatalf("the stored pack of %d bytes starts %q (%v)", n, raw, err)
				}
				if n > 0 {
					if _, err := writer.ReadPack(ctx, pid, 0, 1); !errors.Is(err, ErrNoIdentity) {
						t.Fatalf("ReadPack without a key: %v", err)
					}
				}
				for _, r := range [][2]int{{0, n}, {n / 2, n - n/2}, {max(0, 64<<10-10), min(n, 64<<10+10) - max(0, 64<<10-10)}} {
					if r[1] < 0 || r[0]+r[1] > n {
						continue
					}
					got, err := reader.ReadPack(ctx, pid, int64(r[0]), int64(r[1]))
					if err != nil || !bytes.Equal(got, data[r[0]:r[0]+r[1]]) {
						t.Fatalf("ReadPack(%d, %d) of %d bytes: %d bytes, %v", r[0], r[1], n, len(got), err)
					}
				}
				if _, err := reader.ReadPack(ctx, pid, int64(n), 1); err == nil {
					t.Fatalf("a read past the end of a pack of %d bytes succeeded", n)
				}
			}
			list, err := writer.ListPacks(ctx)
			if err != nil || len(list) != 6 {
				t.Fatalf("ListPacks: %d packs, %v", len(list), err)
			}
			_, missing := packOf(7)
			if _, err := writer.StatPack(ctx, missing); !errors.Is(err, fs.ErrNotExist) {
				t.Fatalf("StatPack of a missing pack: %v", err)
			}
			for _, pk := range list {
				if err := writer.DeletePack(ctx, pk.ID); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}

// A tampered pack fails authentication, so does one cut short; a size no
// encryption can have is refused by StatPack already.
func TestEncryptedPackTampered(t *testing.T) {
	id := newAgeKey(t)
	ctx := context.Background()
	inner := newLocal(t)
	st := NewEncrypted(inner, testKeys(t, id, true), EncryptedOptions{})
	data, pid := packOf(300_000)
	if err := st.PutPack(ctx, pid, bytes.NewReader(data), int64(len(data))); err != nil {
		t.Fatal(err)
	}
	path := inner.packPath(pid)
	raw, _ := os.ReadFile(path)
	raw[200_000] ^= 1
	os.WriteFile(path, raw, 0o600)
	if _, err := st.ReadPack(ctx, pid, 190_000, 20_000); !errors.Is(err, ErrTampered) {
		t.Fatalf("tampered pack: %v", err)
	}
	raw[200_000] ^= 1
	os.WriteFile(path, raw[:len(raw)-5], 0o600)
	if _, err := st.ReadPack(ctx, pid, 0, 10); !errors.Is(err, ErrTampered) {
		t.Fatalf("pack cut short: %v", err)
	}
	// 300,000 bytes end in a chunk of 37,856 (+16): leave 5 bytes of it.
	os.WriteFile(path, raw[:len(raw)-37_872+5], 0o600)
	if _, err := st.StatPack(ctx, pid); !errors.Is(err, ErrTampered) {
		t.Fatalf("StatPack of an impossible size: %v", err)
	}
}

// A copy between stores with the same recipients made without a key
// brings every pack the target lacks, as it is, before the archive.
func TestEncryptedCopyBringsPacks(t *testing.T) {
	id := newAgeKey(t)
	ctx := context.Background()
	a := NewEncrypted(newLocal(t), testKeys(t, id, false), EncryptedOptions{})
	b := NewEncrypted(newLocal(t), testKeys(t, id, false), EncryptedOptions{})
	ref := Ref{Kind: KindApplications, Name: "shop"}
	name := "shop_2026-11-25-20-30-00.zip"
	put(t, a, ref, name, "index that names packs")
	data, pid := packOf(100_000)
	if err := a.PutPack(ctx, pid, bytes.NewReader(data), int64(len(data))); err != nil {
		t.Fatal(err)
	}
	if done, err := b.CopyFrom(ctx, a, ref, name); err != nil || !done {
		t.Fatalf("CopyFrom: %v, %v", done, err)
	}
	rawA, _ := os.ReadFile(a.Inner().(*Local).packPath(pid))
	rawB, err := os.ReadFile(b.Inner().(*Local).packPath(pid))
	if err != nil || !bytes.Equal(rawA, rawB) {
		t.Fatalf("the pack was not copied as it is: %v", err)
	}
}
