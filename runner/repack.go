package runner

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"time"

	"github.com/planb-backup/planb/providers/archive/cas"
	"github.com/planb-backup/planb/providers/store"
)

// redirects are the redirects of a store's repacked packs, as one
// collection sees them: listed once, each read when first needed.
type redirects struct {
	rs     store.PackRedirects // nil: the store keeps none
	listed map[string]store.PackInfo
	read   map[string]*cas.Redirect
	grace  time.Duration
	now    time.Time
}

// loadRedirects lists the redirects of packs; a store without redirects
// has none.
func loadRedirects(ctx context.Context, packs store.Packs, grace time.Duration, now time.Time) (*redirects, error) {
	rd := &redirects{listed: map[string]store.PackInfo{}, read: map[string]*cas.Redirect{}, grace: grace, now: now}
	rs, ok := packs.(store.PackRedirects)
	if !ok {
		return rd, nil
	}
	rd.rs = rs
	list, err := rs.ListRedirects(ctx)
	if err != nil {
		return nil, err
	}
	for _, r := range list {
		rd.listed[r.ID] = r
	}
	return rd, nil
}

// get returns the redirect of pack id, nil when it has none.
func (rd *redirects) get(ctx context.Context, id string) (*cas.Redirect, error) {
	if r, ok := rd.read[id]; ok {
		return r, nil
	}
	if _, ok := rd.listed[id]; !ok {
		return nil, nil
	}
	data, err := rd.rs.ReadRedirect(ctx, id)
	if errors.Is(err, fs.ErrNotExist) {
		rd.read[id] = nil
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	r, err := cas.ParseRedirect(id, data)
	if err != nil {
		return nil, err
	}
	rd.read[id] = r
	return r, nil
}

// markTargets marks the packs the redirects of marked packs send contents
// to, and so on, and those of redirects younger than grace (a copy may be
// bringing them with an archive not yet committed). A redirect that cannot
// be read or understood is an error: what it keeps is unknown.
func (rd *redirects) markTargets(ctx context.Context, marked map[string]bool) error {
	var queue []string
	for id := range marked {
		queue = append(queue, id)
	}
	for id, r := range rd.listed {
		if rd.now.Sub(r.ModTime) < rd.grace && !marked[id] {
			marked[id] = true
			queue = append(queue, id)
		}
	}
	for len(queue) > 0 {
		id := queue[len(queue)-1]
		queue = queue[:len(queue)-1]
		r, err := rd.get(ctx, id)
		if err != nil {
			return err
		}
		if r == nil {
			continue
		}
		for _, t := range r.Targets() {
			if !marked[t] {
				marked[t] = true
				queue = append(queue, t)
			}
		}
	}
	return nil
}

// deleteUnreferenced deletes the redirects older than grace of packs no
// complete archive references, directly (direct) or through another
// redirect (marked), and returns how many it deleted.
func (rd *redirects) deleteUnreferenced(ctx context.Context, direct, marked map[string]bool) (int, error) {
	n := 0
	var errs []error
	for id, r := range rd.listed {
		if direct[id] || marked[id] || rd.now.Sub(r.ModTime) < rd.grace {
			continue
		}
		if err := rd.rs.DeleteRedirect(ctx, id); err != nil {
			errs = append(errs, err)
			continue
		}
		n++
	}
	return n, errors.Join(errs...)
}

// locator locates packs for cas.Resolve from the collection's listing of
// packs and redirects, without a request per pack.
type locator struct {
	present map[string]bool
	rd      *redirects
}

func (l locator) Has(ctx context.Context, id string) (bool, error) { return l.present[id], nil }

func (l locator) Redirect(ctx context.Context, id string) (*cas.Redirect, error) {
	return l.rd.get(ctx, id)
}

// repackPacks repacks the packs of list older than grace of which more
// than half the bytes are garbage: the contents the indexes of the
// complete archives locate there (through redirects) are written into a
// new pack (through PutPack: an encrypting store encrypts it), the new
// pack is marked, the old pack's redirect is written, and only then is
// the old pack deleted. A crash before the redirect leaves a new pack
// nothing references (swept after grace); one before the deletion leaves
// both, and readers keep reading the old pack.
//
// It needs every complete archive's indexes (offsets and lengths): in an
// encrypted store on a host without the identity, or when an archive's
// indexes cannot be read, it repacks nothing and says why in
// sw.NoRepack. A pack that cannot be repacked is an error, after the
// others.
func repackPacks(ctx context.Context, st store.Store, archives []store.Archive, list []store.PackInfo,
	rd *redirects, marked map[string]bool, grace time.Duration, now time.Time, sw *PackSweep) error {
	packs := st.(store.Packs)
	if rd.rs == nil {
		sw.NoRepack = "the store keeps no redirects"
		return nil
	}
	if err := store.DecryptError(st); err != nil {
		sw.NoRepack = "this host cannot read the store's indexes: " + err.Error()
		return nil
	}
	indexes, err := completeIndexes(ctx, st, archives)
	if err != nil {
		sw.NoRepack = err.Error()
		return nil
	}
	present := make(map[string]bool, len(list))
	for _, p := range list {
		present[p.ID] = true
	}
	loc := locator{present: present, rd: rd}
	for i, idx := range indexes {
		if indexes[i], err = cas.Resolve(ctx, idx, loc); err != nil {
			sw.NoRepack = err.Error()
			return nil
		}
	}
	live := cas.LiveSpans(indexes)
	var errs []error
	for _, p := range list {
		spans := live[p.ID]
		if now.Sub(p.ModTime) < grace || !cas.NeedsRepack(p.Size, spans) {
			continue
		}
		freed, err := repackPack(ctx, packs, rd.rs, p.ID, spans, marked)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		sw.Repacked++
		sw.RepackedBytes += freed
	}
	return errors.Join(errs...)
}

// repackPack repacks pack id, keeping spans (see repackPacks), and returns
// the bytes it freed.
func repackPack(ctx context.Context, packs store.Packs, rs store.PackRedirects, id string, spans []cas.Span, marked map[string]bool) (int64, error) {
	size, err := packs.StatPack(ctx, id) // the plain size, in an encrypted store
	if err != nil {
		return 0, err
	}
	if !cas.NeedsRepack(size, spans) {
		return 0, nil
	}
	r, err := cas.Repack(ctx, packs, id, spans, "")
	if err != nil {
		return 0, err
	}
	for _, t := range r.Targets() {
		marked[t] = true
	}
	data, err := r.Marshal()
	if err != nil {
		return 0, err
	}
	if err := rs.PutRedirect(ctx, id, data); err != nil {
		return 0, err
	}
	if err := packs.DeletePack(ctx, id); err != nil {
		return 0, err
	}
	var kept int64
	for _, s := range spans {
		kept += s.Length
	}
	return size - kept, nil
}

// completeIndexes returns the indexes of the packed folders of every
// complete archive; an archive whose indexes cannot be read is an error
// naming it.
func completeIndexes(ctx context.Context, st store.Store, archives []store.Archive) ([]*cas.Index, error) {
	var out []*cas.Index
	for _, a := range archives {
		if a.Partial {
			continue
		}
		indexes, err := archiveIndexes(ctx, st, a)
		if err != nil {
			return nil, fmt.Errorf("the indexes of %s cannot be read: %w", a.Key(), err)
		}
		out = append(out, indexes...)
	}
	return out, nil
}

// archiveIndexes returns the indexes of the packed folders of archive a
// (none without manifest).
func archiveIndexes(ctx context.Context, st store.Store, a store.Archive) ([]*cas.Index, error) {
	return withArchive(ctx, st, a.Ref, a.Name, packedIndexes)
}
