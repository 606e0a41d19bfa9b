package runner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"slices"
	"strings"

	"github.com/planb-backup/planb/providers/archive"
	"github.com/planb-backup/planb/providers/archive/cas"
	"github.com/planb-backup/planb/providers/store"
)

// PacksRecordSuffix ends the name of the record that lists the packs an
// archive references, kept beside it in its store:
// records/<kind>/<name>/<archive>.packs.json. It holds pack ids only
// (SHA-256 hashes, visible as object names under packs/ anyway), so an
// encrypted store keeps it clear: a host without a key collects packs
// from it (CollectPacks).
const PacksRecordSuffix = ".packs.json"

// packsRecordVersion is the version of the packs records this planb writes
// and reads.
const packsRecordVersion = 1

// PacksRecordName returns the name of the packs record of archive name.
func PacksRecordName(name string) string { return name + PacksRecordSuffix }

// packsRecord is the JSON of a packs record.
type packsRecord struct {
	Version int      `json:"version"`
	Packs   []string `json:"packs"`
}

// manifestPacks returns the packs the packed folders of a manifest
// reference, as the manifest lists them (from the folders' indexes when
// the archive was written).
func manifestPacks(m *archive.Manifest) []string {
	var ids []string
	for _, t := range []*archive.TreeInfo{m.Delivery, m.Files} {
		if t != nil && t.Index != "" {
			ids = append(ids, t.Packs...)
		}
	}
	return ids
}

// writePacksRecord writes, durably, the record of the packs that archive
// name of ref references in st. It runs before the archive is committed,
// so that a committed archive always has its record. Every archive of a
// store that keeps packs gets one, an empty list when it references none
// (dumps only, a full ZIP), so that a collection without a key knows it
// references none; a store without packs gets none.
func writePacksRecord(ctx context.Context, st store.Store, ref store.Ref, name string, ids []string) error {
	if _, ok := st.(store.Packs); !ok {
		return nil
	}
	ids = append([]string{}, ids...)
	slices.Sort(ids)
	data, err := json.Marshal(packsRecord{Version: packsRecordVersion, Packs: slices.Compact(ids)})
	if err != nil {
		return err
	}
	if err := st.WriteRecord(ctx, ref, PacksRecordName(name), data); err != nil {
		return fmt.Errorf("write the record of the packs of %s: %w", ref.Key(name), err) // the store names itself
	}
	return nil
}

// readPacksRecord returns the packs the record of archive name of ref in
// st lists; found is false when it has none. A record that does not parse,
// of another version, or that lists something else than pack ids is an
// error naming the store and the record.
func readPacksRecord(ctx context.Context, st store.Store, ref store.Ref, name string) (ids []string, found bool, err error) {
	var rec packsRecord
	found, err = store.ReadJSON(ctx, st, ref, PacksRecordName(name), &rec)
	if err != nil || !found {
		return nil, found, err
	}
	where := fmt.Sprintf("store.%s: record %s", st.Name(), ref.Key(PacksRecordName(name)))
	if rec.Version != packsRecordVersion {
		return nil, true, fmt.Errorf("%s: version %d, this planb reads version %d", where, rec.Version, packsRecordVersion)
	}
	for _, id := range rec.Packs {
		if err := store.CheckPackID(id); err != nil {
			return nil, true, fmt.Errorf("%s: %w", where, err)
		}
	}
	return rec.Packs, true, nil
}

// carryPacksRecord copies the packs record of archive name of ref from src
// into dst, for a copy that cannot read the archive's index (an encrypted
// source without its identity): it runs before the archive is copied. An
// archive without record in src (older than the records) gets none in
// dst either.
func carryPacksRecord(ctx context.Context, src, dst store.Store, ref store.Ref, name string) error {
	ids, found, err := readPacksRecord(ctx, src, ref, name)
	if err != nil {
		return fmt.Errorf("copy %s from store.%s: %w", ref.Key(name), src.Name(), err)
	}
	if !found {
		return nil
	}
	return writePacksRecord(ctx, dst, ref, name, ids)
}

// forgetPacks deletes the packs record of archive name of ref from st,
// once a prune deleted the archive. A failure is logged: a record left
// behind (or by a crash in between) only lies there, as CollectPacks reads
// the records of the archives it lists.
func forgetPacks(ctx context.Context, logger *slog.Logger, st store.Store, ref store.Ref, name string) {
	err := st.DeleteRecord(ctx, ref, PacksRecordName(name))
	if err != nil && !errors.Is(err, fs.ErrNotExist) && logger != nil {
		logger.Warn("packs record not deleted", "store", st.Name(), "archive", ref.Key(name), "err", err)
	}
}

// forgetPartialPacks deletes the packs records a clean's partials leave
// behind (a backup or copy that wrote its record and died before its
// commit), unless the store lists a complete archive of the same name.
// Records left behind are harmless: nothing is logged when the store
// cannot be listed.
func forgetPartialPacks(ctx context.Context, logger *slog.Logger, st store.Store, ref store.Ref, partials []string) {
	if len(partials) == 0 {
		return
	}
	listed, err := st.ListResource(ctx, ref)
	if err != nil {
		return
	}
	complete := map[string]bool{}
	for _, a := range listed {
		if !a.Partial {
			complete[a.Name] = true
		}
	}
	for _, n := range partials {
		if name, ok := strings.CutSuffix(n, store.PartialSuffix); ok && !complete[name] {
			forgetPacks(ctx, logger, st, ref, name)
		}
	}
}

// checkPacksRecord checks that the packs record of archive name of ref in
// st, when it has one, lists every pack its indexes reference: collections
// mark from the record, so a pack it lacks would be deleted. A record that
// lacks one is a *DamagedError that says so (deleting the record makes
// collections read the archive's indexes instead, which needs the identity
// in an encrypted store); one that cannot be read an *UnreadableError.
func checkPacksRecord(ctx context.Context, st store.Store, ref store.Ref, name string, indexes []*cas.Index) error {
	ids, found, err := readPacksRecord(ctx, st, ref, name)
	if err != nil {
		if ctx.Err() != nil {
			return err
		}
		return &UnreadableError{Store: st.Name(), Archive: ref.Key(name), Err: err}
	}
	if !found {
		return nil
	}
	for _, idx := range indexes {
		for _, id := range idx.Packs() {
			if !slices.Contains(ids, id) {
				return &DamagedError{Store: st.Name(), Archive: ref.Key(name), Err: fmt.Errorf(
					"its packs record records/%s does not list pack %s, which its index references: a collection would delete it",
					ref.Key(PacksRecordName(name)), id)}
			}
		}
	}
	return nil
}
