package main

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"

	"github.com/planb-backup/planb/plan"
	"github.com/planb-backup/planb/plan/config"
	"github.com/planb-backup/planb/providers/store"
	"github.com/planb-backup/planb/runner"
)

// openStores opens every configured store; one with an encryption block
// is wrapped in a store.Encrypted (see withEncryption).
func (g *globals) openStores(cfg *config.Config) (map[string]store.Store, error) {
	out := make(map[string]store.Store, len(cfg.Stores))
	names := make([]string, 0, len(cfg.Stores))
	for n := range cfg.Stores {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		s := cfg.Stores[n]
		switch {
		case s.Local != nil:
			st, err := store.NewLocal(n, s.Local.Path, g.logger)
			if err != nil {
				return nil, err
			}
			out[n] = st
		case s.S3 != nil:
			st, err := openS3(n, s.S3, g.logger)
			if err != nil {
				return nil, err
			}
			out[n] = st
		default:
			return nil, fmt.Errorf("store.%s: neither local nor s3", n)
		}
		st, err := g.withEncryption(n, s, out[n])
		if err != nil {
			return nil, err
		}
		out[n] = st
	}
	return out, nil
}

// catalog lists every store that one of the resources uses. A store that
// could not be reached (store.ErrUnreachable: an S3 endpoint that refuses
// or does not answer, a local folder that cannot be read) is left out of
// the catalog and returned in unreachable, by name, with why; any other
// error of a listing (refused credentials, a missing bucket) fails.
func catalog(ctx context.Context, cfg *config.Config, stores map[string]store.Store, resources []*config.Resource) (cat plan.Catalog, unreachable map[string]string, err error) {
	used := map[string]bool{}
	for _, r := range resources {
		for _, s := range r.Stores {
			used[s.Name] = true
		}
	}
	cat = plan.Catalog{}
	for name := range used {
		st, ok := stores[name]
		if !ok {
			return nil, nil, fmt.Errorf("store.%s is not open", name)
		}
		archives, err := st.List(ctx)
		if why := store.UnreachableReason(err); why != "" && ctx.Err() == nil {
			if unreachable == nil {
				unreachable = map[string]string{}
			}
			unreachable[name] = why
			continue
		}
		if err != nil {
			return nil, nil, err
		}
		cat[name] = archives
	}
	return cat, unreachable, nil
}

// unreachableNames returns the names of the unreachable stores, sorted.
func unreachableNames(unreachable map[string]string) []string {
	names := make([]string, 0, len(unreachable))
	for n := range unreachable {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// recordReaders bounds the records read at once: a remote store answers
// each with a request.
const recordReaders = 16

// storeFolder is the folder of one resource in one store.
type storeFolder struct {
	store string
	ref   store.Ref
}

// catalogFolders lists the folders of the catalog that hold complete
// archives of the resources, or partials too when withPartials is set.
func catalogFolders(cat plan.Catalog, resources []*config.Resource, withPartials bool) []storeFolder {
	wanted := map[store.Ref]bool{}
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

// readFolders calls read for every folder, recordReaders at a time; read
// runs under a lock shared by all calls, so it may fill one result. The
// errors of all folders are joined.
func readFolders(folders []storeFolder, read func(storeFolder) (func(), error)) error {
	var (
		mu   sync.Mutex
		errs []error
		wg   sync.WaitGroup
		sem  = make(chan struct{}, recordReaders)
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

// damageOf reads the damage records of the folders of the catalog that
// hold archives of the resources: by store, by archive key, what checks
// found damaged.
func damageOf(ctx context.Context, stores map[string]store.Store, cat plan.Catalog, resources []*config.Resource) (map[string]map[string]plan.Damage, error) {
	out := map[string]map[string]plan.Damage{}
	err := readFolders(catalogFolders(cat, resources, false), func(f storeFolder) (func(), error) {
		list, err := runner.ReadDamage(ctx, stores[f.store], f.ref)
		if err != nil {
			return nil, fmt.Errorf("read the damage record of %s in store.%s: %w", f.ref, f.store, err)
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

// nodesOf reads the nodes records of the folders of the catalog that hold
// archives or partials of the resources: by store, by archive key, the
// node that wrote each archive.
func nodesOf(ctx context.Context, stores map[string]store.Store, cat plan.Catalog, resources []*config.Resource) (map[string]map[string]string, error) {
	out := map[string]map[string]string{}
	err := readFolders(catalogFolders(cat, resources, true), func(f storeFolder) (func(), error) {
		nodes, err := runner.ReadNodes(ctx, stores[f.store], f.ref)
		if err != nil {
			return nil, fmt.Errorf("read the nodes record of %s in store.%s: %w", f.ref, f.store, err)
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
