package store

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"strings"
	"testing"
)

// Redirects round-trip in local and S3 stores and through an encrypted
// store, which keeps them clear: written (replacing), read, listed among
// the packs without being taken for one, deleted (twice is no error); a
// missing one is fs.ErrNotExist.
func TestPackRedirects(t *testing.T) {
	ctx := context.Background()
	s3, _ := newS3(t)
	enc := NewEncrypted(newLocal(t), testKeys(t, newAgeKey(t), false), EncryptedOptions{})
	old := strings.Repeat("ab", 32)
	for _, st := range []interface {
		Packs
		PackRedirects
		String() string
	}{newLocal(t), s3, enc} {
		t.Run(st.String(), func(t *testing.T) {
			if _, err := st.ReadRedirect(ctx, old); !errors.Is(err, fs.ErrNotExist) {
				t.Fatalf("read of a missing redirect: %v, want fs.ErrNotExist", err)
			}
			for _, body := range []string{`{"first":1}`, `{"version":1}`} {
				if err := st.PutRedirect(ctx, old, []byte(body)); err != nil {
					t.Fatal(err)
				}
			}
			got, err := st.ReadRedirect(ctx, old)
			if err != nil || string(got) != `{"version":1}` {
				t.Fatalf("ReadRedirect = %q (%v)", got, err)
			}
			list, err := st.ListRedirects(ctx)
			if err != nil || len(list) != 1 || list[0].ID != old || list[0].ModTime.IsZero() {
				t.Fatalf("ListRedirects = %+v (%v)", list, err)
			}
			if packs, err := st.ListPacks(ctx); err != nil || len(packs) != 0 {
				t.Fatalf("ListPacks = %+v (%v): a redirect is no pack", packs, err)
			}
			if _, err := st.StatPack(ctx, old); !errors.Is(err, fs.ErrNotExist) {
				t.Fatalf("stat of the redirected pack: %v", err)
			}
			for range 2 {
				if err := st.DeleteRedirect(ctx, old); err != nil {
					t.Fatal(err)
				}
			}
			if list, err := st.ListRedirects(ctx); err != nil || len(list) != 0 {
				t.Fatalf("ListRedirects after the deletion = %+v (%v)", list, err)
			}
			if err := st.PutRedirect(ctx, "not an id", nil); err == nil {
				t.Fatal("a redirect of a bad pack id was written")
			}
		})
	}
	// Clear in the encrypted store: the wrapped store holds the bytes.
	if err := enc.PutRedirect(ctx, old, []byte(`{"version":1}`)); err != nil {
		t.Fatal(err)
	}
	if raw, err := enc.Inner().(*Local).ReadRedirect(ctx, old); err != nil || string(raw) != `{"version":1}` {
		t.Fatalf("the redirect in the wrapped store: %q (%v)", raw, err)
	}
}

// A copy without a key between encrypted stores brings the redirects the
// target lacks, with the packs.
func TestEncryptedCopyBringsRedirects(t *testing.T) {
	id := newAgeKey(t)
	ctx := context.Background()
	a := NewEncrypted(newLocal(t), testKeys(t, id, false), EncryptedOptions{})
	b := NewEncrypted(newLocal(t), testKeys(t, id, false), EncryptedOptions{})
	ref := Ref{Kind: KindApplications, Name: "shop"}
	name := "shop_2026-11-25-20-30-00.zip"
	put(t, a, ref, name, "index that names a repacked pack")
	data, pid := packOf(10_000)
	if err := a.PutPack(ctx, pid, bytes.NewReader(data), int64(len(data))); err != nil {
		t.Fatal(err)
	}
	old := strings.Repeat("cd", 32)
	if err := a.PutRedirect(ctx, old, []byte(`{"version":1}`)); err != nil {
		t.Fatal(err)
	}
	if done, err := b.CopyFrom(ctx, a, ref, name); err != nil || !done {
		t.Fatalf("CopyFrom: %v, %v", done, err)
	}
	if got, err := b.ReadRedirect(ctx, old); err != nil || string(got) != `{"version":1}` {
		t.Fatalf("the target's redirect: %q (%v)", got, err)
	}
	if _, err := b.StatPack(ctx, pid); err != nil {
		t.Fatalf("the target's pack: %v", err)
	}
}
