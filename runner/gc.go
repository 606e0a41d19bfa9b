package runner

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"time"

	"github.com/planb-backup/planb/plan/config"
	"github.com/planb-backup/planb/providers/archive"
	"github.com/planb-backup/planb/providers/store"
)

// PackSweep is what one collection of a store's packs did.
type PackSweep struct {
	// Archives are the complete archives whose packs were marked; Records
	// those of them marked from their packs record (the others from their
	// manifest and indexes).
	Archives, Records int
	// Referenced are the packs some complete archive references, directly
	// or through redirects; Young the unreferenced packs kept because they
	// are younger than the grace period; Deleted those removed, with their
	// bytes.
	Referenced, Young, Deleted int
	DeletedBytes               int64
	// Repacked are the mostly garbage packs whose live contents were
	// written into a new pack and which were then deleted; RepackedBytes
	// the bytes that freed (old sizes minus new). NoRepack says why the
	// collection did not look for such packs ("" when it did).
	Repacked      int
	RepackedBytes int64
	NoRepack      string
	// RedirectsDeleted are the redirects removed because no complete
	// archive references their old pack any more.
	RedirectsDeleted int
}

// CollectPacks removes the packs of st that no complete archive of the
// store references and that are older than grace, and repacks those that
// are mostly garbage: a mark and sweep that can never lose data.
//
// Mark: every complete archive of every folder of the store counts — every
// resource and kind, safety backups, adopted archives, archives of other
// nodes and of other configurations in a shared bucket, archives dated in
// the future or recorded as damaged — and the packs it references are
// marked: from its packs record (PacksRecordName, clear in an encrypted
// store, so a host without a key collects) when it has one, else from its
// manifest and the indexes of its folders (archives older than the
// records). An archive with neither record nor a manifest that can be read
// (encrypted, no record, no identity here) stops the collection before
// anything is deleted: what it references is unknown. A record whose
// archive is not listed (a crash between a prune's deletion of the archive
// and of its record) is never read. The packs the redirects of marked
// packs (store.PackRedirects, clear) send contents to are marked too, and
// so on, as are those of redirects younger than grace (a copy writing
// them).
//
// Repack (repackPacks): when every complete archive's indexes can be read
// here, a pack older than grace of which more than half the bytes belong
// to no content those indexes locate has its live contents written into a
// new pack, then its redirect, and only then is deleted.
//
// Sweep: the packs are listed after the mark, and a pack is deleted only
// when no archive read references it and it was written more than grace
// ago. A backup or copy in progress writes its packs before it commits its
// archive, so its packs are young for as long as it runs (grace must be
// longer than any backup): they are never swept from under it. A backup
// reuses only packs that its parent, a complete archive of its own
// resource that no prune can delete while the backup holds the lock,
// references: those are marked. Last, the redirects of packs nothing
// references any more, older than grace, are deleted.
//
// A collection that dies at any point has deleted only packs nothing
// needs; the next one goes on.
func CollectPacks(ctx context.Context, st store.Store, grace time.Duration, now time.Time) (PackSweep, error) {
	var sw PackSweep
	packs, ok := st.(store.Packs)
	if !ok {
		return sw, nil
	}
	archives, err := st.List(ctx)
	if err != nil {
		return sw, fmt.Errorf("collect packs: %w", err) // the store names itself
	}
	marked := map[string]bool{}
	for _, a := range archives {
		if a.Partial {
			continue
		}
		ids, fromRecord, err := archivePacks(ctx, st, a)
		if err != nil {
			return sw, fmt.Errorf("collect packs of store.%s: nothing deleted: %w", st.Name(), err)
		}
		sw.Archives++
		if fromRecord {
			sw.Records++
		}
		for _, id := range ids {
			marked[id] = true
		}
	}
	rd, err := loadRedirects(ctx, packs, grace, now)
	if err != nil {
		return sw, fmt.Errorf("collect packs of store.%s: nothing deleted: %w", st.Name(), err)
	}
	direct := maps.Clone(marked)
	if err := rd.markTargets(ctx, marked); err != nil {
		return sw, fmt.Errorf("collect packs of store.%s: nothing deleted: %w", st.Name(), err)
	}
	list, err := packs.ListPacks(ctx)
	if err != nil {
		return sw, fmt.Errorf("collect packs: %w", err) // the store names itself
	}
	var errs []error
	if err := repackPacks(ctx, st, archives, list, rd, marked, grace, now, &sw); err != nil {
		errs = append(errs, err)
	}
	sw.Referenced = len(marked)
	for _, p := range list {
		switch {
		case marked[p.ID]:
		case now.Sub(p.ModTime) < grace:
			sw.Young++
		default:
			if err := packs.DeletePack(ctx, p.ID); err != nil {
				errs = append(errs, err)
				continue
			}
			sw.Deleted++
			sw.DeletedBytes += p.Size
		}
	}
	n, err := rd.deleteUnreferenced(ctx, direct, marked)
	sw.RedirectsDeleted = n
	errs = append(errs, err)
	if err := errors.Join(errs...); err != nil {
		return sw, fmt.Errorf("collect packs: %w", err) // the store names itself
	}
	return sw, nil
}

// archivePacks returns the packs complete archive a references: those its
// packs record lists (fromRecord), or, without record, those
// referencedPacks reads in the archive. Its errors name the archive and,
// when the archive cannot be read without a record, say so.
func archivePacks(ctx context.Context, st store.Store, a store.Archive) (ids []string, fromRecord bool, err error) {
	ids, found, err := readPacksRecord(ctx, st, a.Ref, a.Name)
	if err != nil || found {
		return ids, found, err
	}
	if a.Encrypted {
		if derr := store.DecryptError(st); derr != nil {
			return nil, false, fmt.Errorf("%s is encrypted and has no record of the packs it references (records/%s), and this host cannot read its index: %w",
				a.Key(), a.Ref.Key(PacksRecordName(a.Name)), derr)
		}
	}
	ids, err = referencedPacks(ctx, st, a)
	if err != nil {
		return nil, false, fmt.Errorf("read %s: %w", a.Key(), err)
	}
	return ids, false, nil
}

// referencedPacks returns the packs the folders of a complete archive
// reference: those its indexes locate contents in, and those its manifest
// lists (an archive without manifest references none).
func referencedPacks(ctx context.Context, st store.Store, a store.Archive) ([]string, error) {
	return withArchive(ctx, st, a.Ref, a.Name, func(rd *archive.Reader) ([]string, error) {
		return packsOf(rd)
	})
}

// withArchive opens archive name of ref in st, calls read with its
// reader, and closes it.
func withArchive[T any](ctx context.Context, st store.Store, ref store.Ref, name string, read func(*archive.Reader) (T, error)) (T, error) {
	var zero T
	obj, err := st.Open(ctx, ref, name)
	if err != nil {
		return zero, err
	}
	defer obj.Close()
	rd, err := archive.Open(obj, obj.Size())
	if err != nil {
		return zero, err
	}
	return read(rd)
}

// packsOf returns the packs the folders of an opened archive reference
// (see referencedPacks).
func packsOf(rd *archive.Reader) ([]string, error) {
	m, err := rd.Manifest()
	if errors.Is(err, archive.ErrNoManifest) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, t := range []*archive.TreeInfo{m.Delivery, m.Files} {
		if t == nil || t.Index == "" {
			continue
		}
		// The index is what a restore reads: it is the truth; the
		// manifest's list is added in case they ever disagree.
		ids = append(ids, t.Packs...)
		idx, err := readIndex(rd, t.Prefix)
		if err != nil {
			return nil, err
		}
		if idx != nil {
			ids = append(ids, idx.Packs()...)
		}
	}
	return ids, nil
}

// collectAfterPrune collects the store's packs once a prune deleted
// archives. A collection that fails deletes nothing it should not and is
// logged: the prune succeeded, and the next one collects again.
func collectAfterPrune(ctx context.Context, logger *slog.Logger, st store.Store, grace time.Duration) {
	if _, ok := st.(store.Packs); !ok || logger == nil {
		return
	}
	now, err := storeNow(ctx, st)
	if err != nil {
		logger.Warn("packs not collected", "store", st.Name(), "err", err)
		return
	}
	if skew := time.Since(now); skew > clockSkewWarning || skew < -clockSkewWarning {
		logger.Warn("this host's clock differs from the store's; pack ages are measured on the store's",
			"store", st.Name(), "host_ahead_by", skew.Round(time.Second).String())
	}
	sw, err := CollectPacks(ctx, st, grace, now)
	if err != nil {
		logger.Warn("packs not collected", "store", st.Name(), "err", err)
		return
	}
	if sw.Deleted > 0 || sw.Young > 0 || sw.Repacked > 0 || sw.RedirectsDeleted > 0 {
		logger.Info("packs collected", "store", st.Name(), "archives", sw.Archives, "from_records", sw.Records, "referenced", sw.Referenced,
			"deleted", sw.Deleted, "deleted_bytes", sw.DeletedBytes, "young", sw.Young,
			"repacked", sw.Repacked, "repacked_bytes", sw.RepackedBytes, "redirects_deleted", sw.RedirectsDeleted)
	}
	if sw.NoRepack != "" {
		logger.Debug("mostly garbage packs not looked for", "store", st.Name(), "reason", sw.NoRepack)
	}
}

// clockSkewWarning is how far this host's clock may differ from a store's
// before collection says so.
const clockSkewWarning = 5 * time.Minute

// storeNow is the time on the clock that dates st's packs: a pack's age
// is measured on it, so that a host whose clock is wrong (days ahead)
// never takes the packs of a backup under way elsewhere for old ones. A
// store without a clock of its own is dated by this host's.
func storeNow(ctx context.Context, st store.Store) (time.Time, error) {
	c, ok := st.(store.PackClock)
	if !ok {
		return time.Now(), nil
	}
	return c.Now(ctx)
}

// packGrace returns the pack_grace of the store st in cfg.
func packGrace(cfg *config.Config, st store.Store) time.Duration {
	if s := cfg.Stores[st.Name()]; s != nil && s.PackGrace > 0 {
		return s.PackGrace
	}
	return config.DefaultPackGrace
}
