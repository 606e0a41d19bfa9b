package runner

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/planb-backup/planb/plan"
	"github.com/planb-backup/planb/plan/config"
	"github.com/planb-backup/planb/providers/store"
	"github.com/planb-backup/planb/providers/store/catalog"
	"github.com/planb-backup/planb/runner/dag"
)

// delete builds prune and clean actions: remove the listed archives under
// the lock.
func (b *builder) delete(a *plan.Action, r *config.Resource, st store.Store) error {
	lockID := b.lockFor(r, st, a.ID)
	label := fmt.Sprintf("prune %d archive(s) of %s in store.%s", len(a.Delete), r.Address, st.Name())
	if a.Type == plan.Clean {
		label = fmt.Sprintf("clean %d partial(s) of %s in store.%s", len(a.Delete), r.Address, st.Name())
	}
	b.add(dag.Step{
		ID:    a.ID,
		Label: label,
		Group: Target{r.Address, st.Name()},
		Deps:  b.after(a, lockID),
		Run: func(ctx context.Context, _ *dag.Progress) error {
			return b.deleteArchives(ctx, a, r, st)
		},
	})
	return nil
}

// deleteArchives runs a prune or a clean: what its last line of defence
// (keepsSound, stillCleanable) allows, and only what this node owns, is
// deleted, then forgotten by the nodes record; a prune that deleted
// anything collects the packs no archive uses any more. Every refusal and
// failure is returned.
func (b *builder) deleteArchives(ctx context.Context, a *plan.Action, r *config.Resource, st store.Store) error {
	ref := plan.RefOf(r)
	names := make([]string, 0, len(a.Delete))
	for _, d := range a.Delete {
		names = append(names, d.Archive)
	}
	if a.Type == plan.Prune {
		if err := b.keepsSound(ctx, st, ref, a.Delete); err != nil {
			return err
		}
	}
	remove, errs := names, []error(nil)
	if a.Type == plan.Clean {
		var err error
		if remove, errs, err = stillCleanable(ctx, st, ref, names); err != nil {
			return err
		}
	}
	// Another node's archives and partials are never deleted by a node
	// that is not among their owners, whatever the plan says.
	foreign, err := foreignNodes(ctx, st, ref, remove, b.env.Config.OwnersOf(r, b.env.Config.Stores[st.Name()]))
	if err != nil {
		return err
	}
	var deleted []string
	for _, n := range remove {
		if node, ok := foreign[n]; ok {
			errs = append(errs, fmt.Errorf("refusing to delete %s: node %s wrote it, and this node (%s) is not among the owners of %s", n, node, b.env.Config.Node, r.Address))
			continue
		}
		if err := st.Delete(ctx, ref, n); err != nil {
			errs = append(errs, fmt.Errorf("delete %s: %w", n, err))
			continue
		}
		deleted = append(deleted, n)
		if a.Type == plan.Prune {
			forgetPacks(ctx, b.env.Logger, st, ref, n)
		}
	}
	forgetNodes(ctx, b.env.Logger, st, ref, deleted)
	if a.Type == plan.Clean {
		forgetPartialPacks(ctx, b.env.Logger, st, ref, deleted)
	}
	if a.Type == plan.Prune && len(deleted) > 0 {
		collectAfterPrune(ctx, b.env.Logger, st, packGrace(b.env.Config, st))
	}
	return errors.Join(errs...)
}

// stillCleanable is a clean's last line of defence, run under the lock
// right before anything is deleted: of the partials the plan cleans, it
// returns those the store still lists and that catalog.Cleanable allows to
// clean now (their writer no longer holds the lock, or, unknown, they are
// old), and an error for each it refuses, saying whose it is.
func stillCleanable(ctx context.Context, st store.Store, ref store.Ref, names []string) (ok []string, refused []error, err error) {
	listed, err := st.ListResource(ctx, ref)
	if err != nil {
		return nil, nil, err
	}
	byName := map[string]store.Archive{}
	for _, a := range listed {
		if a.Partial {
			byName[a.Name] = a
		}
	}
	now := time.Now()
	for _, n := range names {
		a, found := byName[n]
		if !found {
			ok = append(ok, n) // gone or not partial: Delete says which
			continue
		}
		if clean, why := catalog.Cleanable(a, now); !clean {
			refused = append(refused, fmt.Errorf("refusing to clean %s: %s", n, why))
			continue
		}
		ok = append(ok, n)
	}
	return ok, refused, nil
}

// keepsSound is a prune's last line of defence, run under the lock right
// before anything is deleted: the newest complete archive of the resource
// in the store must not be among the deleted (the catalog may have changed
// since the plan), and, unless the prune deletes only safety backups, at
// least one of the archives it keeps must be sound. Those are checked
// newest first, as `planb verify` checks them, until one is; an archive
// this apply wrote or copied and checked counts without being read again.
// When none is sound, or one cannot be read, nothing is deleted.
func (b *builder) keepsSound(ctx context.Context, st store.Store, ref store.Ref, deletions []plan.Deletion) error {
	all, err := st.ListResource(ctx, ref)
	if err != nil {
		return err
	}
	deleting := map[string]bool{}
	backups := false
	for _, d := range deletions {
		deleting[d.Archive] = true
		backups = backups || !catalog.IsSafety(d.Archive)
	}
	var newest *store.Archive
	var kept []store.Archive
	for i, a := range all {
		if a.Partial {
			continue
		}
		if newest == nil || a.Time.After(newest.Time) {
			newest = &all[i]
		}
		if !deleting[a.Name] && !a.Safety && !plan.Future(a, b.p.Now) {
			kept = append(kept, a)
		}
	}
	folder := fmt.Sprintf("%s in store.%s", ref, st.Name())
	if newest == nil {
		return fmt.Errorf("refusing to prune: no complete archive of %s is left", folder)
	}
	if deleting[newest.Name] {
		return fmt.Errorf("refusing to prune %s: it is the newest complete archive", newest.Name)
	}
	if !backups {
		return nil
	}
	if len(kept) == 0 {
		return fmt.Errorf("refusing to prune %s: it would keep no backup; nothing was deleted", folder)
	}
	slices.SortFunc(kept, func(x, y store.Archive) int { return y.Time.Compare(x.Time) })
	var damaged []string
	for _, a := range kept {
		if b.verified.has(st.Name(), ref, a.Name) {
			return nil
		}
		_, err := checkArchive(ctx, st, ref, a.Name)
		if err == nil {
			b.verified.add(st.Name(), ref, a.Name)
			return nil
		}
		var d *DamagedError
		if !errors.As(err, &d) {
			return fmt.Errorf("refusing to prune %s: could not check that an archive it keeps is sound, so nothing was deleted: %w", folder, err)
		}
		noteDamage(ctx, b.env.Logger, st, ref, a.Name, "prune", d)
		damaged = append(damaged, fmt.Sprintf("%s: %v", a.Name, d.Err))
	}
	return fmt.Errorf("refusing to prune %s: none of the %d archive(s) it keeps verifies, so nothing was deleted (%s)",
		folder, len(kept), strings.Join(damaged, "; "))
}
