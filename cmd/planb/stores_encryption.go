package main

import (
	"fmt"

	"github.com/planb-backup/planb/plan/config"
	"github.com/planb-backup/planb/providers/store"
	"github.com/planb-backup/planb/providers/store/crypt"
	"github.com/planb-backup/planb/runner"
)

// clearRecords are the records an encrypted store keeps unencrypted: a
// host without a key reads them to plan, and they hold archive names,
// resource addresses, node names, hosts, process ids and times, never a
// schema, table or file name (the problems of damage records are not kept
// in an encrypted store, see runner.MarkDamaged). The packs records
// ("<archive>.packs.json", runner.PacksRecordName) hold only pack ids, the
// names of the objects under packs/, so that a host without a key collects
// packs. Every other record (drill.json) is encrypted. docs/SECURITY.md
// lists what each holds.
var clearRecords = []string{store.RestoreRecord, runner.NodesRecord, runner.DamageRecord, "*" + runner.PacksRecordSuffix}

// withEncryption wraps st in a store.Encrypted when store.name has an
// encryption block. The recipients are parsed here (validate checked them
// already); the identity file is not read: only a command that decrypts
// reads it, on first use.
func (g *globals) withEncryption(name string, s *config.Store, st store.Store) (store.Store, error) {
	if s.Encryption == nil {
		return st, nil
	}
	keys, err := crypt.NewKeys(s.Encryption.Recipients, s.Encryption.IdentityFile)
	if err != nil {
		return nil, fmt.Errorf("store.%s: encryption: %w", name, err)
	}
	return store.NewEncrypted(st, keys, store.EncryptedOptions{ClearRecords: clearRecords, Logger: g.logger}), nil
}
