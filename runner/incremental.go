package runner

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"log/slog"
	"strings"
	"time"

	"github.com/planb-backup/planb/plan"
	"github.com/planb-backup/planb/providers/archive"
	"github.com/planb-backup/planb/providers/archive/cas"
	"github.com/planb-backup/planb/providers/store"
	"github.com/planb-backup/planb/runner/dag"
)

// maxIndex bounds what is read of a folder's index entry.
const maxIndex = 1 << 30

// indexEntry is the archive entry holding the index of the tree stored
// under prefix in packs: "index/delivery.json".
func indexEntry(prefix string) string {
	return "index/" + strings.Trim(prefix, "/") + ".json"
}

// delivery archives the resource's delivery folder: into the store's
// packs, each content once, with an index in the archive, when the
// resource is incremental and the store keeps packs; whole into the
// archive otherwise.
func (run *backupRun) delivery(ctx context.Context, p *dag.Progress, env *Env, dir string) (*archive.TreeInfo, error) {
	packs, ok := run.st.(store.Packs)
	if !run.r.Incremental || !ok {
		if run.r.Incremental {
			p.Logger().Info("the store keeps no packs: the delivery folder is archived whole", "store", run.st.Name())
		}
		return run.tree(ctx, p, "delivery/", dir)
	}
	return run.packedTree(ctx, p, env, packs, "delivery/", dir)
}

// packedTree stores dir in the store's packs and its index in the archive.
// The previous backup in the same store is the parent: the files its
// index says did not change are not read, unless this backup is one that
// reads everything (every FullReadEvery-th, or the first).
func (run *backupRun) packedTree(ctx context.Context, p *dag.Progress, env *Env, packs store.Packs, prefix, dir string) (*archive.TreeInfo, error) {
	logger := p.Logger()
	parent := run.parentIndex(ctx, logger, prefix)
	if parent != nil {
		// Contents of packs repacked since the parent was written are
		// reused where their redirects say, not read again.
		if resolved, err := cas.Resolve(ctx, parent, cas.StoreLocator(packs)); err != nil {
			logger.Warn("redirects of the previous index not followed: the files of repacked packs are read again", "err", err)
		} else {
			parent = resolved
		}
	}
	list, err := packs.ListPacks(ctx)
	if err != nil {
		return nil, fmt.Errorf("archive %s: %w", dir, err)
	}
	present := make(map[string]bool, len(list))
	for _, pk := range list {
		present[pk.ID] = true
	}
	full := parent == nil || parent.SinceFullRead+1 >= run.r.FullReadEvery
	idx, stats, err := cas.Build(ctx, dir, packs, cas.BuildOptions{
		Parent: parent, Present: present, FullRead: full, Workers: env.Workers, TempDir: tempDir(env),
	})
	if err != nil {
		return nil, fmt.Errorf("archive %s: %w", dir, err)
	}
	data, err := json.Marshal(idx)
	if err != nil {
		return nil, err
	}
	if _, err := run.w.AddBytes(indexEntry(prefix), data, time.Now()); err != nil {
		return nil, fmt.Errorf("archive %s: %w", dir, err)
	}
	p.Add(stats.Bytes)
	for _, s := range idx.Skipped {
		logger.Warn("left out of the archive: it cannot be stored faithfully", "folder", dir, "path", s.Path, "reason", s.Reason)
	}
	warnWindowsNames(logger, dir, idx)
	logger.Info("delivery folder stored in packs", "folder", dir, "files", stats.Files, "read_bytes", stats.Read,
		"reused_files", stats.Reused, "stored_bytes", stats.Stored, "new_packs", stats.NewPacks, "full_read", idx.FullRead)
	run.mu.Lock()
	run.manifest.FormatVersion = archive.FormatVersionPacks
	run.mu.Unlock()
	return &archive.TreeInfo{
		Source: dir, Prefix: prefix, Files: stats.Files, Dirs: stats.Dirs, Symlinks: stats.Symlinks, Bytes: stats.Bytes,
		Skipped: idx.Skipped, Index: indexEntry(prefix), Packs: idx.Packs(), Reused: stats.Reused, Stored: stats.Stored,
	}, nil
}

// warnWindowsNames warns, as a backup into a ZIP does, about the names of
// the index a restore on Windows would refuse (at most maxNameWarnings,
// then a count).
func warnWindowsNames(logger *slog.Logger, dir string, idx *cas.Index) {
	names := make([]string, 0, len(idx.Entries))
	for _, e := range idx.Entries {
		if e.Type == cas.TypeDir {
			names = append(names, e.Path+"/")
		} else {
			names = append(names, e.Path)
		}
	}
	for i, n := range archive.WindowsNameProblems(names) {
		if i == maxNameWarnings {
			logger.Warn("more names a restore on Windows would refuse", "folder", dir)
			break
		}
		logger.Warn("archived, but a restore on Windows would refuse this name", "folder", dir, "path", n.Name, "reason", n.Reason)
	}
}

// parentIndex returns the index of the tree under prefix of the newest
// complete archive of the resource in the run's store, or nil when there
// is none or it cannot be read (then every file is read: logged).
func (run *backupRun) parentIndex(ctx context.Context, logger *slog.Logger, prefix string) *cas.Index {
	ref := plan.RefOf(run.r)
	list, err := run.st.ListResource(ctx, ref)
	if err != nil {
		logger.Warn("no previous index: every file is read", "err", err)
		return nil
	}
	var newest *store.Archive
	for i, a := range list {
		if !a.Partial && a.Name != run.name && (newest == nil || a.Time.After(newest.Time)) {
			newest = &list[i]
		}
	}
	if newest == nil {
		return nil
	}
	idx, err := withArchive(ctx, run.st, ref, newest.Name, func(rd *archive.Reader) (*cas.Index, error) {
		return readIndex(rd, prefix)
	})
	if err != nil {
		logger.Warn("no previous index: every file is read", "archive", newest.Name, "err", err)
		return nil
	}
	return idx
}

// readIndex returns the index of the tree under prefix when the archive
// keeps it in packs; nil, without error, when it does not (its entries
// hold the files, or it has no manifest).
func readIndex(rd *archive.Reader, prefix string) (*cas.Index, error) {
	m, err := rd.Manifest()
	if errors.Is(err, archive.ErrNoManifest) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	t := packedTree(m, prefix)
	if t == nil {
		return nil, nil
	}
	r, err := rd.OpenEntry(t.Index)
	if err != nil {
		return nil, fmt.Errorf("index %s: %w", t.Index, err)
	}
	defer r.Close()
	data, err := io.ReadAll(io.LimitReader(r, maxIndex))
	if err != nil {
		return nil, fmt.Errorf("index %s: %w", t.Index, err)
	}
	idx, err := cas.Parse(data)
	if err != nil {
		return nil, fmt.Errorf("index %s: %w", t.Index, err)
	}
	return idx, nil
}

// packedTree returns the tree of the manifest under prefix that is kept in
// packs, or nil.
func packedTree(m *archive.Manifest, prefix string) *archive.TreeInfo {
	for _, t := range []*archive.TreeInfo{m.Delivery, m.Files} {
		if t != nil && t.Prefix == prefix && t.Index != "" {
			return t
		}
	}
	return nil
}

// packedIndexes returns the indexes of every tree the archive keeps in
// packs.
func packedIndexes(rd *archive.Reader) ([]*cas.Index, error) {
	var out []*cas.Index
	for _, prefix := range []string{"delivery/", "files/"} {
		idx, err := readIndex(rd, prefix)
		if err != nil {
			return nil, err
		}
		if idx != nil {
			out = append(out, idx)
		}
	}
	return out, nil
}

// extractTree extracts the tree under prefix into staging: from the
// archive's entries, or, for a tree kept in packs, from the store's packs
// (every content checked against its SHA-256 as it is written). It
// returns the bytes written.
func (run *restoreRun) extractTree(ctx context.Context, prefix, staging string) (int64, error) {
	return extractTree(ctx, run.st, run.rp.Archive, run.rd, prefix, staging)
}

// extractTree extracts the tree under prefix of archive name, read from
// rd, into dir: from the archive's entries, or from st's packs.
func extractTree(ctx context.Context, st store.Store, name string, rd *archive.Reader, prefix, dir string) (int64, error) {
	idx, err := readIndex(rd, prefix)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", name, err)
	}
	if idx == nil {
		stats, err := rd.Extract(ctx, prefix, dir, archive.SafetyOptions{})
		return stats.Bytes, err
	}
	packs, ok := st.(store.Packs)
	if !ok {
		return 0, fmt.Errorf("%s keeps %s in packs, and store.%s keeps none", name, prefix, st.Name())
	}
	if idx, err = cas.Resolve(ctx, idx, cas.StoreLocator(packs)); err != nil {
		return 0, fmt.Errorf("%s: %w", name, err)
	}
	_, n, err := cas.Extract(ctx, idx, packs, dir)
	return n, err
}

// checkPacked checks, before a restore changes anything, that every pack
// the archive's packed trees reference is in the store.
func checkPacked(ctx context.Context, st store.Store, ref store.Ref, name string, rd *archive.Reader) error {
	indexes, err := packedIndexes(rd)
	if err != nil {
		return &DamagedError{Store: st.Name(), Archive: ref.Key(name), Err: err}
	}
	noPacks := fmt.Errorf("%s keeps folders in packs, and store.%s keeps none", ref.Key(name), st.Name())
	return checkPackedTrees(ctx, st, ref, name, indexes, noPacks, cas.CheckPacks)
}

// checkPackedTrees runs check on each of an archive's packed trees, its
// index resolved through the redirects of repacked packs; noPacks is the
// error when st keeps no packs. A failure is classified by classifyPacks.
func checkPackedTrees(ctx context.Context, st store.Store, ref store.Ref, name string, indexes []*cas.Index, noPacks error,
	check func(context.Context, *cas.Index, store.Packs) error) error {
	if len(indexes) == 0 {
		return nil
	}
	packs, ok := st.(store.Packs)
	if !ok {
		return noPacks
	}
	for _, idx := range indexes {
		idx, err := cas.Resolve(ctx, idx, cas.StoreLocator(packs))
		if err == nil {
			err = check(ctx, idx, packs)
		}
		if err != nil {
			return classifyPacks(ctx, st, ref, name, err)
		}
	}
	return nil
}

// VerifyPacks checks the folders an archive keeps in its store's packs, as
// `planb verify` does: every pack they reference is present, every
// content decompresses to its size and SHA-256, and the archive's packs
// record, when it has one, lists every pack. An archive without such
// folders passes; so does one that does not open or has no manifest (the
// archive's own check reports that). Damage is a *DamagedError, a store
// that fails an *UnreadableError.
func VerifyPacks(ctx context.Context, st store.Store, ref store.Ref, name string, ra io.ReaderAt, size int64) error {
	rd, err := archive.Open(ra, size)
	if err != nil {
		return nil
	}
	indexes, err := packedIndexes(rd)
	if err != nil {
		return &DamagedError{Store: st.Name(), Archive: ref.Key(name), Err: err}
	}
	if len(indexes) == 0 {
		return nil
	}
	noPacks := &UnreadableError{Store: st.Name(), Archive: ref.Key(name), Err: errors.New("it keeps folders in packs, and the store keeps none")}
	if err := checkPackedTrees(ctx, st, ref, name, indexes, noPacks, cas.Verify); err != nil {
		return err
	}
	return checkPacksRecord(ctx, st, ref, name, indexes)
}

// classifyPacks turns the error of a check of an archive's packs into a
// *DamagedError (packs missing or wrong) or an *UnreadableError (the store
// failed); an interrupted check keeps its error.
func classifyPacks(ctx context.Context, st store.Store, ref store.Ref, name string, err error) error {
	if ctx.Err() != nil {
		return err
	}
	if errors.As(err, new(*cas.ProblemsError)) {
		return &DamagedError{Store: st.Name(), Archive: ref.Key(name), Err: err}
	}
	return &UnreadableError{Store: st.Name(), Archive: ref.Key(name), Err: err}
}

// prepareCopy readies dst, under the resource's lock, for the copy of
// archive name of ref from src: it records in dst's versions record the
// version folders the archive's manifest lists (so that plans find them
// even when src is gone), and copies the packs of the archive's packed
// folders that dst lacks, before the archive itself is copied: an archive
// is never visible in a store without its packs. Each pack is checked
// against its id (the SHA-256 of its bytes) on the way; a pack missing or
// wrong in src is a *DamagedError of the archive there. Last, the record
// of the packs the archive references is written in dst (see
// PacksRecordName); from an encrypted src without its identity, src's
// record is carried over as it is.
func prepareCopy(ctx context.Context, src, dst store.Store, ref store.Ref, name string) error {
	if store.DecryptError(src) != nil {
		return carryPacksRecord(ctx, src, dst, ref, name)
	}
	obj, err := src.Open(ctx, ref, name)
	if err != nil {
		return err
	}
	defer obj.Close()
	rd, err := archive.Open(obj, obj.Size())
	if err != nil {
		return nil // copyVerified's check of the source reports it
	}
	if m, err := rd.Manifest(); err == nil && m.Delivery != nil && len(m.Delivery.Versions) > 0 {
		if err := noteVersions(ctx, dst, ref, name, m.Delivery.Versions); err != nil {
			return err
		}
	}
	indexes, err := packedIndexes(rd)
	if err != nil {
		return &DamagedError{Store: src.Name(), Archive: ref.Key(name), Err: err}
	}
	if len(indexes) == 0 {
		return writePacksRecord(ctx, dst, ref, name, nil)
	}
	from, ok1 := src.(store.Packs)
	to, ok2 := dst.(store.Packs)
	if !ok1 || !ok2 {
		return fmt.Errorf("copy %s: it keeps folders in packs, and store.%s or store.%s keeps none", ref.Key(name), src.Name(), dst.Name())
	}
	var ids []string
	for _, idx := range indexes {
		ids = append(ids, idx.Packs()...)
		for _, id := range idx.Packs() {
			if err := copyPackOrRedirect(ctx, from, to, id, 0); err != nil {
				if errors.As(err, new(*cas.ProblemsError)) {
					return &DamagedError{Store: src.Name(), Archive: ref.Key(name), Err: err}
				}
				return fmt.Errorf("copy %s: %w", ref.Key(name), err) // err names the store that failed
			}
		}
	}
	if m, err := rd.Manifest(); err == nil {
		ids = append(ids, manifestPacks(m)...)
	}
	return writePacksRecord(ctx, dst, ref, name, ids)
}

// copyPackOrRedirect copies pack id from one store to another (copyPack),
// or, when the source holds no such pack but its redirect (the pack was
// repacked there), the packs the redirect sends contents to, and then the
// redirect: the target, like the source, serves the archive's contents
// through it. A redirect is written only after its targets.
func copyPackOrRedirect(ctx context.Context, from, to store.Packs, id string, depth int) error {
	if _, err := from.StatPack(ctx, id); !errors.Is(err, fs.ErrNotExist) {
		return copyPack(ctx, from, to, id)
	}
	fr, ok := from.(store.PackRedirects)
	if !ok {
		return copyPack(ctx, from, to, id) // reports the pack missing
	}
	data, err := fr.ReadRedirect(ctx, id)
	if errors.Is(err, fs.ErrNotExist) {
		return copyPack(ctx, from, to, id) // reports the pack missing
	}
	if err != nil {
		return err
	}
	r, err := cas.ParseRedirect(id, data)
	if err != nil {
		return &cas.ProblemsError{Problems: []string{err.Error()}}
	}
	tr, ok := to.(store.PackRedirects)
	if !ok {
		return fmt.Errorf("pack %s was repacked, and the target keeps no redirects", id)
	}
	if depth >= maxRedirectDepth {
		return &cas.ProblemsError{Problems: []string{fmt.Sprintf("pack %s: more than %d redirects to follow", id, maxRedirectDepth)}}
	}
	for _, target := range r.Targets() {
		if err := copyPackOrRedirect(ctx, from, to, target, depth+1); err != nil {
			return err
		}
	}
	return tr.PutRedirect(ctx, id, data)
}

// maxRedirectDepth bounds the redirects a copy follows from one pack.
const maxRedirectDepth = 16

// copyPack copies pack id from one store to another unless the other holds
// it, checking its bytes against its id. A pack the other holds is
// touched (when it can be): it may be one no archive there references any
// more, which the target's collection would otherwise sweep before the
// copied archive is committed.
func copyPack(ctx context.Context, from, to store.Packs, id string) error {
	if _, err := to.StatPack(ctx, id); err == nil {
		if t, ok := to.(store.PackToucher); ok {
			return t.TouchPack(ctx, id)
		}
		return nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	size, err := from.StatPack(ctx, id)
	if errors.Is(err, fs.ErrNotExist) {
		return &cas.ProblemsError{Problems: []string{fmt.Sprintf("pack %s is missing", id)}}
	}
	if err != nil {
		return err
	}
	// The pack streams through a hash into the target: a target that
	// commits it before the hash is known would hold a wrong pack, so the
	// stream fails at its end, before the last byte is passed on, when the
	// bytes do not match the id.
	src := &checkedPack{r: cas.NewPackReader(ctx, from, id, 0, size), left: size, h: sha256.New(), id: id}
	if err := to.PutPack(ctx, id, src, size); err != nil {
		if src.mismatch {
			return &cas.ProblemsError{Problems: []string{fmt.Sprintf("pack %s does not match its id (SHA-256)", id)}}
		}
		return err
	}
	return nil
}

// checkedPack passes a pack's bytes on, hashing them, and fails before
// passing on the last bytes when they do not hash to the pack's id.
type checkedPack struct {
	r        io.Reader
	left     int64
	h        hash.Hash
	id       string
	mismatch bool
}

func (c *checkedPack) Read(p []byte) (int, error) {
	if c.left == 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := io.ReadFull(c.r, p)
	c.h.Write(p[:n])
	c.left -= int64(n)
	if err != nil {
		return 0, err
	}
	if c.left == 0 && hex.EncodeToString(c.h.Sum(nil)) != c.id {
		c.mismatch = true
		return 0, fmt.Errorf("pack %s does not match its id (SHA-256)", c.id)
	}
	return n, nil
}
