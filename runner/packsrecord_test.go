package runner

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/planb-backup/planb/providers/archive/cas"
	"github.com/planb-backup/planb/providers/store"
	"github.com/planb-backup/planb/providers/store/catalog"
)

// CollectPacks marks from an archive's packs record without reading the
// archive, ignores a record whose archive is gone, and stops on a record
// it cannot read.
func TestCollectPacksFromRecords(t *testing.T) {
	ctx := context.Background()
	st, err := store.NewLocal("node", t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	day := 24 * time.Hour
	recorded := putPack(t, st, "listed by the record of an archive that cannot be read", 10*day)
	orphan := putPack(t, st, "listed only by the record of a deleted archive", 10*day)
	t0 := time.Date(2026, 11, 25, 8, 0, 0, 0, time.UTC)
	ref := store.Ref{Kind: store.KindApplications, Name: "A"}
	name := catalog.ArchiveName("A", t0)
	// The archive's bytes are no zip: only its record tells its packs.
	up, err := st.Create(ctx, ref, name)
	if err != nil {
		t.Fatal(err)
	}
	up.Write(bytes.Repeat([]byte("not a zip"), 100))
	if err := up.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if err := writePacksRecord(ctx, st, ref, name, []string{recorded, recorded}); err != nil {
		t.Fatal(err)
	}
	gone := catalog.ArchiveName("A", t0.Add(-day))
	if err := writePacksRecord(ctx, st, ref, gone, []string{orphan}); err != nil {
		t.Fatal(err)
	}

	sw, err := CollectPacks(ctx, st, time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if sw.Archives != 1 || sw.Records != 1 || sw.Referenced != 1 || sw.Deleted != 1 {
		t.Errorf("sweep: %+v", sw)
	}
	if !packExists(st, recorded) || packExists(st, orphan) {
		t.Errorf("recorded pack present %v (want true), orphan's pack present %v (want false)", packExists(st, recorded), packExists(st, orphan))
	}

	// A record of an unknown version stops the collection.
	if err := st.WriteRecord(ctx, ref, PacksRecordName(name), []byte(`{"version":2,"packs":[]}`)); err != nil {
		t.Fatal(err)
	}
	another := putPack(t, st, "another old one", 10*day)
	_, err = CollectPacks(ctx, st, time.Hour, time.Now())
	if err == nil || !strings.Contains(err.Error(), "nothing deleted") || !strings.Contains(err.Error(), PacksRecordName(name)) {
		t.Errorf("collection with a record of version 2: %v", err)
	}
	if !packExists(st, another) || !packExists(st, recorded) {
		t.Error("a pack was deleted although a record could not be read")
	}
}

// A clean removes the packs record a partial left behind, and never the
// record of a complete archive of the same name.
func TestForgetPartialPacks(t *testing.T) {
	ctx := context.Background()
	st, err := store.NewLocal("node", t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	id := putPack(t, st, "a pack", time.Hour)
	ref := store.Ref{Kind: store.KindApplications, Name: "A"}
	t0 := time.Date(2026, 11, 25, 8, 0, 0, 0, time.UTC)
	dead, kept := catalog.ArchiveName("A", t0), catalog.ArchiveName("A", t0.Add(time.Hour))
	packedArchive(t, st, ref, kept, id)
	for _, n := range []string{dead, kept} {
		if err := writePacksRecord(ctx, st, ref, n, []string{id}); err != nil {
			t.Fatal(err)
		}
	}
	forgetPartialPacks(ctx, nil, st, ref, []string{dead + store.PartialSuffix, kept + store.PartialSuffix})
	if _, found, err := readPacksRecord(ctx, st, ref, dead); found || err != nil {
		t.Errorf("the record of a cleaned partial: found %v, %v", found, err)
	}
	if ids, found, err := readPacksRecord(ctx, st, ref, kept); !found || err != nil || len(ids) != 1 || ids[0] != id {
		t.Errorf("the record of a complete archive: %v, found %v, %v", ids, found, err)
	}
}

// An archive that references no pack, in a store that keeps packs, gets an
// empty record, which a collection marks from without reading the archive.
func TestEmptyPacksRecord(t *testing.T) {
	ctx := context.Background()
	st, err := store.NewLocal("node", t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	ref := store.Ref{Kind: store.KindPersistence, Name: "P"}
	name := catalog.ArchiveName("P", time.Date(2026, 11, 25, 8, 0, 0, 0, time.UTC))
	up, err := st.Create(ctx, ref, name)
	if err != nil {
		t.Fatal(err)
	}
	up.Write([]byte("not a zip: only the record can say what it references"))
	if err := up.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if err := writePacksRecord(ctx, st, ref, name, nil); err != nil {
		t.Fatal(err)
	}
	raw, err := st.ReadRecord(ctx, ref, PacksRecordName(name))
	if err != nil || string(raw) != `{"version":1,"packs":[]}` {
		t.Fatalf("empty record: %s, %v", raw, err)
	}
	old := putPack(t, st, "referenced by nothing", 48*time.Hour)
	sw, err := CollectPacks(ctx, st, time.Hour, time.Now())
	if err != nil || sw.Records != 1 || sw.Deleted != 1 || packExists(st, old) {
		t.Errorf("sweep %+v, %v; old pack present %v", sw, err, packExists(st, old))
	}
}

// verify fails an archive whose packs record lacks a pack its index
// references, naming the record and the pack; a record that lists it, or
// no record, passes.
func TestCheckPacksRecord(t *testing.T) {
	ctx := context.Background()
	st, err := store.NewLocal("node", t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	id, other := strings.Repeat("a", 64), strings.Repeat("b", 64)
	ref := store.Ref{Kind: store.KindApplications, Name: "A"}
	name := catalog.ArchiveName("A", time.Date(2026, 11, 25, 8, 0, 0, 0, time.UTC))
	indexes := []*cas.Index{{FormatVersion: cas.IndexFormat, Entries: []cas.Entry{{
		Path: "f", Type: cas.TypeFile, Mode: "0644", Size: 1, SHA256: strings.Repeat("c", 64), Pack: id, Length: 1,
	}}}}
	if err := checkPacksRecord(ctx, st, ref, name, indexes); err != nil {
		t.Errorf("no record: %v", err)
	}
	if err := writePacksRecord(ctx, st, ref, name, []string{other}); err != nil {
		t.Fatal(err)
	}
	err = checkPacksRecord(ctx, st, ref, name, indexes)
	if !errors.As(err, new(*DamagedError)) || !strings.Contains(err.Error(), PacksRecordName(name)) || !strings.Contains(err.Error(), id) {
		t.Errorf("a record that lacks the archive's pack: %v", err)
	}
	if err := writePacksRecord(ctx, st, ref, name, []string{other, id}); err != nil {
		t.Fatal(err)
	}
	if err := checkPacksRecord(ctx, st, ref, name, indexes); err != nil {
		t.Errorf("a record that lists the archive's pack: %v", err)
	}
}
