package runner

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/planb-backup/planb/providers/archive"
	"github.com/planb-backup/planb/providers/archive/cas"
	"github.com/planb-backup/planb/providers/store"
	"github.com/planb-backup/planb/providers/store/catalog"
)

// indexArchive commits an archive of ref whose delivery folder is idx.
func indexArchive(t *testing.T, st store.Store, ref store.Ref, name string, idx *cas.Index) {
	t.Helper()
	ctx := context.Background()
	data, err := json.Marshal(idx)
	if err != nil {
		t.Fatal(err)
	}
	up, err := st.Create(ctx, ref, name)
	if err != nil {
		t.Fatal(err)
	}
	w := archive.NewWriter(up, archive.WriterOptions{})
	if _, err := w.AddBytes("index/delivery.json", data, time.Now()); err != nil {
		t.Fatal(err)
	}
	m := &archive.Manifest{FormatVersion: archive.FormatVersionPacks, Delivery: &archive.TreeInfo{Prefix: "delivery/", Index: "index/delivery.json"}}
	if err := w.Close(m); err != nil {
		t.Fatal(err)
	}
	if err := up.Commit(ctx); err != nil {
		t.Fatal(err)
	}
}

func randomHex(n int) string {
	b := make([]byte, n/2)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// ageAllPacks dates every pack of st age ago.
func ageAllPacks(t *testing.T, st *store.Local, age time.Duration) {
	t.Helper()
	list, err := st.ListPacks(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	when := time.Now().Add(-age)
	for _, p := range list {
		if err := os.Chtimes(filepath.Join(st.Root(), filepath.FromSlash(store.PackKey(p.ID))), when, when); err != nil {
			t.Fatal(err)
		}
	}
}

// A pack of which the archive that stays references a tenth is repacked
// by the collection after the archive that referenced the rest is gone:
// the old pack goes, its redirect and the new pack stay, and the archive
// verifies and restores through them. A second collection changes
// nothing; once the archive is gone too, the new pack and the redirect go.
func TestCollectionRepacksMostlyGarbagePacks(t *testing.T) {
	ctx := context.Background()
	st, err := store.NewLocal("node", t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(t.TempDir(), "delivery")
	files := map[string]string{"v1/keep.txt": randomHex(8 << 10), "v1/old1.bin": randomHex(40 << 10), "v1/old2.bin": randomHex(40 << 10)}
	for name, body := range files {
		p := filepath.Join(src, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	first, _, err := cas.Build(ctx, src, st, cas.BuildOptions{})
	if err != nil {
		t.Fatal(err)
	}
	old := first.Packs()[0]
	os.Remove(filepath.Join(src, "v1/old1.bin"))
	os.Remove(filepath.Join(src, "v1/old2.bin"))
	second, _, err := cas.Build(ctx, src, st, cas.BuildOptions{Parent: first, Present: map[string]bool{old: true}})
	if err != nil {
		t.Fatal(err)
	}
	ref := store.Ref{Kind: store.KindApplications, Name: "A"}
	t0 := time.Date(2026, 11, 25, 8, 0, 0, 0, time.UTC)
	n1, n2 := catalog.ArchiveName("A", t0), catalog.ArchiveName("A", t0.Add(time.Hour))
	indexArchive(t, st, ref, n1, first)
	indexArchive(t, st, ref, n2, second)
	ageAllPacks(t, st, 10*24*time.Hour)

	// Both archives live: the pack is all live, nothing moves.
	sw, err := CollectPacks(ctx, st, time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if sw.Repacked != 0 || !packExists(st, old) {
		t.Fatalf("pack repacked while every content is live: %+v", sw)
	}

	if err := st.Delete(ctx, ref, n1); err != nil {
		t.Fatal(err)
	}
	sw, err = CollectPacks(ctx, st, time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if sw.Repacked != 1 || sw.RepackedBytes < 80<<10 || sw.NoRepack != "" {
		t.Fatalf("collection after the prune: %+v, want one pack repacked freeing 80 KiB", sw)
	}
	if packExists(st, old) {
		t.Fatal("the old pack is still there")
	}
	data, err := st.ReadRedirect(ctx, old)
	if err != nil {
		t.Fatal(err)
	}
	r, err := cas.ParseRedirect(old, data)
	if err != nil {
		t.Fatal(err)
	}
	newPack := r.Targets()[0]
	if !packExists(st, newPack) {
		t.Fatal("the new pack is missing")
	}
	verifyArchive(t, st, ref, n2)
	out := filepath.Join(t.TempDir(), "out")
	if _, err := restoreTree(t, st, ref, n2, out); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(out, "v1/keep.txt"))
	if err != nil || string(got) != files["v1/keep.txt"] {
		t.Fatalf("restored keep.txt differs (%v)", err)
	}

	sw, err = CollectPacks(ctx, st, time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if sw.Repacked != 0 || sw.Deleted != 0 || sw.RedirectsDeleted != 0 || !packExists(st, newPack) {
		t.Fatalf("second collection: %+v", sw)
	}

	// The last archive goes: its contents and the redirect go after grace.
	if err := st.Delete(ctx, ref, n2); err != nil {
		t.Fatal(err)
	}
	sw, err = CollectPacks(ctx, st, time.Hour, time.Now().Add(2*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if sw.Deleted != 1 || sw.RedirectsDeleted != 1 || packExists(st, newPack) {
		t.Fatalf("collection after the last archive: %+v", sw)
	}
	if _, err := st.ReadRedirect(ctx, old); err == nil {
		t.Fatal("the redirect of a pack nothing references is still there")
	}
}

// verifyArchive runs VerifyPacks on archive name of ref and fails on any
// problem.
func verifyArchive(t *testing.T, st store.Store, ref store.Ref, name string) {
	t.Helper()
	ctx := context.Background()
	obj, err := st.Open(ctx, ref, name)
	if err != nil {
		t.Fatal(err)
	}
	defer obj.Close()
	if err := VerifyPacks(ctx, st, ref, name, obj, obj.Size()); err != nil {
		t.Fatal(err)
	}
	rd, err := archive.Open(obj, obj.Size())
	if err != nil {
		t.Fatal(err)
	}
	if err := checkPacked(ctx, st, ref, name, rd); err != nil {
		t.Fatal(err)
	}
}

// restoreTree extracts the delivery folder of archive name of ref into dir
// as a restore does.
func restoreTree(t *testing.T, st store.Store, ref store.Ref, name, dir string) (int64, error) {
	t.Helper()
	ctx := context.Background()
	obj, err := st.Open(ctx, ref, name)
	if err != nil {
		t.Fatal(err)
	}
	defer obj.Close()
	rd, err := archive.Open(obj, obj.Size())
	if err != nil {
		t.Fatal(err)
	}
	return extractTree(ctx, st, name, rd, "delivery/", dir)
}

// A copy of a pack that was repacked in the source brings the packs its
// redirect sends contents to, then the redirect.
func TestCopyBringsRedirects(t *testing.T) {
	ctx := context.Background()
	from, err := store.NewLocal("from", t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	to, err := store.NewLocal("to", t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	old := putPack(t, from, "live"+randomHex(200), 0)
	r, err := cas.Repack(ctx, from, old, []cas.Span{{Offset: 0, Length: 4}}, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	data, _ := r.Marshal()
	if err := from.PutRedirect(ctx, old, data); err != nil {
		t.Fatal(err)
	}
	if err := from.DeletePack(ctx, old); err != nil {
		t.Fatal(err)
	}
	if err := copyPackOrRedirect(ctx, from, to, old, 0); err != nil {
		t.Fatal(err)
	}
	if !packExists(to, r.Targets()[0]) || packExists(to, old) {
		t.Fatal("the target lacks the new pack, or holds the old one")
	}
	got, err := to.ReadRedirect(ctx, old)
	if err != nil || string(got) != string(data) {
		t.Fatalf("the target's redirect: %q, %v", got, err)
	}
	b, err := to.ReadPack(ctx, r.Targets()[0], 0, 4)
	if err != nil || string(b) != "live" {
		t.Fatalf("the new pack in the target: %q, %v", b, err)
	}
}
