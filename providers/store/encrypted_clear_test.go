package store

import (
	"context"
	"errors"
	"testing"

	"github.com/planb-backup/planb/providers/store/crypt"
)

// A ClearRecords entry "*<suffix>" keeps clear every record whose name ends
// with the suffix, readable without a key; other records stay sealed.
func TestEncryptedClearRecordSuffix(t *testing.T) {
	id := newAgeKey(t)
	inner := newLocal(t)
	writer := NewEncrypted(inner, testKeys(t, id, false), EncryptedOptions{ClearRecords: []string{"nodes.json", "*.packs.json"}})
	ctx := context.Background()
	ref := Ref{Kind: KindApplications, Name: "shop"}
	name := "shop_2026-11-25-20-30-00.zip.packs.json"
	body := `{"version":1,"packs":["ab"]}`
	if err := writer.WriteRecord(ctx, ref, name, []byte(body)); err != nil {
		t.Fatal(err)
	}
	raw, err := inner.ReadRecord(ctx, ref, name)
	if err != nil || string(raw) != body {
		t.Fatalf("record matching *.packs.json stored as %q, %v: want it clear", raw, err)
	}
	if b, err := writer.ReadRecord(ctx, ref, name); err != nil || string(b) != body {
		t.Fatalf("clear record read without a key: %q, %v", b, err)
	}
	if err := writer.WriteRecord(ctx, ref, "packs.json.old.json", []byte(body)); err != nil {
		t.Fatal(err)
	}
	raw, err = inner.ReadRecord(ctx, ref, "packs.json.old.json")
	if err != nil || !crypt.IsEncrypted(raw) {
		t.Fatalf("record not matching the suffix stored as %q, %v: want it sealed", raw, err)
	}
	if _, err := writer.ReadRecord(ctx, ref, "packs.json.old.json"); !errors.Is(err, ErrNoIdentity) {
		t.Fatalf("sealed record read without a key: %v", err)
	}
}
