package facts

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"

	"github.com/planb-backup/planb/plan"
	"github.com/planb-backup/planb/plan/config"
	"github.com/planb-backup/planb/providers/store"
	"github.com/planb-backup/planb/providers/store/catalog"
	"github.com/planb-backup/planb/runner"
)

// Catalog lists every store that one of the resources uses. A store that
// could not be reached (store.ErrUnreachable: an S3 endpoint that refuses
// or does not answer, a local folder that cannot be read) is left out of
// the catalog and returned in unreachable, by name, with why; any other
// error of a listing (refused credentials, a missing bucket) fails.
func (e *Estate) Catalog(ctx context.Context, resources []*config.Resource) (cat plan.Catalog, unreachable map[string]string, err error) {
	used := map[string]bool{}
	for _, r := range resources {
		for _, s := range r.Stores {
			used[s.Name] = true
		}
	}
	cat = plan.Catalog{}
	for name := range used {
		st, ok := e.Stores[name]
		if !ok {
			return nil, nil, fmt.Errorf("store.%s is not open", name)
		}
		archives, why, err := list(ctx, st)
		if err != nil {
			return nil, nil, err
		}
		if why != "" {
			unreachable = addUnreachable(unreachable, name, why)
			continue
		}
		cat[name] = archives
	}
	return cat, unreachable, nil
}

// list lists the archives of st; why says why it could not be reached (""
// when it was), err is any other failure of the listing.
func list(ctx context.Context, st store.Store) (archives []catalog.Archive, why string, err error) {
	archives, err = st.List(ctx)
	if why := store.UnreachableReason(err); why != "" && ctx.Err() == nil {
		return nil, why, nil
	}
	return archives, "", err
}

// addUnreachable records in unreachable (made when nil) why store name
// could not be reached.
func addUnreachable(unreachable map[string]string, name, why string) map[string]string {
	if unreachable == nil {
		unreachable = map[string]string{}
	}
	unreachable[name] = why
	return unreachable
}

// UnreachableNames returns the names of the unreachable stores, sorted.
func UnreachableNames(unreachable map[string]string) []string {
	return slices.Sorted(maps.Keys(unreachable))
}

// Reachable returns the stores that are not unreachable.
func Reachable(stores map[string]store.Store, unreachable map[string]string) map[string]store.Store {
	if len(unreachable) == 0 {
		return stores
	}
	out := make(map[string]store.Store, len(stores))
	for name, st := range stores {
		if _, down := unreachable[name]; !down {
			out[name] = st
		}
	}
	return out
}

// storeFolder is the folder of one resource in one store.
type storeFolder struct {
	store string
	ref   catalog.Ref
}

// catalogFolders lists the folders of the catalog that hold complete
// archives of the resources, or partials too when withPartials is set.
func catalogFolders(cat plan.Catalog, resources []*config.Resource, withPartials bool) []storeFolder {
	wanted := map[catalog.Ref]bool{}
	for _, r := range resources {
		wanted[plan.RefOf(r)] = true
	}
	seen := map[storeFolder]bool{}
	var folders []storeFolder
	for name, archives := range cat {
		for _, a := range archives {
			f := storeFolder{name, a.Ref}
			if wanted[a.Ref] && (withPartials || !a.Partial) && !seen[f] {
				seen[f] = true
				folders = append(folders, f)
			}
		}
	}
	return folders
}

// readFolders calls read for every folder, storeReaders at a time; the
// function read returns runs under a lock shared by all calls, so it may
// fill one result. The errors of all folders are joined.
func readFolders(folders []storeFolder, read func(storeFolder) (func(), error)) error {
	var (
		mu   sync.Mutex
		errs []error
		wg   sync.WaitGroup
		sem  = make(chan struct{}, storeReaders)
	)
	for _, f := range folders {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			keep, err := read(f)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
				return
			}
			keep()
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// Damage reads the damage records of the folders of the catalog that hold
// archives of the resources: by store, by archive key, what checks found
// damaged.
func (e *Estate) Damage(ctx context.Context, cat plan.Catalog, resources []*config.Resource) (map[string]map[string]plan.Damage, error) {
	out := map[string]map[string]plan.Damage{}
	err := readFolders(catalogFolders(cat, resources, false), func(f storeFolder) (func(), error) {
		list, err := runner.ReadDamage(ctx, e.Stores[f.store], f.ref)
		if err != nil {
			return nil, err // the store names itself and the record
		}
		return func() {
			for _, d := range list {
				if out[f.store] == nil {
					out[f.store] = map[string]plan.Damage{}
				}
				out[f.store][f.ref.Key(d.Archive)] = d
			}
		}, nil
	})
	return out, err
}

// Nodes reads the nodes records of the folders of the catalog that hold
// archives or partials of the resources: by store, by archive key, the
// node that wrote each archive.
func (e *Estate) Nodes(ctx context.Context, cat plan.Catalog, resources []*config.Resource) (map[string]map[string]string, error) {
	out := map[string]map[string]string{}
	err := readFolders(catalogFolders(cat, resources, true), func(f storeFolder) (func(), error) {
		nodes, err := runner.ReadNodes(ctx, e.Stores[f.store], f.ref)
		if err != nil {
			return nil, err // the store names itself and the record
		}
		return func() {
			for name, node := range nodes {
				if out[f.store] == nil {
					out[f.store] = map[string]string{}
				}
				out[f.store][f.ref.Key(name)] = node
			}
		}, nil
	})
	return out, err
}
