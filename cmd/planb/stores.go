package main

import (
	"context"
	"fmt"
	"sort"

	"github.com/planb-backup/planb/plan"
	"github.com/planb-backup/planb/plan/config"
	"github.com/planb-backup/planb/providers/store"
)

// openStores opens every configured store.
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
				return nil, fmt.Errorf("store.%s: %w", n, err)
			}
			out[n] = st
		case s.S3 != nil:
			st, err := openS3(n, s.S3, g.logger)
			if err != nil {
				return nil, fmt.Errorf("store.%s: %w", n, err)
			}
			out[n] = st
		default:
			return nil, fmt.Errorf("store.%s: neither local nor s3", n)
		}
	}
	return out, nil
}

// catalog lists every store that one of the resources uses.
func catalog(ctx context.Context, cfg *config.Config, stores map[string]store.Store, resources []*config.Resource) (plan.Catalog, error) {
	used := map[string]bool{}
	for _, r := range resources {
		for _, s := range r.Stores {
			used[s.Name] = true
		}
	}
	cat := plan.Catalog{}
	for name := range used {
		st, ok := stores[name]
		if !ok {
			return nil, fmt.Errorf("store.%s is not open", name)
		}
		archives, err := st.List(ctx)
		if err != nil {
			return nil, fmt.Errorf("list store.%s (%s): %w", name, st, err)
		}
		cat[name] = archives
	}
	return cat, nil
}
