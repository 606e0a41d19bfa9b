package main

import (
	"fmt"
	"sort"

	"github.com/planb-backup/planb/plan/config"
	"github.com/planb-backup/planb/providers/store"
	"github.com/planb-backup/planb/runner/facts"
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

// estate returns the facts gatherer of a configuration and its opened
// stores.
func (g *globals) estate(cfg *config.Config, stores map[string]store.Store) *facts.Estate {
	return &facts.Estate{Config: cfg, Stores: stores, Logger: g.logger, DBLockTimeout: g.dbLockTimeout}
}
