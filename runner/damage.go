package runner

import (
	"context"
	"encoding/json"
	"log/slog"
	"slices"
	"time"

	"github.com/planb-backup/planb/plan"
	"github.com/planb-backup/planb/providers/store"
)

// DamageRecord is the record (records/<kind>/<name>/damaged.json) that
// lists the archives of a resource in a store that a check found damaged,
// so that plans can show them and leave them out.
const DamageRecord = "damaged.json"

// damageDoc is the content of a DamageRecord.
type damageDoc struct {
	Archives []plan.Damage `json:"archives"`
}

// RedactedProblem is the problem a damage record of an encrypted store
// holds: the record needs no key to read, and the problem could name
// entries.
const RedactedProblem = "damaged (details are not recorded in an encrypted store: run planb verify with its identity to see them)"

// ReadDamage returns what the damage record of a resource folder holds;
// nothing when there is none.
func ReadDamage(ctx context.Context, st store.Store, ref store.Ref) ([]plan.Damage, error) {
	var doc damageDoc
	if _, err := store.ReadJSON(ctx, st, ref, DamageRecord, &doc); err != nil {
		return nil, err
	}
	return doc.Archives, nil
}

// MarkDamaged records that archive d.Archive of ref in st was found
// damaged, replacing what was recorded of it before.
//
// In an encrypted store the record is readable without a key, so the
// problem is not recorded (it may name entries, hence schemas and files):
// RedactedProblem stands for it, and the check that found it said it.
func MarkDamaged(ctx context.Context, st store.Store, ref store.Ref, d plan.Damage) error {
	if _, ok := st.(*store.Encrypted); ok {
		d.Problem = RedactedProblem
	}
	list, err := ReadDamage(ctx, st, ref)
	if err != nil {
		return err
	}
	list = slices.DeleteFunc(list, func(o plan.Damage) bool { return o.Archive == d.Archive })
	return writeDamage(ctx, st, ref, append(list, d))
}

// ClearDamage removes what the damage record says of archive (it was
// deleted, or it verified). It reports whether there was anything.
func ClearDamage(ctx context.Context, st store.Store, ref store.Ref, archive string) (bool, error) {
	list, err := ReadDamage(ctx, st, ref)
	if err != nil {
		return false, err
	}
	n := len(list)
	list = slices.DeleteFunc(list, func(o plan.Damage) bool { return o.Archive == archive })
	if len(list) == n {
		return false, nil
	}
	return true, writeDamage(ctx, st, ref, list)
}

func writeDamage(ctx context.Context, st store.Store, ref store.Ref, list []plan.Damage) error {
	if len(list) == 0 {
		return st.DeleteRecord(ctx, ref, DamageRecord)
	}
	slices.SortFunc(list, func(a, b plan.Damage) int {
		if a.Archive < b.Archive {
			return -1
		}
		if a.Archive > b.Archive {
			return 1
		}
		return 0
	})
	data, err := json.MarshalIndent(damageDoc{Archives: list}, "", "  ")
	if err != nil {
		return err
	}
	return st.WriteRecord(ctx, ref, DamageRecord, append(data, '\n'))
}

// noteDamage records a damaged archive found by a check (by names it),
// logging a record that cannot be written: the check's own error says
// what matters.
func noteDamage(ctx context.Context, logger *slog.Logger, st store.Store, ref store.Ref, name, by string, d *DamagedError) {
	err := MarkDamaged(context.WithoutCancel(ctx), st, ref, plan.Damage{
		Archive: name, Found: time.Now().UTC().Truncate(time.Second), By: by, Problem: d.Err.Error(),
	})
	if err != nil && logger != nil {
		logger.Warn("could not record a damaged archive", "store", st.Name(), "archive", ref.Key(name), "err", err)
	}
}
