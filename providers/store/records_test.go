package store

import (
	"context"
	"errors"
	"io/fs"
	"testing"
)

// Records round-trip in both kinds of store, are replaced whole, are
// never listed as archives, and a missing one is fs.ErrNotExist.
func TestRecords(t *testing.T) {
	local, err := NewLocal("node", t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	s3, _ := newS3(t)
	ref := Ref{Kind: "applications", Name: "A B"}
	for _, st := range []Store{local, s3} {
		t.Run(st.String(), func(t *testing.T) {
			ctx := context.Background()
			if _, err := st.ReadRecord(ctx, ref, RestoreRecord); !errors.Is(err, fs.ErrNotExist) {
				t.Fatalf("read of a missing record: %v, want fs.ErrNotExist", err)
			}
			for _, v := range []string{`{"archive":"one"}`, `{"archive":"two"}`} {
				if err := st.WriteRecord(ctx, ref, RestoreRecord, []byte(v)); err != nil {
					t.Fatal(err)
				}
				got, err := st.ReadRecord(ctx, ref, RestoreRecord)
				if err != nil || string(got) != v {
					t.Fatalf("read back %q (%v), want %q", got, err, v)
				}
			}
			list, err := st.List(ctx)
			if err != nil || len(list) != 0 {
				t.Fatalf("List with a record only: %v (%v), want nothing", list, err)
			}
			if err := st.DeleteRecord(ctx, ref, RestoreRecord); err != nil {
				t.Fatal(err)
			}
			if err := st.DeleteRecord(ctx, ref, RestoreRecord); err != nil {
				t.Fatalf("second delete: %v", err)
			}
			if _, err := st.ReadRecord(ctx, ref, RestoreRecord); !errors.Is(err, fs.ErrNotExist) {
				t.Fatalf("read after delete: %v, want fs.ErrNotExist", err)
			}
			if err := st.WriteRecord(ctx, ref, "../x.json", nil); err == nil {
				t.Fatal("a record name with a slash was accepted")
			}
		})
	}
}
