package main

import (
	"errors"
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
// in an encrypted store, see runner.MarkDamaged). Every other record
// (drill.json) is encrypted. docs/SECURITY.md lists what each holds.
var clearRecords = []string{store.RestoreRecord, runner.NodesRecord, runner.DamageRecord}

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

// keyStatus says, for a line of `planb verify`, how an archive of an
// encrypted store was stored and opened: "" in a plain store.
func keyStatus(r listedArchive) string {
	e, ok := r.st.(*store.Encrypted)
	switch {
	case !ok:
		return ""
	case !r.Encrypted:
		return " (stored plain: written before store." + r.Store + " was encrypted)"
	}
	return " (encrypted; opened with " + e.Keys().IdentityFile() + ")"
}

// noKeyDetail is what `planb list` says of an encrypted archive it cannot
// open (err says why): its manifest (node, adopted or not) is not known
// here.
func noKeyDetail(st store.Store, err error) string {
	if e, ok := st.(*store.Encrypted); ok && e.Keys().IdentityFile() == "" {
		return "contents not read: store." + st.Name() + " has no encryption.identity_file here"
	}
	return "contents not read: " + err.Error()
}

// isKeyError reports whether err is an encrypted store's refusal to open an
// archive without the right identity.
func isKeyError(err error) bool {
	return errors.Is(err, store.ErrNoIdentity) || errors.Is(err, store.ErrWrongIdentity)
}
