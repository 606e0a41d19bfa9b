package runner

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/planb-backup/planb/providers/archive/cas"
	"github.com/planb-backup/planb/providers/store"
	"github.com/planb-backup/planb/providers/store/catalog"
	"github.com/planb-backup/planb/providers/store/crypt"
)

// In an encrypted store, a host without the identity repacks nothing
// (it cannot read the offsets) and says why; a host with it repacks, the
// new pack encrypted like any other; a later keyless collection, marking
// from the clear records and redirects, keeps the new pack, and the
// archive verifies and restores with the identity.
func TestRepackInEncryptedStore(t *testing.T) {
	ctx := context.Background()
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(t.TempDir(), "key.txt")
	if err := os.WriteFile(keyFile, []byte(id.String()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	inner, err := store.NewLocal("node", t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	encrypted := func(identity string) store.Store {
		k, err := crypt.NewKeys([]string{id.Recipient().String()}, identity)
		if err != nil {
			t.Fatal(err)
		}
		return store.NewEncrypted(inner, k, store.EncryptedOptions{ClearRecords: []string{"*" + PacksRecordSuffix}})
	}
	keyed, keyless := encrypted(keyFile), encrypted("")
	packs := keyed.(store.Packs)

	src := filepath.Join(t.TempDir(), "delivery")
	files := map[string]string{"v1/keep.txt": randomHex(8 << 10), "v1/old1.bin": randomHex(40 << 10), "v1/old2.bin": randomHex(40 << 10)}
	writeTestFiles(t, src, files)
	first, _, err := cas.Build(ctx, src, packs, cas.BuildOptions{})
	if err != nil {
		t.Fatal(err)
	}
	old := first.Packs()[0]
	os.Remove(filepath.Join(src, "v1/old1.bin"))
	os.Remove(filepath.Join(src, "v1/old2.bin"))
	second, _, err := cas.Build(ctx, src, packs, cas.BuildOptions{Parent: first, Present: map[string]bool{old: true}})
	if err != nil {
		t.Fatal(err)
	}
	ref := store.Ref{Kind: store.KindApplications, Name: "A"}
	t0 := time.Date(2026, 11, 25, 8, 0, 0, 0, time.UTC)
	n1, n2 := catalog.ArchiveName("A", t0), catalog.ArchiveName("A", t0.Add(time.Hour))
	for name, idx := range map[string]*cas.Index{n1: first, n2: second} {
		if err := writePacksRecord(ctx, keyed, ref, name, idx.Packs()); err != nil {
			t.Fatal(err)
		}
		indexArchive(t, keyed, ref, name, idx)
	}
	ageAllPacks(t, inner, 10*24*time.Hour)
	if err := keyed.Delete(ctx, ref, n1); err != nil {
		t.Fatal(err)
	}

	sw, err := CollectPacks(ctx, keyless, time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if sw.Repacked != 0 || sw.NoRepack == "" || !packExists(inner, old) {
		t.Fatalf("keyless collection: %+v, want no repack and a reason", sw)
	}

	sw, err = CollectPacks(ctx, keyed, time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if sw.Repacked != 1 || packExists(inner, old) {
		t.Fatalf("collection with the identity: %+v, want the pack repacked", sw)
	}
	list, err := inner.ListRedirects(ctx)
	if err != nil || len(list) != 1 {
		t.Fatalf("redirects %+v (%v)", list, err)
	}
	data, err := inner.ReadRedirect(ctx, old)
	if err != nil {
		t.Fatal(err)
	}
	r, err := cas.ParseRedirect(old, data)
	if err != nil {
		t.Fatal(err)
	}
	newPack := r.Targets()[0]
	raw, err := inner.ReadPack(ctx, newPack, 0, 22)
	if err != nil || !crypt.IsEncrypted(raw) {
		t.Fatalf("the new pack starts %q (%v): want an age file", raw, err)
	}

	// Hours later, a keyless collection keeps the new pack through the
	// redirect of the pack the kept archive's record names.
	sw, err = CollectPacks(ctx, keyless, time.Hour, time.Now().Add(3*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if !packExists(inner, newPack) || sw.RedirectsDeleted != 0 {
		t.Fatalf("keyless collection after the repack: %+v; the new pack or its redirect went", sw)
	}
	verifyArchive(t, keyed, ref, n2)
	out := filepath.Join(t.TempDir(), "out")
	if _, err := restoreTree(t, keyed, ref, n2, out); err != nil {
		t.Fatal(err)
	}
	if got, err := os.ReadFile(filepath.Join(out, "v1/keep.txt")); err != nil || string(got) != files["v1/keep.txt"] {
		t.Fatalf("restored keep.txt differs (%v)", err)
	}
}
