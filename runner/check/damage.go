package check

import (
	"context"
	"log/slog"
	"slices"
	"time"

	"github.com/planb-backup/planb/plan"
	"github.com/planb-backup/planb/runner"
	"github.com/planb-backup/planb/runner/facts"
)

// damageMarks keeps the damage records of the folders verify checks up to
// date: a damaged archive is recorded, so that plans show it and leave it
// out; one that verifies loses its mark. Each folder's record is read once.
// A record that cannot be read or written is logged: the verdict stands.
type damageMarks struct {
	logger  *slog.Logger
	records map[string][]plan.Damage // by store and folder
}

func (m *damageMarks) key(r facts.ArchiveRow) string { return r.Store + "\x00" + r.Folder }

// mark records that r was found damaged.
func (m *damageMarks) mark(ctx context.Context, r facts.ArchiveRow, d *runner.DamagedError) {
	err := runner.MarkDamaged(ctx, r.Handle, r.Ref, plan.Damage{
		Archive: r.Archive, Found: time.Now().UTC().Truncate(time.Second), By: "verify", Problem: d.Err.Error(),
	})
	if err != nil {
		m.logger.Warn("could not record a damaged archive", "store", r.Store, "archive", r.Folder+"/"+r.Archive, "err", err)
	}
	delete(m.records, m.key(r))
}

// clear removes the damage mark of r, which verified, if it has one.
func (m *damageMarks) clear(ctx context.Context, r facts.ArchiveRow) {
	if m.records == nil {
		m.records = map[string][]plan.Damage{}
	}
	list, ok := m.records[m.key(r)]
	if !ok {
		var err error
		if list, err = runner.ReadDamage(ctx, r.Handle, r.Ref); err != nil {
			m.logger.Warn("could not read a damage record", "store", r.Store, "folder", r.Folder, "err", err)
		}
		m.records[m.key(r)] = list
	}
	if !slices.ContainsFunc(list, func(d plan.Damage) bool { return d.Archive == r.Archive }) {
		return
	}
	if _, err := runner.ClearDamage(ctx, r.Handle, r.Ref, r.Archive); err != nil {
		m.logger.Warn("could not clear a damage mark", "store", r.Store, "archive", r.Folder+"/"+r.Archive, "err", err)
	}
	delete(m.records, m.key(r))
}
