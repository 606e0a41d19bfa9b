package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// packIDs returns the ids of the packs a local store at root holds, sorted.
func packIDs(t *testing.T, root string) []string {
	t.Helper()
	var ids []string
	for _, p := range packFiles(t, root) {
		ids = append(ids, strings.TrimSuffix(filepath.Base(p), ".pack"))
	}
	slices.Sort(ids)
	return ids
}

// packsRecordPath is the packs record of archive name of application shop
// in a local store at root.
func packsRecordPath(root, name string) string {
	return filepath.Join(root, "records", "applications", "shop", name+".packs.json")
}

// readPacksRecord reads the packs record of archive name of application
// shop in a local store at root: it must be clear JSON of version 1 that
// holds pack ids and nothing else.
func readPacksRecord(t *testing.T, root, name string) []string {
	t.Helper()
	raw := mustRead(t, packsRecordPath(root, name))
	var rec struct {
		Version int      `json:"version"`
		Packs   []string `json:"packs"`
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&rec); err != nil || rec.Version != 1 || len(rec.Packs) == 0 {
		t.Fatalf("packs record of %s: %v, %q", name, err, raw)
	}
	hex := regexp.MustCompile(`^[0-9a-f]{64}$`)
	for _, id := range rec.Packs {
		if !hex.MatchString(id) {
			t.Errorf("packs record of %s lists %q, not a pack id", name, id)
		}
	}
	return rec.Packs
}

// TestKeylessCollectsEncryptedPacks: a writer without any identity backs
// shop up incrementally into the encrypted store twice, the delivery
// replaced in between, and the prune of keep_last = 1 collects the packs
// only the first archive referenced, from the clear packs records; the
// kept archive verifies and restores with the identity, and fails verify
// while its record lacks one of its packs. A keyless copy
// from the plain store into the encrypted one writes the record, and a
// keyless copy between two encrypted stores carries it over. An encrypted
// archive that has lost its record stops the collection, saying so, with
// nothing deleted.
func TestKeylessCollectsEncryptedPacks(t *testing.T) {
	root := t.TempDir()
	s := newSealedEstate(t, localSealed(t, root))
	path := filepath.Join(s.dir, "estate.hcl")
	cfg := mustRead(t, path)
	cfg = bytes.Replace(cfg, []byte("  delivery_folder = "), []byte("  incremental     = true\n  delivery_folder = "), 1)
	cfg = bytes.Replace(cfg, []byte("store \"vault\" {\n"), []byte("store \"vault\" {\n  pack_grace = \"1s\"\n"), 1)
	os.WriteFile(path, cfg, 0o644)
	const first, second = "shop_2026-11-25-08-00-00.zip", "shop_2026-11-26-09-00-00.zip"

	s.as(t, "", 0, "apply", "--auto-approve", "--target", "application.shop", "--now", "2026-11-25T08:00:00Z")
	firstPacks := readPacksRecord(t, root, first)
	if held := packIDs(t, root); !slices.Equal(held, firstPacks) {
		t.Fatalf("after the first backup the store holds packs %v, its record lists %v", held, firstPacks)
	}
	os.RemoveAll(s.delivery)
	writeTree(t, s.delivery, map[string]string{"v9/src/ONLY.cob": sourceText(10 << 10), "v9/README": "nine"})
	want := treeSnapshot(t, s.delivery)
	time.Sleep(1100 * time.Millisecond) // the first packs are past their grace
	r := s.as(t, "", 0, "apply", "--auto-approve", "--target", "application.shop", "--now", "2026-11-26T09:00:00Z")
	if !strings.Contains(r.stdout, "prune application.shop in store.vault") || strings.Contains(r.stdout+r.stderr, "packs not collected") {
		t.Fatalf("the keyless prune:\n%s\n%s", r.stdout, r.stderr)
	}
	if _, err := os.Stat(packsRecordPath(root, first)); !os.IsNotExist(err) {
		t.Errorf("the record of the pruned archive is still there: %v", err)
	}
	secondPacks := readPacksRecord(t, root, second)
	if held := packIDs(t, root); !slices.Equal(held, secondPacks) {
		t.Errorf("after the keyless prune the store holds packs %v, the kept archive references %v", held, secondPacks)
	}
	collected := 0
	for _, id := range firstPacks {
		if !slices.Contains(secondPacks, id) {
			collected++
		}
	}
	if collected == 0 {
		t.Fatal("the first archive referenced no pack of its own: the test proves nothing")
	}
	s.as(t, s.node.file, 0, "verify", "application.shop")
	// A record that lacks a pack the index references fails verify: a
	// collection would delete the pack.
	good := mustRead(t, packsRecordPath(root, second))
	os.WriteFile(packsRecordPath(root, second), []byte(`{"version":1,"packs":[]}`), 0o600)
	r = s.as(t, s.node.file, 1, "verify", "application.shop")
	if !strings.Contains(r.stdout, "FAILED") || !strings.Contains(r.stdout, "does not list pack "+secondPacks[0]) {
		t.Errorf("verify with a packs record that lacks a pack:\n%s", r.stdout)
	}
	os.WriteFile(packsRecordPath(root, second), good, 0o600)
	os.WriteFile(filepath.Join(s.delivery, "v9/README"), []byte("changed"), 0o644)
	planFile := filepath.Join(t.TempDir(), "restore.plan")
	s.as(t, s.node.file, 0, "plan", "--restore", "application.shop", "--store", "vault", "--no-safety-backup", "--out", planFile, "--now", "2026-11-26T10:00:00Z")
	s.as(t, s.node.file, 0, "apply", planFile)
	assertSameTree(t, want, treeSnapshot(t, s.delivery))

	// Without a key, a backup into the plain store copied into the
	// encrypted one: the copy has its record; then copied on into vault2,
	// which encrypts to the same recipients: the record comes along.
	const third = "shop_2026-11-27-10-00-00.zip"
	s.setStores(t, "[store.node, store.vault]")
	r = s.as(t, "", 0, "apply", "--auto-approve", "--target", "application.shop", "--now", "2026-11-27T10:00:00Z")
	if !strings.Contains(r.stdout, "copy application.shop from store.node into store.vault") {
		t.Fatalf("no copy into the encrypted store:\n%s", r.stdout)
	}
	thirdPacks := readPacksRecord(t, root, third)
	if plain := readPacksRecord(t, s.backups, third); !slices.Equal(plain, thirdPacks) {
		t.Errorf("the copy's record lists %v, the source's %v", thirdPacks, plain)
	}
	s.setStores(t, "[store.vault, store.vault2]")
	r = s.as(t, "", 0, "apply", "--auto-approve", "--target", "application.shop", "--now", "2026-11-27T11:00:00Z")
	if !strings.Contains(r.stdout, "copy application.shop from store.vault into store.vault2") {
		t.Fatalf("no keyless copy between the encrypted stores:\n%s", r.stdout)
	}
	if !bytes.Equal(mustRead(t, packsRecordPath(s.second, third)), mustRead(t, packsRecordPath(root, third))) {
		t.Error("the keyless copy into vault2 did not carry the packs record over")
	}

	// An encrypted archive without record, kept by keep_last = 2: the
	// collection after the next prune stops, and deletes nothing.
	s.setStores(t, "[store.vault]")
	os.WriteFile(path, bytes.Replace(mustRead(t, path), []byte("keep_last = 1"), []byte("keep_last = 2"), 1), 0o644)
	os.RemoveAll(s.delivery)
	writeTree(t, s.delivery, map[string]string{"v10/src/OTHER.cob": sourceText(12 << 10)})
	const fourth = "shop_2026-11-28-10-00-00.zip"
	s.as(t, "", 0, "apply", "--auto-approve", "--target", "application.shop", "--now", "2026-11-28T10:00:00Z")
	if err := os.Remove(packsRecordPath(root, fourth)); err != nil {
		t.Fatal(err)
	}
	before := packIDs(t, root)
	time.Sleep(1100 * time.Millisecond)
	r = s.as(t, "", 0, "apply", "--auto-approve", "--target", "application.shop", "--now", "2026-11-29T10:00:00Z")
	out := r.stdout + r.stderr
	if !strings.Contains(r.stdout, "prune application.shop in store.vault") || !strings.Contains(out, "packs not collected") ||
		!strings.Contains(out, "nothing deleted") || !strings.Contains(out, "applications/shop/"+fourth+" is encrypted and has no record of the packs it references") ||
		!strings.Contains(out, "identity_file") {
		t.Errorf("collection with an encrypted archive without record:\n%s", out)
	}
	for _, id := range before {
		if !slices.Contains(packIDs(t, root), id) {
			t.Errorf("pack %s was deleted although an archive's packs are unknown", id[:12])
		}
	}
	s.assertNoSecret(t)
}
